"""Eligibility at national scale: index build time, server start, and latency under load.

Three steps (each takes its paths as arguments; run the heavy ones under ``flock``):

``prepare --synth DIR --out DIR``
    Make a lake in ``OUT/lake``: the register of persons (``persons``, contract schema) from a
    synthetic country's ``persons/`` and, unless the status engine's output is already there,
    realistic status rows for the 12 months of 2022 under ``derived/status/month=.../``.
    The rows are a stand-in for the engine, modelled on the synthetic country: state-paid
    categories from ``state_categories/`` (with their validity dates), payers with a per-person
    monthly payment probability (mean about 9 paid months a year, as the Fund reports), a
    3-month look-back window, self-payers' prepayment, the uninsured, and deaths.

``run --lake DIR [--rate 1000 --seconds 30] [--role provider|operator] [--get]``
    Build the index (timed, in a child process), make a system of record with one client of
    the role asked (a provider by default: the hot path's caller) in a fresh ``SAQTA_HOME``
    next to the index, start ``saqta serve`` there on a free loopback port (timed until
    ``/health`` answers), take an access token from ``POST /oauth/token`` (client
    credentials), then run ``load`` in a second process: an open-loop stream of authenticated
    ``POST /v1/eligibility`` requests (``--get``: the deprecated GET) at a fixed rate over
    keep-alive connections, with random known, unknown and invalid IINs, and one FHIR request
    in 50. Prints one JSON document: throughput, latency percentiles (from each request's
    scheduled time, so queueing counts), errors by kind, build and start times, the server's
    peak resident memory, and the audit records the server wrote (one per question).

``load --url URL --iins FILE --rate R --seconds S --token T [--role R] [--get]``
    The load generator alone (used by ``run``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from saqta.mshi.schema import PERSONS, STATUS

YEAR = 2022
WINDOW = 3  # look-back months of the stand-in status rules (the real ones are parameters)


# --------------------------------------------------------------------------------------------
# prepare


def _month_days(month: int) -> tuple[int, int]:
    first = dt.date(YEAR, month, 1)
    last = (dt.date(YEAR + 1, 1, 1) if month == 12 else dt.date(YEAR, month + 1, 1)) - dt.timedelta(
        days=1
    )
    epoch = dt.date(1970, 1, 1)
    return (first - epoch).days, (last - epoch).days


def _days_to_date32(days: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.int32(), mask=~valid).cast(pa.date32())


BASES = pa.array(["state_category", "contributions", "prepayment", "none", "deceased"])


def _text(codes: np.ndarray, names: pa.Array) -> pa.Array:
    """Text from codes into ``names`` (-1 = null), without Python objects per row."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, names).cast(pa.string())


