"""``saqta status`` and ``saqta serve``: online eligibility; ``saqta eligibility``: its index."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from saqta.cli.common import console, err_console, parse_locale, progress_bar, report_errors
from saqta.core.i18n import DEFAULT_LOCALE, N_, translations

EXIT_INSURED = 0
EXIT_NOT_INSURED = 1
EXIT_UNKNOWN_PERSON = 3
EXIT_INVALID_IIN = 4
EXIT_BAD_DATE = 5
EXIT_NO_INDEX = 6
EXIT_NO_IDENTITY = 7

eligibility_app = typer.Typer(
    help="The eligibility index that `saqta status` and `saqta serve` answer from.",
    no_args_is_help=True,
)

_VERDICT_ON = N_("{verdict} on {date}")
_REASON = N_("reason: {reason}")
_VALID_UNTIL = N_("valid until: {date}")
_OPEN = N_("open-ended")
_RUN = N_("status run: {run}")


_INDEX_HELP = "The index folder or index root (default: <lake>/derived/eligibility)"


def _index_root(index: Path | None) -> Path:
    if index is not None:
        return index
    from saqta.core.settings import get_settings
    from saqta.mshi.eligibility import default_index_root

    return default_index_root(get_settings().resolved_lake_dir)


@eligibility_app.command("build-index")
@report_errors(exit_code=1)
def build_index_command(
    lake: Path | None = typer.Option(None, "--lake", help="The facts lake (default: settings)"),
    out: Path | None = typer.Option(None, "--out", help=_INDEX_HELP),
    record: bool = typer.Option(
        True,
        "--record/--no-record",
        help="Read the status runs' rule-set and code versions from the system of record",
    ),
) -> None:
    """Build the eligibility index from the status results and the register of persons, and
    make it the current one (a running server picks it up on restart)."""
    from saqta.core.settings import get_settings
    from saqta.mshi.eligibility import build_index

    lake_root = lake if lake is not None else get_settings().resolved_lake_dir
    engine = None
    if record:
        from saqta.store.db import make_engine

        engine = make_engine()
    with progress_bar("status months") as update:
        info = build_index(lake_root, out, engine=engine, on_month=update)
    if engine is not None:
        engine.dispose()
    table = Table("", "", title=f"Eligibility index {info.path}")
    table.add_row("months", f"{info.months[0]} to {info.months[-1]} ({len(info.months)})")
    table.add_row("persons", f"{info.persons:,}")
    table.add_row("status rows read", f"{info.status_rows:,}")
    table.add_row("  used", f"{info.status_rows_used:,}")
    table.add_row("  superseded by a later run", f"{info.status_rows_superseded:,}")
    table.add_row("  IIN not in the register", f"{info.status_rows_without_person:,}")
    table.add_row("older register rows of re-imported persons", f"{info.duplicate_person_rows:,}")
    table.add_row("distinct answers (profiles)", f"{info.profiles:,}")
    table.add_row("status runs", ", ".join(str(r["run_id"]) for r in info.runs) or "-")
    table.add_row("rule-set versions", ", ".join(info.rules_versions) or "not recorded")
    table.add_row("built in", f"{info.build_seconds:.1f} s")
    console.print(table)


@eligibility_app.command("info")
@report_errors(exit_code=EXIT_NO_INDEX)
def info_command(index: Path | None = typer.Option(None, "--index", help=_INDEX_HELP)) -> None:
    """Print what the current index was built from, as JSON."""
    from saqta.mshi.eligibility import open_index

    opened = open_index(_index_root(index))
    console.print_json(json.dumps(opened.info.as_json()))


@report_errors(exit_code=EXIT_NO_INDEX)
def status(
    iin: str = typer.Argument(..., help="The person's 12-digit IIN"),
    on: str | None = typer.Option(
        None, "--on", help="The day YYYY-MM-DD (default: today in Kazakhstan)"
    ),
    index: Path | None = typer.Option(None, "--index", help=_INDEX_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON"),
    lang: str = typer.Option(
        DEFAULT_LOCALE, "--lang", help="Language of the words: kk, ru or en", callback=parse_locale
    ),
) -> None:
    """Is the person insured on a day? Prints insured or not insured, the reason (state
    category, or payments by which payer type), valid-until where known and what would change
    the answer.

    Exit codes:
      0  insured
      1  not insured (known person)
      2  usage error
      3  unknown person: a valid IIN that is not in the register
      4  invalid IIN
      5  bad date, or a month for which no status has been computed
      6  no usable eligibility index
      7  not signed in (saqta login), or the role may not ask

    The question is audited under the signed-in identity. A role without register access
    (a provider) gets the minimal answer, and an unknown person is then "not insured".
    """
    from saqta.access import Permission
    from saqta.cli.identity import NotSignedIn, access_control, acting
    from saqta.mshi.eligibility import EligibilityInputError, Outcome, open_index

    with access_control() as control:
        try:
            me = acting(control, Permission.ELIGIBILITY_CHECK)
        except NotSignedIn as exc:
            err_console.print(f"[red]error[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(EXIT_NO_IDENTITY) from None
        full = control.allows(me, Permission.ELIGIBILITY_FULL)
        opened = open_index(_index_root(index))
        if on is None:
            from saqta.api.app import today_in_kazakhstan

            day: str = today_in_kazakhstan().isoformat()
        else:
            day = on
        try:
            answer = opened.check(iin, day, lang)
        except EligibilityInputError as exc:
            control.record(me, "cli", "eligibility.check", iin, "invalid_input")
            err_console.print(f"[red]error[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(EXIT_INVALID_IIN if exc.field == "iin" else EXIT_BAD_DATE) from None
        control.record(me, "cli", "eligibility.check", answer.iin, answer.outcome.value)
    if not full:
        from saqta.api.app import minimal_json

        if as_json:
            console.print_json(json.dumps(minimal_json(answer)))
        else:
            t = translations(lang)
            colour = "green" if answer.insured else "red"
            console.print(
                t.gettext(_VERDICT_ON).format(
                    verdict=f"[{colour}]{escape(answer.verdict)}[/{colour}]",
                    date=answer.on.isoformat(),
                ),
                highlight=False,
            )
            if answer.insured:
                until = answer.valid_until.isoformat() if answer.valid_until else t.gettext(_OPEN)
                console.print(f"  {t.gettext(_VALID_UNTIL).format(date=until)}", highlight=False)
        raise typer.Exit(EXIT_INSURED if answer.insured else EXIT_NOT_INSURED)
    if as_json:
        console.print_json(json.dumps(answer.as_json()))
    elif answer.outcome is Outcome.UNKNOWN_PERSON:
        console.print(f"{answer.iin}: {escape(answer.reason)}", highlight=False)
    else:
        t = translations(lang)
        colour = "green" if answer.insured else "red"
        verdict = t.gettext(_VERDICT_ON).format(
            verdict=f"[{colour}]{escape(answer.verdict)}[/{colour}]", date=answer.on.isoformat()
        )
        console.print(verdict, highlight=False)
        console.print(
            f"  {t.gettext(_REASON).format(reason=escape(answer.reason))}", highlight=False
        )
        if answer.insured:
            until = answer.valid_until.isoformat() if answer.valid_until else t.gettext(_OPEN)
            console.print(f"  {t.gettext(_VALID_UNTIL).format(date=until)}", highlight=False)
        if answer.change:
            console.print(f"  {escape(answer.change_sentence() or '')}", highlight=False)
        if answer.run_id is not None:
            console.print(
                f"  {t.gettext(_RUN).format(run=answer.run_id)}", highlight=False
            )
    if answer.outcome is Outcome.UNKNOWN_PERSON:
        raise typer.Exit(EXIT_UNKNOWN_PERSON)
    raise typer.Exit(EXIT_INSURED if answer.insured else EXIT_NOT_INSURED)


@report_errors(exit_code=EXIT_NO_INDEX)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="Port to listen on"),
    index: Path | None = typer.Option(None, "--index", help=_INDEX_HELP),
    preload: bool = typer.Option(
        False, "--preload", help="Read the index into memory instead of memory-mapping it"
    ),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log", help="Log requests"),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (they share the memory-mapped index)"
    ),
) -> None:
    """Serve the eligibility API (JSON and FHIR R4) over HTTP; OpenAPI at /docs.

    Every route but /health, /oauth/token and the documentation needs a bearer token (see
    `saqta clients add` and `saqta users add`); IINs are masked in every log line."""
    import os

    import uvicorn

    from saqta.access import uvicorn_log_config
    from saqta.api.app import INDEX_ENVIRONMENT, create_asgi, default_access
    from saqta.mshi.eligibility import open_index
    from saqta.store.db import describe, make_engine, upgrade

    started = time.perf_counter()
    opened = open_index(_index_root(index), preload=preload)
    info = opened.info
    store = make_engine()
    upgrade(store)  # access control's tables (a no-op when the schema is current)
    store.dispose()
    access = default_access()  # checks the token key and the store before listening
    err_console.print(
        f"eligibility index {info.path}: {info.persons:,} persons, months {opened.coverage}, "
        f"opened in {time.perf_counter() - started:.2f} s; access control on "
        f"{describe(access.engine)}; serving on http://{host}:{port} "
        f"with {workers} worker(s) (OpenAPI at /docs)",
        highlight=False,
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "lifespan": "on",
        "log_config": uvicorn_log_config(),
        "log_level": "info",
    }
    if workers == 1:
        uvicorn.run(create_asgi(opened, access), **options)
    else:
        access.close()
        os.environ[INDEX_ENVIRONMENT] = str(opened.folder)
        uvicorn.run(
            "saqta.api.app:asgi_from_environment", factory=True, workers=workers, **options
        )


def register(app: typer.Typer) -> None:
    """Add the eligibility commands to the top-level ``app``."""
    app.command("status")(status)
    app.command("serve")(serve)
    app.add_typer(eligibility_app, name="eligibility")
