"""The system of record: engine, migrations and transactions.

The embedded default is a SQLite file in ``SAQTA_HOME``; setting ``SAQTA_DATABASE_URL`` to a
PostgreSQL URL switches to PostgreSQL. The schema is created and evolved only by the Alembic
migrations shipped in ``saqta/store/migrations``, run in code by :func:`upgrade` (no
``alembic.ini`` is needed at run time).

Every problem opening, migrating or writing the store is raised as a :class:`StoreError` whose
message says where (a folder, a database URL without its password) and what went wrong.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session

from saqta.core.errors import StoreError
from saqta.core.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
"""The Alembic script folder shipped inside the package."""

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "describe",
    "head_revision",
    "make_engine",
    "session_scope",
    "upgrade",
]


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers add SQL and links on later lines)."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _os_reason(exc: OSError) -> str:
    """``permission denied`` rather than ``[Errno 13] Permission denied: '/x'``."""
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


def describe(url: URL | Engine | Connection) -> str:
    """The URL as it may be shown to a person: with the password hidden."""
    if isinstance(url, Engine | Connection):
        url = url.engine.url
    return url.render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if url.query.get("mode") == "memory":
        return None
    return Path(database).expanduser()


def _prepare_sqlite_folder(path: Path) -> None:
    """Create the folder of a SQLite file and check that the file can be written there."""
    folder = path.parent.resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the database folder {folder}: {_os_reason(exc)}") from exc
    if not folder.is_dir():
        raise StoreError(f"the database folder {folder} is not a folder")
    # SQLite writes the journal and the WAL files next to the database: the folder must be
    # writable, not only the file.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write in the database folder {folder}: permission denied")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"cannot write the database file {path.resolve()}: permission denied")


def _on_sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """Per connection: enforce foreign keys, use WAL, let SQLAlchemy manage transactions.

    ``isolation_level = None`` stops the ``sqlite3`` module from opening transactions on its own
    (it would skip DDL); the ``begin`` listener emits ``BEGIN`` instead, so migrations and
    savepoints are truly transactional.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.fetchall()
        cursor.execute("PRAGMA busy_timeout = 5000")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def make_engine(url: str | URL | None = None, **engine_options: Any) -> Engine:
    """Create the engine of the system of record.

    ``url`` defaults to ``Settings.resolved_database_url`` (``SAQTA_DATABASE_URL``, else a SQLite
    file in ``SAQTA_HOME``). A bare ``postgresql://`` URL uses the psycopg 3 driver.

    For SQLite files the parent folder is created, and every connection has foreign keys on,
    journal mode WAL and real transactions (DDL included).

    Guarantees: a malformed URL, an unknown database kind, a missing driver or an unwritable
    SQLite folder raise :class:`StoreError` naming the URL or the folder. The engine does not
    connect yet: a server that cannot be reached shows up at the first use.
    """
    raw = url if url is not None else get_settings().resolved_database_url
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            "not a valid database URL (expected e.g. sqlite:///path/to/saqta.db or "
            "postgresql+psycopg://user@host:5432/saqta)",
            where="database URL",
        ) from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")

    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            _prepare_sqlite_folder(path)
    try:
        if backend == "postgresql":
            engine_options.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **engine_options)
    except NoSuchModuleError as exc:
        raise StoreError(
            f"unknown database kind {parsed.drivername!r} (use sqlite or postgresql+psycopg)",
            where=describe(parsed),
        ) from exc
    except ImportError as exc:
        raise StoreError(
            f"the database driver is not installed: {_first_line(exc)}", where=describe(parsed)
        ) from exc
    except (ArgumentError, TypeError) as exc:
        raise StoreError(
            f"cannot create the database engine: {_first_line(exc)}", where=describe(parsed)
        ) from exc

    if backend == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def alembic_config() -> Config:
    """An Alembic configuration built in code, pointing at the package's migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    """The revision id of the newest migration shipped with this version of Saqta."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StoreError("no migration found", where=str(MIGRATIONS_DIR))
    return head


def _set_sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Switch foreign key enforcement on the raw SQLite connection (outside any transaction)."""
    driver_connection = connection.connection.driver_connection
    if driver_connection is not None:
        driver_connection.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` (default: the newest) in one transaction.

    Guarantees: running it again is a no-op; if a migration fails nothing of it is kept (also on
    SQLite, whose DDL is transactional here) and :class:`StoreError` says which database and
    what failed. On SQLite, foreign keys are suspended during the migration (table rebuilds
    need it, as SQLite documents) and checked before committing.
    """
    config = alembic_config()
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _set_sqlite_foreign_keys(connection, on=False)
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            table, rowid = broken[0][0], broken[0][1]
                            raise StoreError(
                                f"migration to {revision} would break a foreign key "
                                f"(table {table}, row {rowid}); nothing was changed",
                                where=describe(engine),
                            )
            finally:
                if sqlite and not connection.invalidated:
                    _set_sqlite_foreign_keys(connection, on=True)
    except StoreError:
        raise
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot migrate the database: {_first_line(exc)}", where=describe(engine)
        ) from exc


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at, or None if it was never migrated."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the migration revision: {_first_line(exc)}", where=describe(engine)
        ) from exc


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed when the block ends normally, rolled back otherwise.

    Objects stay usable after the block (``expire_on_commit=False``). Errors raised by the
    database (a refused foreign key, a lost connection) come out as :class:`StoreError` with one
    clear line, the original exception chained; any other exception propagates unchanged after
    the rollback.
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise StoreError(
            f"the transaction was rolled back: {_first_line(exc)}", where=describe(engine)
        ) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