def _status_for_chunk(persons: pa.Table, categories: pa.Table, seed: int) -> list[pa.Table]:
    """Twelve month tables of STATUS rows for one chunk of persons."""
    rng = np.random.default_rng(seed)
    n = persons.num_rows
    iin = persons.column("iin").combine_chunks()
    death = persons.column("death_date").combine_chunks()
    death_days = np.asarray(pc.fill_null(death.cast(pa.int32()), 2**31 - 1).to_numpy())

    # The first state-category period of each person (the synthetic country gives one).
    keys = np.asarray(pc.cast(iin, pa.int64()).to_numpy())
    order = np.argsort(keys)
    cat_keys = np.asarray(pc.cast(categories.column("iin"), pa.int64()).to_numpy())
    where = order[np.clip(np.searchsorted(keys[order], cat_keys), 0, n - 1)]
    matched = keys[where] == cat_keys
    category = np.full(n, -1, dtype=np.int32)
    cat_from = np.full(n, 2**31 - 1, dtype=np.int64)
    cat_to = np.full(n, 2**31 - 1, dtype=np.int64)
    encoded = pc.dictionary_encode(categories.column("category")).combine_chunks()
    category_names = encoded.dictionary
    names = np.asarray(encoded.indices.to_numpy(), dtype=np.int32)
    starts = np.asarray(categories.column("valid_from").cast(pa.int32()).to_numpy())
    ends = np.asarray(
        pc.fill_null(categories.column("valid_to").cast(pa.int32()), 2**31 - 1).to_numpy()
    )
    target = where[matched][::-1]  # reversed: the first period of a person is written last
    category[target] = names[matched][::-1]
    cat_from[target] = starts[matched][::-1]
    cat_to[target] = ends[matched][::-1]

    payer_types = {
        "employee": "employer_deduction",
        "individual_entrepreneur": "individual_entrepreneur",
        "civil_law_contract": "civil_law_contract",
        "single_payment": "single_payment",
        "self_payer": "self_payer",
    }
    payer_names = pa.array(list(payer_types.values()))
    kinds = pc.dictionary_encode(persons.column("category")).combine_chunks()
    kind_codes = np.asarray(kinds.indices.to_numpy())
    kind_to_payer = np.array(
        [
            list(payer_types).index(k) if k in payer_types else -1
            for k in kinds.dictionary.to_pylist()
        ],
        dtype=np.int32,
    )
    payer = kind_to_payer[kind_codes]
    pays = payer >= 0
    # Per-person probability of a paid month: beta with mean 0.76 (about 9.1 months a year).
    probability = rng.beta(3.0, 0.95, size=n)
    paid = (rng.random((n, 12 + WINDOW)) < probability[:, None]) & pays[:, None]
    prepaid = (payer == list(payer_types).index("self_payer")) & (rng.random(n) < 0.3)

    tables = []
    for m in range(1, 13):
        first, last = _month_days(m)
        column = m - 1 + WINDOW  # paid[:, column] is this month; earlier columns are the window
        window = paid[:, column - WINDOW : column]
        paid_months = window.sum(axis=1)
        # last paid period within the window (months before this one)
        last_index = np.where(window.any(axis=1), WINDOW - 1 - np.argmax(window[:, ::-1], 1), -1)
        last_month = m - WINDOW + last_index  # may be <= 0: previous year
        last_year = np.where(last_month <= 0, YEAR - 1, YEAR)
        last_month = np.where(last_month <= 0, last_month + 12, last_month)
        last_valid = last_index >= 0
        last_days = np.zeros(n, dtype=np.int64)
        if last_valid.any():
            stamps = (last_year[last_valid] - 1970) * 12 + (last_month[last_valid] - 1)
            last_days[last_valid] = (
                np.array(stamps, dtype="datetime64[M]").astype("datetime64[D]").astype(np.int64)
            )
        by_category = (cat_from <= last) & (cat_to >= first)
        by_payments = pays & (paid_months > 0) & ~by_category
        by_prepayment = prepaid & ~by_category
        dead = death_days < first
        entitled = (by_category | by_payments | by_prepayment) & ~dead
        basis = np.full(n, 3, dtype=np.int8)  # none
        basis[by_payments] = 1
        basis[by_prepayment] = 2
        basis[by_category] = 0
        basis[dead] = 4
        # valid until: end of the category, or WINDOW months after the last paid period
        valid_days = np.full(n, -1, dtype=np.int64)
        valid_days[by_category] = np.where(cat_to[by_category] < 2**31 - 1, cat_to[by_category], -1)
        ends_on = np.array(
            [_month_days(min(12, m + k))[1] for k in range(WINDOW + 1)], dtype=np.int64
        )
        pay_rows = by_payments & ~dead
        valid_days[pay_rows] = ends_on[np.clip(last_index[pay_rows] + 1, 0, WINDOW)]
        valid_days[by_prepayment & ~dead] = _month_days(12)[1]
        valid_days[~entitled] = -1
        # what would change it, as the engine codes it (saqta.mshi.status.ChangeCode):
        # contributions (7: valid until, next month), restore_one (8: the previous month),
        # category_ends (5: valid until)
        code = np.full(n, -1, dtype=np.int16)
        code[pay_rows] = 7
        code[basis == 3] = 8
        code[by_category & ~dead] = 5
        next_month = _month_days(min(12, m + 1))[0]
        previous_month = _month_days(max(1, m - 1))[0]
        change_month = np.where(code == 7, next_month, previous_month)
        dated = ((code == 7) | (code == 5)) & (valid_days >= 0)
        table = pa.table(
            {
                "iin": iin,
                "month": pa.array(np.full(n, first, dtype=np.int32)).cast(pa.date32()),
                "entitled": pa.array(entitled),
                "basis": _text(basis, BASES),
                "category": _text(np.where(by_category & ~dead, category, -1), category_names),
                "payment_type": _text(
                    np.where((by_payments | by_prepayment) & ~dead, payer, -1), payer_names
                ),
                "paid_months": pa.array(np.where(pays, paid_months, 0).astype(np.int16)),
                "last_paid_period": _days_to_date32(last_days, last_valid),
                "valid_until": _days_to_date32(valid_days, valid_days >= 0),
                "valid_from_day": _days_to_date32(np.full(n, first, dtype=np.int64), entitled),
                "change_code": pa.array(code, mask=code < 0),
                "change_date": _days_to_date32(valid_days, dated),
                "change_month": _days_to_date32(change_month.astype(np.int64), code >= 7),
                "change_count": pa.nulls(n, pa.int16()),
                "offer_months": pa.nulls(n, pa.int16()),
                "run_id": pa.array(np.ones(n, dtype=np.int64)),
            },
            schema=STATUS,
        )
        tables.append(table)
    return tables


