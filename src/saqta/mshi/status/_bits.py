"""The status rules in DuckDB over the lake, with each person's counted months as the bits of an
integer.

The rules are those of :mod:`saqta.mshi.status._sql` (the reference formulation, which PostgreSQL
runs); this is the same computation arranged for one pass over the payments per span of months:

1. the compact payments (`contributions._paid`: integer person, month and type) of the
   periods the span looks at are read once. Refunds are matched on (reference hash, person,
   period); a payment whose refunds leave nothing of it (duplicate rows counted once) is dropped;
2. every person's counted months become bit ``pm - base`` of a 64-bit integer, one per payment
   type that counts (``bit_or``), ``base`` being the first month the span looks at. A span covers
   at most :data:`MAX_BITS` months from ``base``; longer spans are cut into several;
3. each month of the span is then a projection over one row per person: the paid months of the
   look-back window are ``bit_count(mask & window)``, the last paid month is the highest bit of
   ``mask & months-up-to-m``, the n-th last one is the highest bit after clearing the n-1 above it,
   and the type of the last counted month is the first type whose integer has that bit.

The month's columns then go through the same decision and wording as the reference
(:func:`._sql.decision_sql`), so the two give identical rows; the tests compare them
on random persons, payments, refunds and rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from saqta.core.periods import Month
from saqta.mshi.schema import PAYMENT_TYPES
from saqta.mshi.status._rules import StatusRules
from saqta.mshi.status._sql import (
    DUCKDB,
    Span,
    category_columns,
    decision_sql,
    prepayment_cte,
    prepayment_sql,
    sql_date,
)

__all__ = ["MAX_BITS", "BitSources", "bit_spans", "month_bits_sql", "setup_bits_sql"]

MAX_BITS = 62
"""Months one span's integers hold (bits 0 to 61: every mask is a non-negative BIGINT)."""

_ONE = "CAST(1 AS BIGINT)"


@dataclass(frozen=True)
class BitSources:
    """What the statements read: the register and the category periods (``read_parquet`` or a
    table, text IINs), the compact payments (``read_parquet`` of the derived files), the refunds
    keyed as they are (a table of ``ref_hash``, ``iin``, ``pm``, ``amount``), and for an
    incremental run the tables of the selected IINs as text (``selected``) and as numbers
    (``selected_keys``), each with one column ``iin``."""

    persons: str
    categories: str | None
    paid: str | None
    refunds: str | None
    selected: str | None = None
    selected_keys: str | None = None


def _reach(rules: StatusRules) -> int:
    """Months before a computed month that its status looks at."""
    return max(rules.lookback_months - 1, rules.survival_months)


def bit_spans(span: Span) -> list[Span] | None:
    """``span`` cut into spans whose months fit :data:`MAX_BITS` bits; None when even one month
    does not (a look-back or survival of 62 months or more: the reference SQL computes those)."""
    most = MAX_BITS - _reach(span.rules)
    if most < 1:
        return None
    result = []
    first = span.first.index
    while first <= span.last.index:
        last = min(first + most - 1, span.last.index)
        result.append(Span(Month.from_index(first), Month.from_index(last), span.rules))
        first = last + 1
    return result


def _bits(low: int, high: int) -> int:
    """The integer with bits ``low`` to ``high`` set (0 when the range is empty)."""
    if high < low:
        return 0
    assert low >= 0 and high < MAX_BITS
    return (1 << (high + 1)) - (1 << low)


def _top(x: str) -> str:
    """The position of the highest set bit of the column ``x`` (> 0 and below 2**62): the
    logarithm gives it within one, and the two comparisons make it exact."""
    v = f"greatest({x}, 1)"
    h = f"CAST(floor(log2(CAST({v} AS DOUBLE))) AS INTEGER)"
    return (
        f"({h} - CASE WHEN ({_ONE} << {h}) > {v} THEN 1 ELSE 0 END "
        f"+ CASE WHEN ({_ONE} << least({h} + 1, {MAX_BITS})) <= {v} THEN 1 ELSE 0 END)"
    )


def _ranks(rules: StatusRules) -> list[int]:
    return sorted(PAYMENT_TYPES.index(t) for t in rules.payment_types)


