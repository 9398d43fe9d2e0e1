"""The shapes of the MSHI facts in the lake, shared by ingestion, the status engine and reports.

Every MSHI module reads and writes these datasets through :class:`saqta.store.lake.FactsLake`
(root: ``Settings.lake_dir``). Identifiers are text (an IIN or BIN keeps its leading zeros),
months are ``date32`` values on the first day of the month, money is ``decimal128(18, 2)``.

Facts (append-only, written by ``saqta persons import`` and ``saqta payments import``):

- ``persons``: the register of persons, one row per IIN (a re-import of a changed person adds a
  newer row; readers take the row with the highest ``loaded_seq``).
- ``state_categories``: periods during which the state pays for a person (preferential
  categories), with their validity dates and the register (``source``) that reports them; per
  person and source, the periods of the highest ``loaded_seq`` are current.
- ``payments``: accepted payments, partitioned by the year and month of ``period``.
- ``payment_outflows``: money paid back (approved refunds), one row per paid refund.

Derived results (rewritten by each run, never edited in place, each run recorded in ``runs``):

- ``status``: one row per person and month, written by the status engine under
  ``<lake>/derived/status/month=YYYY-MM-01/``.
"""

from __future__ import annotations

import pyarrow as pa

MONEY = pa.decimal128(18, 2)

PAYMENT_TYPES: tuple[str, ...] = (
    "employer_deduction",
    "employee_contribution",
    "individual_entrepreneur",
    "civil_law_contract",
    "single_payment",
    "self_payer",
    "state_contribution",
)
"""The seven kinds of payment, as they appear in files and in the lake."""

STATE_CATEGORIES: tuple[str, ...] = (
    "child",
    "pensioner",
    "student",
    "disabled",
    "unemployed",
    "childcare_leave",
    "large_family_mother",
    "pregnant",
    "conscript",
    "other",
)
"""The preferential categories the state pays for (as ``saqta synth`` writes them)."""

PERSONS = pa.schema(
    [
        ("iin", pa.string()),
        ("sex", pa.string()),
        ("birth_date", pa.date32()),
        ("region", pa.string()),
        ("urban", pa.bool_()),
        ("attached_provider_id", pa.int32()),
        ("death_date", pa.date32()),
        ("loaded_seq", pa.int64()),
    ]
)

STATE_CATEGORY_PERIODS = pa.schema(
    [
        ("iin", pa.string()),
        ("category", pa.string()),
        ("valid_from", pa.date32()),
        ("valid_to", pa.date32()),  # inclusive; null = open-ended
        ("loaded_seq", pa.int64()),
        ("source", pa.string()),  # the state register; a person's periods are per source
    ]
)

PAYMENTS = pa.schema(
    [
        ("reference", pa.string()),
        ("payer_id", pa.string()),
        ("person_iin", pa.string()),
        ("payment_type", pa.string()),
        ("period", pa.date32()),
        ("amount", MONEY),
        ("payment_date", pa.date32()),
        ("source_file", pa.string()),  # SHA-256 of the imported file
        ("source_row", pa.int64()),  # 1-based data row in that file
    ]
)
PAYMENTS_PARTITION = ("year", "month")  # int16 columns derived from ``period``

PAYMENT_OUTFLOWS = pa.schema(
    [
        ("refund_id", pa.int64()),
        ("reference", pa.string()),
        ("person_iin", pa.string()),
        ("period", pa.date32()),
        ("amount", MONEY),
        ("paid_on", pa.date32()),
    ]
)

STATUS_BASES: tuple[str, ...] = (
    "state_category",  # the state pays for the person; ``category`` says which
    "contributions",  # enough paid months in the look-back window; ``payment_type`` says which
    "prepayment",  # a self-payer's 12-month prepayment (from 5 Sep 2022)
    "none",  # not entitled
    "deceased",  # died before the month
)

STATUS = pa.schema(
    [
        ("iin", pa.string()),
        ("month", pa.date32()),
        ("entitled", pa.bool_()),
        ("basis", pa.string()),  # one of STATUS_BASES
        ("category", pa.string()),  # state category, when basis = state_category
        ("payment_type", pa.string()),  # the payer type that counted, when by payments
        ("paid_months", pa.int16()),  # paid months in the look-back window
        ("last_paid_period", pa.date32()),
        ("valid_until", pa.date32()),  # last day entitled unless something changes; null = open
        # first day of the month entitled (birth, a category's start, a prepayment's day of
        # payment); null when not entitled
        ("valid_from_day", pa.date32()),
        # what would change the answer: a code of saqta.mshi.status.ChangeCode and its
        # parameters (which ones each code uses: saqta.mshi.status._wording); no words
        ("change_code", pa.int16()),
        ("change_date", pa.date32()),
        ("change_month", pa.date32()),
        ("change_count", pa.int16()),
        ("offer_months", pa.int16()),  # a prepayment of that many months would give status
        ("run_id", pa.int64()),
    ]
)