def prepare(synth: Path, out: Path) -> None:
    from saqta.store.lake import FactsLake

    lake_root = out / "lake"
    lake = FactsLake(lake_root)
    status_root = lake_root / "derived" / "status"
    write_status = not status_root.exists()
    if lake.files("persons"):
        print("persons already in the lake; not written again", file=sys.stderr)
        write_persons = False
    else:
        write_persons = True
    started = time.perf_counter()
    parts = sorted((synth / "persons").glob("*.parquet"))
    for chunk, path in enumerate(parts):
        persons = pq.read_table(path)
        if write_persons:
            register = pa.table(
                {
                    name: persons.column(name)
                    if name in persons.column_names
                    else pa.array(np.ones(persons.num_rows, dtype=np.int64))
                    for name in PERSONS.names
                },
                schema=PERSONS,
            )
            lake.append("persons", register)
        if write_status:
            categories = pq.read_table(
                synth / "state_categories" / path.name,
                columns=["iin", "category", "valid_from", "valid_to"],
            )
            for m, table in enumerate(_status_for_chunk(persons, categories, seed=chunk), 1):
                folder = status_root / f"month={YEAR}-{m:02d}-01"
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, folder / f"part-{chunk:05d}.parquet", compression="zstd")
        print(
            f"chunk {chunk + 1}/{len(parts)} {time.perf_counter() - started:.0f} s", file=sys.stderr
        )


# --------------------------------------------------------------------------------------------
# load


def _sample_iins(index_root: Path, count: int, seed: int) -> list[tuple[str, str]]:
    """(kind, IIN) pairs: 90% known, 5% valid but unknown, 5% invalid (wrong check digit)."""
    from saqta.core.iin import Sex, make_iin
    from saqta.mshi.eligibility import open_index

    opened = open_index(index_root)
    rng = random.Random(seed)
    keys = opened.keys
    sample: list[tuple[str, str]] = []
    while len(sample) < count:
        draw = rng.random()
        if draw < 0.90:
            sample.append(("known", f"{int(keys[rng.randrange(len(keys))]):012d}"))
        elif draw < 0.95:
            born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30000))
            value = make_iin(born, rng.choice([Sex.MALE, Sex.FEMALE]), rng.randrange(10000))
            if value is not None and opened.position(value) is None:
                sample.append(("unknown", value))
        else:
            known = f"{int(keys[rng.randrange(len(keys))]):012d}"
            sample.append(("invalid", known[:11] + str((int(known[11]) + 1) % 10)))
    return sample


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(
        self,
        method: str,
        target: str,
        host: str,
        body: bytes = b"",
        token: str = "",
        media: str = "application/json",
    ) -> int:
        head = f"{method} {target} HTTP/1.1\r\nhost: {host}\r\n"
        if token:
            head += f"authorization: Bearer {token}\r\n"
        if body:
            head += f"content-type: {media}\r\ncontent-length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


def _expected(role: str) -> dict[str, set[int]]:
    """The statuses each kind of IIN must get: a provider cannot tell unknown from not insured
    (200), roles with register access get 404 for an unknown person."""
    unknown = {200} if role == "provider" else {404}
    return {"known": {200}, "unknown": unknown, "invalid": {400}}


