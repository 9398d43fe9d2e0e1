"""Contributions: payments intake, the compact integer copy of payments, what was due
(obligations and late-payment penalties), and refunds.
"""

from __future__ import annotations

from saqta.mshi.contributions._obligations import (
    check_payer,
    declarations_from_synth,
    due_date,
    late_penalty,
    obligation,
    read_declarations,
)
from saqta.mshi.contributions._paid import (
    PAID_DIR,
    hashed_outflows,
    paid_files,
)
from saqta.mshi.contributions._payments import (
    import_payments,
    import_synth,
    retry_payments,
)
from saqta.mshi.contributions._refunds import (
    approve_refund,
    check_refund,
    list_refunds,
    pay_refund,
    refund_history,
    refuse_refund,
    request_refund,
)

__all__ = [
    "PAID_DIR",
    "approve_refund",
    "check_payer",
    "check_refund",
    "declarations_from_synth",
    "due_date",
    "hashed_outflows",
    "import_payments",
    "import_synth",
    "late_penalty",
    "list_refunds",
    "obligation",
    "paid_files",
    "pay_refund",
    "read_declarations",
    "refund_history",
    "refuse_refund",
    "request_refund",
    "retry_payments",
]
