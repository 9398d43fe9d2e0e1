"""The status rules as set-based SQL, one text per dialect (DuckDB over the lake, PostgreSQL 15).

Both dialects get the same statements generated from the same :class:`StatusRules`; only a few
expressions differ (:class:`Dialect`). Months are handled as consecutive integers
(``year * 12 + month - 1``) so that look-back windows are integer ranges in both databases.

The statements read four relations, named in :class:`Sources` (DuckDB: ``read_parquet`` over the
lake; PostgreSQL: tables), and build three working tables, then one SELECT per month:

1. ``st_person``: the latest row of each person (highest ``loaded_seq``);
2. ``st_paid``: one row per person and counted month, with the first payer type of that month
   (in the order of :data:`saqta.mshi.schema.PAYMENT_TYPES`). A payment counts when its type is
   in ``contribution_payment_types`` and it was not refunded: a payment is matched with its
   refunds (``payment_outflows``) on reference, person and period; duplicate rows of a refunded
   payment count once, and what is left after the refunds must be above zero. Duplicates of a
   payment that was not refunded fall into the same counted month, so they never count twice;
3. ``st_prepay``: a self-payer's prepayment: self-payer payments made on one day covering every
   one of the K months from the month of payment on, on a day the prepayment rule is in force;
4. ``st_cat``: the preferential-category periods of the latest load of each person and source
   (register).

The month SELECT gives one row per person born by the end of the month, in the columns of
:data:`saqta.mshi.schema.STATUS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from saqta.core.periods import Month
from saqta.mshi.schema import PAYMENT_TYPES
from saqta.mshi.status._rules import StatusRules
from saqta.mshi.status._wording import ChangeCode
from saqta.store.sql import sql_literal

__all__ = [
    "DUCKDB",
    "POSTGRES",
    "Dialect",
    "Sources",
    "category_columns",
    "category_key",
    "decision_sql",
    "month_sql",
    "prepayment_cte",
    "prepayment_sql",
    "setup_sql",
    "sql_date",
]


@dataclass(frozen=True)
class Dialect:
    name: str

    def month_index(self, day: str) -> str:
        if self.name == "duckdb":
            return f"(year({day}) * 12 + month({day}) - 1)"
        return f"(extract(year from {day})::int * 12 + extract(month from {day})::int - 1)"

    def idiv(self, a: str, b: int) -> str:
        return f"(({a}) // {b})" if self.name == "duckdb" else f"(({a}) / {b})"

    def month_start(self, index: str) -> str:
        return f"make_date({self.idiv(index, 12)}, ({index}) % 12 + 1, 1)"

    def month_end(self, index: str) -> str:
        start = self.month_start(index)
        if self.name == "duckdb":
            return f"last_day({start})"
        return f"(({start}) + interval '1 month' - interval '1 day')::date"

    def add_years(self, day: str, years: int) -> str:
        return f"CAST({day} + INTERVAL '{years} years' AS DATE)"

    def latest_person(self, persons: str, where: str) -> str:
        if self.name == "duckdb":
            return (
                "SELECT iin, arg_max(birth_date, loaded_seq) AS birth_date, "
                "arg_max_null(death_date, loaded_seq) AS death_date "
                f"FROM {persons} {where} GROUP BY iin"
            )
        return (
            "SELECT DISTINCT ON (iin) iin, birth_date, death_date "
            f"FROM {persons} {where} ORDER BY iin, loaded_seq DESC"
        )


DUCKDB = Dialect("duckdb")
POSTGRES = Dialect("postgresql")


@dataclass(frozen=True)
class Sources:
    """The relations the statements read (a table name or a ``read_parquet(...)`` call), and
    the table of selected IINs for an incremental run (``None``: everyone)."""

    persons: str
    categories: str | None
    payments: str | None
    outflows: str | None
    selected: str | None = None


_text = sql_literal


def sql_date(day: dt.date) -> str:
    """A date as a SQL literal (both dialects)."""
    return f"DATE '{day.isoformat()}'"


def _in_list(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(_text(v) for v in values)


def _type_rank(column: str) -> str:
    cases = " ".join(f"WHEN {_text(t)} THEN {i}" for i, t in enumerate(PAYMENT_TYPES))
    return f"CASE {column} {cases} END"


def _type_name(rank: str) -> str:
    cases = " ".join(f"WHEN {i} THEN {_text(t)}" for i, t in enumerate(PAYMENT_TYPES))
    return f"CASE {rank} {cases} END"


def _selected(sources: Sources, column: str) -> str:
    if sources.selected is None:
        return ""
    return f"{column} IN (SELECT iin FROM {sources.selected})"


def _where(*conditions: str) -> str:
    kept = [c for c in conditions if c]
    return f"WHERE {' AND '.join(kept)}" if kept else ""


@dataclass(frozen=True)
class Span:
    """The months computed together with one set of rules, and the counted months they need."""

    first: Month
    last: Month
    rules: StatusRules

    @property
    def paid_from(self) -> int:
        r = self.rules
        return self.first.index - max(r.lookback_months - 1, r.survival_months)

    @property
    def paid_to(self) -> int:
        return self.last.index

    @property
    def period_range(self) -> tuple[int | None, int]:
        """The payment periods to read (month indices; ``None``: from the beginning)."""
        k = self.rules.max_prepayment_months
        low = self.paid_from if self.rules.count_from == "period" else None
        if k and low is not None:
            low = min(low, self.prepaid_from)
        return low, self.last.index + k

    @property
    def prepaid_from(self) -> int:
        """The first month of payment of a prepayment that can cover a month of the span (its
        K months start with the month of payment or the next one)."""
        return self.first.index - self.rules.max_prepayment_months


def _counted(
    d: Dialect, sources: Sources, types: list[str], periods: tuple[int | None, int]
) -> str:
    """Counted payments: (iin, payment_type, period, payment_date), refunds taken off."""
    assert sources.payments is not None
    low, high = periods
    period = d.month_index("p.period")
    in_range = [f"{period} <= {high}"] + ([f"{period} >= {low}"] if low is not None else [])
    where = _where(
        f"p.payment_type IN ({_in_list(types)})", *in_range, _selected(sources, "p.person_iin")
    )
    if sources.outflows is None:
        return (
            "SELECT p.person_iin AS iin, p.payment_type, p.period, p.payment_date "
            f"FROM {sources.payments} p {where}"
        )
    return f"""
    WITH refund AS (
        SELECT reference, person_iin, period, sum(amount) AS refunded
        FROM {sources.outflows} GROUP BY reference, person_iin, period
    ),
    pay AS (
        SELECT p.reference, p.person_iin AS iin, p.payment_type, p.period, p.amount,
               p.payment_date, r.refunded
        FROM {sources.payments} p
        LEFT JOIN refund r
          ON r.reference = p.reference AND r.person_iin = p.person_iin AND r.period = p.period
        {where}
    )
    SELECT iin, payment_type, period, payment_date FROM pay WHERE refunded IS NULL
    UNION ALL
    SELECT iin, payment_type, period, min(payment_date) AS payment_date
    FROM (
        SELECT DISTINCT reference, iin, payment_type, period, amount, payment_date, refunded
        FROM pay WHERE refunded IS NOT NULL
    ) once
    GROUP BY reference, iin, payment_type, period, refunded
    HAVING sum(amount) > refunded
    """


def prepayment_sql(d: Dialect, span: Span, counted: str, *, paid_on: str, period: str) -> str:
    """``st_prepay`` (``iin``, ``start_m``, ``first_m``, ``end_m``, ``payment_date``): a
    self-payer's counted payments (``counted``, aliased ``c``: ``iin``, the day ``paid_on`` and
    the month ``period`` of ``c``) made on one day in force of the prepayment rule, covering
    every one of its K consecutive months from the month of payment on or from the next month
    on (contributions paid ahead; ``first_m`` is the first prepaid month). Status runs from the
    day of payment (``start_m`` is the month of payment) through the last prepaid month
    (``end_m``)."""
    r = span.rules
    values = ", ".join(
        f"({sql_date(p.valid_from)}, {sql_date(p.valid_to)}, {p.months})" for p in r.prepayments
    )
    paid_m = d.month_index(f"c.{paid_on}")
    return f"""CREATE TEMP TABLE st_prepay AS
        SELECT iin, m0 AS start_m, min(m0 + s) AS first_m, max(m0 + s + k - 1) AS end_m,
               {paid_on} AS payment_date
        FROM (
            SELECT c.iin, c.{paid_on}, rule.k, ahead.s, {paid_m} AS m0,
                   count(DISTINCT {period}) AS n
            FROM ({counted}) c
            JOIN (VALUES {values}) AS rule (valid_from, valid_to, k)
              ON c.{paid_on} >= rule.valid_from AND c.{paid_on} <= rule.valid_to
            CROSS JOIN (VALUES (0), (1)) AS ahead (s)
            WHERE {period} BETWEEN {paid_m} + ahead.s AND {paid_m} + ahead.s + rule.k - 1
              AND {paid_m} BETWEEN {span.prepaid_from} AND {span.last.index}
            GROUP BY c.iin, c.{paid_on}, rule.k, ahead.s, {paid_m}
        ) g
        WHERE n >= k
        GROUP BY iin, m0, {paid_on}"""


def setup_sql(d: Dialect, sources: Sources, span: Span) -> list[str]:
    """The statements that build the working tables for ``span`` (dropping older ones)."""
    r = span.rules
    statements = [
        f"DROP TABLE IF EXISTS {t}" for t in ("st_person", "st_paid", "st_prepay", "st_cat")
    ]
    statements.append(
        "CREATE TEMP TABLE st_person AS SELECT iin, birth_date, death_date, "
        f"{d.month_index('birth_date')} AS birth_m, {d.month_index('death_date')} AS death_m "
        f"FROM ({d.latest_person(sources.persons, _where(_selected(sources, 'iin')))}) latest"
    )
    # counted months
    if sources.payments is None:
        statements.append(
            "CREATE TEMP TABLE st_paid AS SELECT CAST(NULL AS VARCHAR) AS iin, "
            "CAST(NULL AS INTEGER) AS pm, CAST(NULL AS INTEGER) AS type_rank WHERE 1 = 0"
        )
    else:
        effective = d.month_index("period")
        if r.count_from == "receipt":
            effective = f"greatest({effective}, {d.month_index('payment_date')})"
        counted = _counted(d, sources, list(r.payment_types), span.period_range)
        statements.append(
            f"""CREATE TEMP TABLE st_paid AS
            SELECT iin, pm, min(type_rank) AS type_rank FROM (
                SELECT iin, {effective} AS pm, {_type_rank("payment_type")} AS type_rank
                FROM ({counted}) c
            ) e
            WHERE pm BETWEEN {span.paid_from} AND {span.paid_to}
            GROUP BY iin, pm"""
        )
    # prepayments
    if sources.payments is None or not r.prepayments:
        statements.append(
            "CREATE TEMP TABLE st_prepay AS SELECT CAST(NULL AS VARCHAR) AS iin, "
            "CAST(NULL AS INTEGER) AS start_m, CAST(NULL AS INTEGER) AS first_m, "
            "CAST(NULL AS INTEGER) AS end_m, "
            "CAST(NULL AS DATE) AS payment_date WHERE 1 = 0"
        )
    else:
        counted = _counted(d, sources, ["self_payer"], (span.prepaid_from, span.period_range[1]))
        statements.append(
            prepayment_sql(
                d, span, counted, paid_on="payment_date", period=d.month_index("c.period")
            )
        )
    # categories of the latest load of each person, overlapping the span
    if sources.categories is None:
        statements.append(
            "CREATE TEMP TABLE st_cat AS SELECT CAST(NULL AS VARCHAR) AS iin, "
            "CAST(NULL AS VARCHAR) AS category, CAST(NULL AS DATE) AS valid_from, "
            "CAST(NULL AS DATE) AS valid_to WHERE 1 = 0"
        )
    else:
        statements.append(
            f"""CREATE TEMP TABLE st_cat AS
            SELECT iin, category, valid_from, valid_to FROM (
                SELECT iin, category, valid_from, valid_to, loaded_seq,
                       max(loaded_seq) OVER (PARTITION BY iin, source) AS latest
                FROM {sources.categories}
                {_where(_selected(sources, "iin"))}
            ) c
            WHERE loaded_seq = latest
              AND valid_from <= {sql_date(span.last.last_day)}
              AND (valid_to IS NULL OR valid_to >= {sql_date(span.first.first_day)})"""
        )
    return statements


def category_key(month: Month) -> str:
    """Per person (``key``), the category of ``st_cat`` that lasts longest in ``month``, as
    ``'<valid_to or 9999-12-31>|<category>'`` (the greatest such text), and the earliest start
    of the categories that cover a day of the month (``cat_from``)."""
    open_end = sql_date(dt.date(9999, 12, 31))
    first_day, last_day = sql_date(month.first_day), sql_date(month.last_day)
    return f"""SELECT iin,
               max(CAST(coalesce(valid_to, {open_end}) AS VARCHAR) || '|' || category) AS k,
               min(valid_from) AS cat_from
        FROM st_cat
        WHERE valid_from <= {last_day} AND (valid_to IS NULL OR valid_to >= {first_day})
        GROUP BY iin"""


def category_columns(key: str) -> str:
    """``category``, ``category_to`` and ``by_category`` from a :func:`category_key` value."""
    return (
        f"substr({key}, 12) AS category, "
        f"CASE WHEN {key} IS NULL OR substr({key}, 1, 10) = '9999-12-31' THEN NULL "
        f"ELSE CAST(substr({key}, 1, 10) AS DATE) END AS category_to, "
        f"{key} IS NOT NULL AS by_category"
    )


def _numbers(month: Month, r: StatusRules) -> tuple[int, int, int, int, int, int]:
    """The month's index, the paid months needed, the look-back, the survival, the last counted
    month and the first month of the window."""
    m = month.index
    return (
        m,
        r.min_paid_months,
        r.lookback_months,
        r.survival_months,
        m - r.lag,
        m - r.lookback_months + 1,
    )


def prepayment_cte(month: Month, rules: StatusRules) -> str:
    """The CTE ``pre`` (``iin``, ``end_m``, ``paid_on``, ``status_to``) from ``st_prepay``: per
    person, the last prepaid month of the prepayments covering ``month``, the first day of
    payment, and the last month of status they give. After the prepaid months, status goes on
    only as the contributions rule gives it on the prepaid months: when self-payer payments
    count toward contributions and the prepayment holds at least the paid months needed, up to
    the survival and the window."""
    r = rules
    m, n, w, g, _, _ = _numbers(month, r)
    after = max(0, min(g, w - n)) if "self_payer" in r.payment_types else 0
    return f"""pre AS (
        SELECT iin, max(end_m) AS end_m, min(payment_date) AS paid_on,
               max(CASE WHEN end_m - first_m + 1 >= {n} THEN end_m + {after} ELSE end_m END)
                   AS status_to
        FROM st_prepay
        WHERE {m} BETWEEN start_m AND end_m GROUP BY iin
    )"""


def month_sql(d: Dialect, month: Month, rules: StatusRules, run_id: int) -> str:
    """The status of every person born by the end of ``month``, from the working tables."""
    r = rules
    m, n, _, g, counts_to, window_from = _numbers(month, r)
    if n == 1:
        nth = f"max(pm) FILTER (WHERE pm <= {m})"
    elif d.name == "duckdb":
        nth = f"list_sort(list(pm) FILTER (WHERE pm <= {m}), 'DESC')[{n}]"
    else:
        nth = f"(array_agg(pm ORDER BY pm DESC) FILTER (WHERE pm <= {m}))[{n}]"
    base = f"""
    cat AS ({category_key(month)}),
    pay AS (
        SELECT iin,
               count(*) FILTER (WHERE pm BETWEEN {window_from} AND {counts_to}) AS paid_months,
               max(pm) FILTER (WHERE pm <= {m}) AS last_paid,
               max(pm * 8 + 7 - type_rank) FILTER (WHERE pm <= {counts_to}) AS last_key,
               {nth} AS nth_paid
        FROM st_paid
        WHERE pm BETWEEN {min(window_from, m - g)} AND {m}
        GROUP BY iin
    ),
    {prepayment_cte(month, r)},
    base AS (
        SELECT p.iin, p.birth_date, p.death_date,
               (p.death_m IS NOT NULL AND p.death_m < {m}) AS dead,
               {category_columns("c.k")},
               c.cat_from,
               e.paid_on AS prepaid_on,
               coalesce(a.paid_months, 0) AS paid_months,
               a.last_paid,
               {d.idiv("a.last_key", 8)} AS last_counted,
               7 - a.last_key % 8 AS type_rank,
               a.nth_paid,
               e.end_m AS prepaid_to,
               e.status_to AS prepaid_status_to,
               e.end_m IS NOT NULL AS by_prepayment
        FROM st_person p
        LEFT JOIN cat c ON c.iin = p.iin
        LEFT JOIN pay a ON a.iin = p.iin
        LEFT JOIN pre e ON e.iin = p.iin
        WHERE p.birth_m <= {m}
    )"""
    return decision_sql(d, month, r, run_id, base)


def decision_sql(d: Dialect, month: Month, rules: StatusRules, run_id: int, base: str) -> str:
    """The month's rows from ``base``: the CTEs (without ``WITH``) that end with one named
    ``base`` of one row per person born by the end of the month, with the columns ``iin``,
    ``birth_date``, ``death_date``, ``dead``, ``category``, ``category_to``, ``by_category``,
    ``cat_from``, ``paid_months``, ``last_paid``, ``last_counted``, ``type_rank``, ``nth_paid``,
    ``prepaid_to``, ``prepaid_status_to`` (:func:`prepayment_cte`), ``prepaid_on`` and
    ``by_prepayment`` (months as integers).

    No words: what would change the answer is a :class:`ChangeCode` with its parameters
    (``change_date``, ``change_month``, ``change_count``, ``offer_months``), rendered per locale
    by :mod:`saqta.mshi.status._wording`. ``valid_from_day`` is the first day of the month on
    which the person is entitled: not before birth, nor before the earliest basis that applies
    starts (a category's ``valid_from``, a prepayment's day of payment; contributions hold from
    the first day)."""
    r = rules
    m, n, w, g, counts_to, window_from = _numbers(month, r)
    first_day = sql_date(month.first_day)
    prepay_rule = r.prepayment_on(month.last_day)
    offer = str(prepay_rule.months) if prepay_rule is not None else "NULL"
    restore_month = d.month_start(str(counts_to))
    need = f"greatest({n} - paid_months, 1)"
    c = ChangeCode
    return f"""
    WITH {base},
    judged AS (
        SELECT *,
               coalesce(paid_months >= {n} AND last_counted >= {m - g}, FALSE) AS by_contributions,
               least(last_paid + {g}, nth_paid + {w - 1}) AS contributions_to
        FROM base
    ),
    decided AS (
        SELECT *,
               CASE WHEN dead THEN 'deceased'
                    WHEN by_category THEN 'state_category'
                    WHEN by_prepayment THEN 'prepayment'
                    WHEN by_contributions THEN 'contributions'
                    ELSE 'none' END AS basis,
               NOT dead AND (by_category OR by_prepayment OR by_contributions) AS entitled,
               CASE WHEN by_category AND category_to IS NULL THEN NULL
                    ELSE greatest(
                        CASE WHEN by_category THEN category_to END,
                        CASE WHEN by_prepayment THEN {d.month_end("prepaid_status_to")} END,
                        CASE WHEN by_contributions THEN {d.month_end("contributions_to")} END)
               END AS entitled_to
        FROM judged
    ),
    coded AS (
        SELECT *,
               CASE
                 WHEN basis = 'deceased' THEN {c.DIED}
                 WHEN death_date IS NOT NULL AND entitled THEN {c.UNTIL_DEATH}
                 WHEN basis = 'state_category' AND category_to IS NULL THEN {c.CATEGORY_OPEN}
                 WHEN basis = 'state_category' AND category = 'child'
                      AND {d.add_years("birth_date", 18)} = category_to + 1 THEN {c.CHILD_18}
                 WHEN basis = 'state_category' THEN {c.CATEGORY_ENDS}
                 WHEN basis = 'prepayment' THEN {c.PREPAID}
                 WHEN basis = 'contributions' THEN {c.CONTRIBUTIONS}
                 WHEN {need} = 1 THEN {c.RESTORE_ONE}
                 ELSE {c.RESTORE_MANY}
               END AS code
        FROM decided
    )
    SELECT iin,
           {first_day} AS month,
           entitled,
           basis,
           CASE WHEN basis = 'state_category' THEN category END AS category,
           CASE WHEN basis = 'contributions' THEN {_type_name("type_rank")}
                WHEN basis = 'prepayment' THEN 'self_payer' END AS payment_type,
           CAST(paid_months AS SMALLINT) AS paid_months,
           CASE WHEN last_paid IS NOT NULL THEN {d.month_start("last_paid")} END
               AS last_paid_period,
           CASE WHEN NOT entitled THEN NULL
                WHEN death_date IS NOT NULL
                    THEN least(coalesce(entitled_to, death_date), death_date)
                ELSE entitled_to END AS valid_until,
           CASE WHEN entitled THEN greatest(
                    {first_day}, birth_date,
                    least(CASE WHEN by_category THEN cat_from END,
                          CASE WHEN by_prepayment THEN prepaid_on END,
                          CASE WHEN by_contributions THEN {first_day} END))
           END AS valid_from_day,
           CAST(code AS SMALLINT) AS change_code,
           CASE code
             WHEN {c.DIED} THEN death_date
             WHEN {c.UNTIL_DEATH} THEN death_date
             WHEN {c.CHILD_18} THEN category_to + 1
             WHEN {c.CATEGORY_ENDS} THEN category_to
             WHEN {c.PREPAID} THEN entitled_to
             WHEN {c.CONTRIBUTIONS} THEN entitled_to
             WHEN {c.RESTORE_MANY} THEN {sql_date(Month.from_index(window_from).first_day)}
           END AS change_date,
           CASE code
             WHEN {c.PREPAID} THEN {d.month_start("prepaid_to")}
             WHEN {c.CONTRIBUTIONS} THEN {d.month_start("last_paid + 1")}
             WHEN {c.RESTORE_ONE} THEN {restore_month}
             WHEN {c.RESTORE_MANY} THEN {restore_month}
           END AS change_month,
           CAST(CASE WHEN code = {c.RESTORE_MANY} THEN {need} END AS SMALLINT) AS change_count,
           CAST(CASE WHEN code IN ({c.RESTORE_ONE}, {c.RESTORE_MANY}) THEN {offer} END
                AS SMALLINT) AS offer_months,
           CAST({run_id} AS BIGINT) AS run_id
    FROM coded
    """
