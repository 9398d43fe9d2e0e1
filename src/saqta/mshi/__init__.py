"""The Social Health Insurance Fund (МӘМС / MSHI): one sub-package per area of the Fund.

- :mod:`.intake`: the discipline every import follows (one file one transaction, quarantine);
- :mod:`.registry`: the register of persons and state-paid category periods;
- :mod:`.contributions`: payments, what was due, penalties, refunds;
- :mod:`.status`: insured status of every person and month, and why;
- :mod:`.eligibility`: the eligibility index and its answers;
- :mod:`.reports`: the Fund's coverage, collections and payment-frequency reports.

:mod:`.schema` (the lake's datasets) and :mod:`.models` (the system-of-record tables) are shared
by the areas. Each area imports only from the areas listed above it (``lint-imports``).
"""