def _in_ints(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True)
class _Packing:
    """Where each counted type's months sit: types ``ranks[i]`` in column ``p{i // per}`` from
    bit ``width * (i % per)``, ``width`` bits each."""

    ranks: tuple[int, ...]
    width: int

    @property
    def per(self) -> int:
        return max(MAX_BITS // self.width, 1)

    def place(self, rank: int) -> tuple[int, int]:
        """(column, first bit) of a type."""
        i = self.ranks.index(rank)
        return i // self.per, self.width * (i % self.per)

    @property
    def columns(self) -> list[str]:
        return [f"p{j}" for j in range((len(self.ranks) + self.per - 1) // self.per)]


def _packing(span: Span) -> _Packing:
    return _Packing(tuple(_ranks(span.rules)), span.last.index - span.paid_from + 1)


def setup_bits_sql(sources: BitSources, span: Span, *, one_load: bool = False) -> list[str]:
    """The statements that build the working tables of ``span``: ``st_all`` (one row per person:
    the register's columns, the months paid in bits, the category periods) and ``st_prepay``.

    ``one_load``: every register row comes from one load, so each IIN has one row and the
    latest row need not be looked for."""
    r = span.rules
    d = DUCKDB
    base = span.paid_from
    top = span.last.index
    assert top - base < MAX_BITS, "cut the span with bit_spans first"
    tables = ("person", "refund", "touched", "refund_group", "mask", "mask_touched", "prepay")
    statements = [f"DROP TABLE IF EXISTS st_{t}" for t in (*tables, "cat", "all")]
    where_person = f"WHERE iin IN (SELECT iin FROM {sources.selected})" if sources.selected else ""
    latest = (
        f"SELECT iin, birth_date, death_date FROM {sources.persons} {where_person}"
        if one_load
        else d.latest_person(sources.persons, where_person)
    )
    statements.append(
        "CREATE TEMP TABLE st_person AS SELECT iin AS iin_text, CAST(iin AS BIGINT) AS iin, "
        f"birth_date, death_date, {d.month_index('birth_date')} AS birth_m, "
        f"{d.month_index('death_date')} AS death_m FROM ({latest}) latest"
    )
    packing = _packing(span)
    ranks = list(packing.ranks)
    self_payer = PAYMENT_TYPES.index("self_payer")
    low, high = span.period_range
    prepay_low = span.prepaid_from
    wanted = sorted(set(ranks) | ({self_payer} if r.prepayments else set()))
    keys = (
        f" AND d.iin IN (SELECT iin FROM {sources.selected_keys})" if sources.selected_keys else ""
    )
    refunds = sources.paid is not None and sources.refunds is not None

    def rows(kinds: list[int], periods: tuple[int | None, int], source: str) -> str:
        """The compact rows of ``kinds`` in ``periods`` from ``source`` (``paid``: every person,
        refunds not looked at; ``touched``: the persons with refunds, and ``refunded``: every
        person, both without the payments refunded in full)."""
        lo, hi = periods
        where = [
            f"d.type_rank BETWEEN {min(kinds)} AND {max(kinds)}",
            f"d.type_rank IN ({_in_ints(kinds)})",
            f"d.pm <= {hi}",
        ]
        if lo is not None:
            where.append(f"d.pm >= {lo}")
        join, paid_on = "", "d.paid_on"
        if source != "paid" and refunds:
            join = (
                "LEFT JOIN st_refund_group g ON g.ref_hash = d.ref_hash AND g.iin = d.iin "
                "AND g.pm = d.pm AND g.type_rank = d.type_rank"
            )
            where.append("(g.counts IS NULL OR g.counts)")
            paid_on = "coalesce(g.paid_on, d.paid_on)"
        table = "st_touched" if source == "touched" else sources.paid
        return (
            f"SELECT d.iin, d.pm, d.type_rank, {paid_on} AS paid_on FROM {table} d {join} "
            f"WHERE {' AND '.join(where)}{keys}"
        )

    if refunds:
        statements.append(
            "CREATE TEMP TABLE st_refund AS SELECT ref_hash, iin, pm, sum(amount) AS refunded "
            f"FROM {sources.refunds} GROUP BY ref_hash, iin, pm"
        )
        # every payment of the persons with refunds (few): their months are computed apart
        bounds = [f"d.pm <= {high}"] + ([f"d.pm >= {low}"] if low is not None else [])
        statements.append(
            "CREATE TEMP TABLE st_touched AS SELECT d.* FROM "
            f"{sources.paid} d WHERE d.type_rank IN ({_in_ints(wanted)}) AND "
            f"{' AND '.join(bounds)} AND d.iin IN (SELECT iin FROM st_refund){keys}"
        )
        # a refunded payment counts when its distinct rows add up to more than its refunds
        statements.append(
            """CREATE TEMP TABLE st_refund_group AS
            SELECT ref_hash, iin, pm, type_rank, sum(amount) > max(refunded) AS counts,
                   min(paid_on) AS paid_on
            FROM (
                SELECT DISTINCT d.ref_hash, d.iin, d.pm, d.type_rank, d.amount, d.paid_on,
                       r.refunded
                FROM st_touched d
                JOIN st_refund r ON r.ref_hash = d.ref_hash AND r.iin = d.iin AND r.pm = d.pm
            ) once
            GROUP BY ref_hash, iin, pm, type_rank"""
        )
    # the months: bit (counted month - base), all types in ``mask``, each type in its place
    packed = []
    for j, column in enumerate(packing.columns):
        members = [k for k in ranks if packing.place(k)[0] == j]
        shifts = " ".join(f"WHEN {k} THEN {packing.place(k)[1]}" for k in members)
        packed.append(
            f"bit_or(CASE WHEN type_rank IN ({_in_ints(members)}) "
            f"THEN {_ONE} << (b + CASE type_rank {shifts} END) ELSE 0 END) AS {column}"
        )
    effective = "pm"
    if r.count_from == "receipt":
        effective = f"greatest(pm, {d.month_index('paid_on')})"
    empty = ", ".join(f"CAST(0 AS BIGINT) AS {c}" for c in ["mask", *packing.columns])

    no_masks = f"SELECT CAST(NULL AS BIGINT) AS iin, {empty} WHERE 1 = 0"

    def masks(source: str) -> str:
        if sources.paid is None:
            return no_masks
        return f"""SELECT iin, bit_or({_ONE} << b) AS mask, {", ".join(packed)} FROM (
                SELECT iin, type_rank, e - {base} AS b FROM (
                    SELECT iin, type_rank, {effective} AS e
                    FROM ({rows(ranks, (low, high), source)}) c
                ) e
                WHERE e BETWEEN {base} AND {top}
            ) b
            GROUP BY iin"""

    statements.append(f"CREATE TEMP TABLE st_mask AS {masks('paid')}")
    columns = ["mask", *packing.columns]
    if refunds:
        statements.append(
            f"""CREATE TEMP TABLE st_mask_touched AS
            SELECT t.iin, {", ".join(f"coalesce(a.{c}, 0) AS {c}" for c in columns)}
            FROM (SELECT DISTINCT iin FROM st_refund) t
            LEFT JOIN ({masks("touched")}) a ON a.iin = t.iin"""
        )
    else:
        statements.append(f"CREATE TEMP TABLE st_mask_touched AS {no_masks}")
    # prepayments: self-payer payments of one day covering each of the K months from that month
    if sources.paid is None or not r.prepayments:
        statements.append(
            "CREATE TEMP TABLE st_prepay AS SELECT CAST(NULL AS BIGINT) AS iin, "
            "CAST(NULL AS INTEGER) AS start_m, CAST(NULL AS INTEGER) AS first_m, "
            "CAST(NULL AS INTEGER) AS end_m, "
            "CAST(NULL AS DATE) AS payment_date WHERE 1 = 0"
        )
    else:
        counted = rows([self_payer], (prepay_low, high), "refunded")
        statements.append(prepayment_sql(d, span, counted, paid_on="paid_on", period="c.pm"))
    # category periods of each person's latest load that overlap the span, as month ranges
    if sources.categories is None:
        statements.append(
            "CREATE TEMP TABLE st_cat AS SELECT CAST(NULL AS BIGINT) AS iin, "
            "CAST(NULL AS INTEGER) AS f, CAST(NULL AS INTEGER) AS t, "
            "CAST(NULL AS VARCHAR) AS k, CAST(NULL AS DATE) AS d WHERE 1 = 0"
        )
    else:
        statements.append(
            f"""CREATE TEMP TABLE st_cat AS
            SELECT CAST(iin AS BIGINT) AS iin, {d.month_index("valid_from")} AS f,
                   coalesce({d.month_index("valid_to")}, {1 << 30}) AS t,
                   CAST(coalesce(valid_to, DATE '9999-12-31') AS VARCHAR) || '|' || category AS k,
                   valid_from AS d
            FROM (
                SELECT iin, category, valid_from, valid_to, loaded_seq,
                       max(loaded_seq) OVER (PARTITION BY iin, source) AS latest
                FROM {sources.categories} {where_person}
            ) c
            WHERE loaded_seq = latest
              AND valid_from <= {sql_date(span.last.last_day)}
              AND (valid_to IS NULL OR valid_to >= {sql_date(span.first.first_day)})"""
        )

    def pick(column: str) -> str:
        return (
            f"CASE WHEN u.iin IS NOT NULL THEN u.{column} ELSE coalesce(k.{column}, 0) END "
            f"AS {column}"
        )

    statements.append(
        f"""CREATE TEMP TABLE st_all AS
        SELECT p.iin_text, p.iin, p.birth_date, p.death_date, p.birth_m, p.death_m,
               {", ".join(pick(c) for c in columns)},
               c.cats[1].f AS f1, c.cats[1].t AS t1, c.cats[1].k AS k1, c.cats[1].d AS d1,
               CASE WHEN len(c.cats) > 1 THEN c.cats END AS more
        FROM st_person p
        LEFT JOIN st_mask k ON k.iin = p.iin
        LEFT JOIN st_mask_touched u ON u.iin = p.iin
        LEFT JOIN (
            SELECT iin, list(struct_pack(f := f, t := t, k := k, d := d)) AS cats
            FROM st_cat GROUP BY iin
        ) c ON c.iin = p.iin"""
    )
    statements += [f"DROP TABLE IF EXISTS st_{t}" for t in tables if t != "prepay"]
    statements.append("DROP TABLE IF EXISTS st_cat")
    return statements


def month_bits_sql(month: Month, span: Span, run_id: int) -> str:
    """The status of every person born by the end of ``month`` (a month of ``span``), from the
    working tables of :func:`setup_bits_sql`."""
    r = span.rules
    base = span.paid_from
    m = month.index
    n = r.min_paid_months
    counts_to = m - r.lag
    window_from = m - r.lookback_months + 1
    low = min(window_from, m - r.survival_months)
    seen = _bits(low - base, m - base)  # the months looked at, up to this one
    counted = _bits(low - base, counts_to - base)  # ... up to the last counted one
    window = _bits(window_from - base, counts_to - base)
    packing = _packing(span)
    type_rank = " ".join(
        f"WHEN (p{column} >> ({shift} + top_c)) & 1 = 1 THEN {k}"
        for k in packing.ranks
        for column, shift in [packing.place(k)]
    )
    in_month = f"f1 <= {m} AND t1 >= {m}"
    # the n-th highest bit: clear the highest bit n - 1 times
    steps = []
    for i in range(1, n):
        steps.append(
            f"""b{i} AS (
        SELECT *, CASE WHEN r{i - 1} = 0 THEN 0
                       ELSE r{i - 1} - ({_ONE} << {_top(f"r{i - 1}")}) END AS r{i}
        FROM b{i - 1}
    )"""
        )
    chain = ",\n    ".join(steps)
    ctes = f"""
    {prepayment_cte(month, r)},
    b0 AS (
        SELECT a.iin_text, a.birth_date, a.death_date, a.death_m, {", ".join(packing.columns)},
               CASE WHEN more IS NULL THEN CASE WHEN {in_month} THEN k1 END
                    ELSE list_max(list_transform(
                        list_filter(more, lambda c: c.f <= {m} AND c.t >= {m}), lambda c: c.k))
               END AS cat_k,
               CASE WHEN more IS NULL THEN CASE WHEN {in_month} THEN d1 END
                    ELSE list_min(list_transform(
                        list_filter(more, lambda c: c.f <= {m} AND c.t >= {m}), lambda c: c.d))
               END AS cat_from,
               e.end_m AS prepaid_to,
               e.paid_on AS prepaid_on,
               e.status_to AS prepaid_status_to,
               CAST(bit_count(a.mask & {window}) AS INTEGER) AS paid_months,
               a.mask & {seen} AS x, a.mask & {counted} AS xc, a.mask & {seen} AS r0
        FROM st_all a
        LEFT JOIN pre e ON e.iin = a.iin
        WHERE a.birth_m <= {m}
    ),
    {chain + "," if chain else ""}
    tops AS (
        SELECT *,
               CASE WHEN x = 0 THEN NULL ELSE {_top("x")} END AS top_x,
               CASE WHEN xc = 0 THEN NULL ELSE {_top("xc")} END AS top_c,
               CASE WHEN r{n - 1} = 0 THEN NULL ELSE {_top(f"r{n - 1}")} END AS top_n
        FROM b{n - 1}
    ),
    base AS (
        SELECT iin_text AS iin, birth_date, death_date,
               (death_m IS NOT NULL AND death_m < {m}) AS dead,
               {category_columns("cat_k")},
               cat_from,
               paid_months,
               top_x + {base} AS last_paid,
               top_c + {base} AS last_counted,
               CASE WHEN top_c IS NULL THEN NULL {type_rank} END AS type_rank,
               top_n + {base} AS nth_paid,
               prepaid_to,
               prepaid_on,
               prepaid_status_to,
               prepaid_to IS NOT NULL AS by_prepayment
        FROM tops
    )"""
    return decision_sql(DUCKDB, month, r, run_id, ctes)