async def _load_raw(
    url: str,
    pairs: list[tuple[str, str]],
    rate: float,
    seconds: float,
    token: str = "",
    role: str = "provider",
    use_get: bool = False,
) -> dict:
    """Open loop over raw keep-alive connections: the lightest client, so the server is measured."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(32):
        idle.put_nowait(_Connection(*await asyncio.open_connection(host, port)))
    return await _drive(
        pairs, rate, seconds, idle, f"{host}:{port}", token, _expected(role), use_get
    )


async def _drive(
    pairs: list[tuple[str, str]],
    rate: float,
    seconds: float,
    idle: asyncio.Queue,
    host: str,
    token: str,
    expected: dict[str, set[int]],
    use_get: bool,
) -> dict:
    total = int(rate * seconds)
    rng = random.Random(7)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}

    async def one(i: int, scheduled: float) -> None:
        kind, iin = pairs[i % len(pairs)]
        day = dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(365))
        connection = await idle.get()
        try:
            if i % 50 == 0:
                body = json.dumps(
                    {
                        "resourceType": "CoverageEligibilityRequest",
                        "status": "active",
                        "purpose": ["validation"],
                        "created": "2022-06-01",
                        "insurer": {"display": "MSHI"},
                        "servicedDate": day.isoformat(),
                        "patient": {"identifier": {"system": "urn:saqta:sid:kz-iin", "value": iin}},
                    }
                ).encode()
                status = await connection.request(
                    "POST", "/fhir/CoverageEligibilityRequest/$check", host, body, token,
                    "application/fhir+json",
                )  # fmt: skip
            elif use_get:
                status = await connection.request(
                    "GET", f"/v1/eligibility/{iin}?date={day.isoformat()}", host, token=token
                )
            else:
                question = f'{{"iin":"{iin}","date":"{day.isoformat()}"}}'.encode()
                status = await connection.request(
                    "POST", "/v1/eligibility", host, question, token
                )
            latencies.append(time.perf_counter() - scheduled)
            key = f"{kind}:{status}"
            statuses[key] = statuses.get(key, 0) + 1
            if status not in expected[kind]:
                errors[key] = errors.get(key, 0) + 1
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return  # a broken connection is not put back
        idle.put_nowait(connection)

    tasks = []
    start = time.perf_counter() + 0.2
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return _summary(total, latencies, elapsed, statuses, errors)


def _summary(total, latencies, elapsed, statuses, errors) -> dict:
    values = np.array(latencies) * 1000 if latencies else np.zeros(1)
    return {
        "requests": total,
        "completed": len(latencies),
        "seconds": round(elapsed, 2),
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(float(np.percentile(values, 50)), 2),
            "p90": round(float(np.percentile(values, 90)), 2),
            "p99": round(float(np.percentile(values, 99)), 2),
            "p999": round(float(np.percentile(values, 99.9)), 2),
            "max": round(float(values.max()), 2),
        },
        "statuses": statuses,
        "errors": errors,
    }


async def _load(
    url: str,
    pairs: list[tuple[str, str]],
    rate: float,
    seconds: float,
    token: str = "",
    role: str = "provider",
    use_get: bool = False,
) -> dict:
    """Open loop with httpx's async client (64 keep-alive connections)."""
    import httpx

    total = int(rate * seconds)
    rng = random.Random(7)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    fhir_body = {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["validation"],
        "created": "2022-06-01",
        "insurer": {"display": "MSHI"},
    }
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=10.0, headers=headers
    ) as client:
        expected = _expected(role)

        async def one(i: int, scheduled: float) -> None:
            kind, iin = pairs[i % len(pairs)]
            day = dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(365))
            try:
                if i % 50 == 0:
                    body = dict(fhir_body, servicedDate=day.isoformat())
                    body["patient"] = {
                        "identifier": {"system": "urn:saqta:sid:kz-iin", "value": iin}
                    }
                    response = await client.post(
                        "/fhir/CoverageEligibilityRequest/$check",
                        content=json.dumps(body),
                        headers={"content-type": "application/fhir+json"},
                    )
                elif use_get:
                    response = await client.get(
                        f"/v1/eligibility/{iin}", params={"date": day.isoformat()}
                    )
                    await response.aread()
                else:
                    response = await client.post(
                        "/v1/eligibility", json={"iin": iin, "date": day.isoformat()}
                    )
                    await response.aread()
                latencies.append(time.perf_counter() - scheduled)
                key = f"{kind}:{response.status_code}"
                statuses[key] = statuses.get(key, 0) + 1
                if response.status_code not in expected[kind]:
                    errors[key] = errors.get(key, 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        tasks = []
        start = time.perf_counter() + 0.2
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return _summary(total, latencies, elapsed, statuses, errors)


# --------------------------------------------------------------------------------------------
# run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> dict[str, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            values[name] = round(int(rest.split()[0]) / 1024, 1)
    return values


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its worker processes, in seconds."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for one in pids:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _server_memory(pid: int) -> dict[str, dict[str, float]]:
    """Peak and current memory of the server and its worker processes."""
    found = {str(pid): _peak_rss_mb(pid)}
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            found[child] = _peak_rss_mb(int(child))
    return found


def run(
    lake: Path,
    index: Path,
    rate: float,
    seconds: float,
    build: bool,
    workers: int = 1,
    client: str = "raw",
    role: str = "provider",
    use_get: bool = False,
) -> dict:
    import httpx

    from saqta.access import Role, add_client, query_audit
    from saqta.store.db import make_engine, upgrade

    saqta = [sys.executable, "-m", "saqta"]
    result: dict = {
        "rate": rate,
        "seconds": seconds,
        "cpus": os.cpu_count(),
        "workers": workers,
        "client": client,
        "role": role,
        "route": "GET /v1/eligibility/{iin}" if use_get else "POST /v1/eligibility",
        "load_average_before": os.getloadavg(),
    }
    if build:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run(
            [
                *saqta,
                "eligibility",
                "build-index",
                "--lake",
                str(lake),
                "--out",
                str(index),
                "--no-record",
            ],
            check=True,
        )
        result["index_build_s"] = round(time.perf_counter() - started, 1)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result["index_build_peak_rss_mb"] = round(max(peak, before) / 1024, 1)
    meta_folder = index / (index / "CURRENT").read_text().strip()
    result["index_bytes"] = sum(p.stat().st_size for p in meta_folder.iterdir())
    result["index"] = {
        k: v
        for k, v in json.loads((meta_folder / "meta.json").read_text()).items()
        if k in ("persons", "months", "status_rows", "profiles", "build_seconds")
    }
    # A fresh system of record with one client of the role asked; the server audits into it.
    home = index.parent / "bench-home"
    for stale in (home / "saqta.db", home / "saqta.db-wal", home / "saqta.db-shm"):
        stale.unlink(missing_ok=True)
    database = f"sqlite:///{home / 'saqta.db'}"
    engine = make_engine(database)
    upgrade(engine)
    _, secret = add_client(
        engine, "bench", "Load generator", Role(role),
        scope_bin="123456789012" if Role(role).scoped else None,
    )  # fmt: skip
    env = {
        **os.environ,
        "SAQTA_HOME": str(home),
        "SAQTA_DATABASE_URL": database,
        # measure the server, not the limiter: far above the offered rate
        "SAQTA_RATE_LIMIT_CLIENT": str(rate * 100),
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        [
            *saqta,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--index",
            str(index),
            "--workers",
            str(workers),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise SystemExit(f"server exited: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.05)
        result["server_start_s"] = round(time.perf_counter() - started, 2)
        issued = httpx.post(
            f"{url}/oauth/token", data={"grant_type": "client_credentials"}, auth=("bench", secret)
        )
        issued.raise_for_status()
        token = issued.json()["access_token"]
        pairs_file = index.parent / "load-iins.json"
        pairs_file.write_text(json.dumps(_sample_iins(index, 50_000, seed=11)))
        cpu_before = _cpu_seconds(server.pid)
        load = subprocess.run(
            [
                sys.executable,
                __file__,
                "load",
                "--url",
                url,
                "--iins",
                str(pairs_file),
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
                "--client",
                client,
                "--token",
                token,
                "--role",
                role,
                *(["--get"] if use_get else []),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        result["load"] = json.loads(load.stdout)
        cpu = _cpu_seconds(server.pid) - cpu_before
        result["server_cpu_ms_per_request"] = round(cpu * 1000 / result["load"]["completed"], 3)
        result["server_memory_mb"] = _server_memory(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    result["load_average"] = os.getloadavg()
    result["audit_records_written"] = len(query_audit(engine, limit=10_000_000))
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--synth", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--lake", type=Path, required=True)
    r.add_argument("--index", type=Path, help="Index root (default: <lake>/derived/eligibility)")
    r.add_argument("--rate", type=float, default=1000.0)
    r.add_argument("--seconds", type=float, default=30.0)
    r.add_argument("--no-build", action="store_true", help="Reuse the current index")
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--client", choices=("raw", "httpx"), default="raw")
    r.add_argument("--role", choices=("provider", "operator"), default="provider")
    r.add_argument("--get", action="store_true", help="The deprecated GET with the IIN in the URL")
    g = sub.add_parser("load")
    g.add_argument("--url", required=True)
    g.add_argument("--iins", type=Path, required=True)
    g.add_argument("--rate", type=float, default=1000.0)
    g.add_argument("--seconds", type=float, default=30.0)
    g.add_argument("--client", choices=("raw", "httpx"), default="raw")
    g.add_argument("--token", default="", help="The bearer token to send")
    g.add_argument("--role", choices=("provider", "operator"), default="provider")
    g.add_argument("--get", action="store_true")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.synth, args.out)
    elif args.command == "run":
        index = args.index or args.lake / "derived" / "eligibility"
        result = run(
            args.lake, index, args.rate, args.seconds, not args.no_build, args.workers,
            args.client, args.role, args.get,
        )  # fmt: skip
        print(json.dumps(result, indent=2))
    else:
        pairs = [tuple(pair) for pair in json.loads(args.iins.read_text())]
        load = _load_raw if args.client == "raw" else _load
        print(
            json.dumps(
                asyncio.run(
                    load(args.url, pairs, args.rate, args.seconds, args.token, args.role, args.get)
                )
            )
        )


if __name__ == "__main__":
    main()
