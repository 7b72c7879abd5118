"""Engines, locations and the schema: everything that knows which database is underneath.

SQLite-only code lives here and nowhere else (WAL, busy timeout, foreign keys, ``BEGIN
IMMEDIATE`` so that writers serialize, and the file lock around creating a fresh database).
Any other SQLAlchemy URL (PostgreSQL) gets a plain engine; its writers are kept apart by the
unique constraints and the retries in :mod:`recgraft.registry.store`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from recgraft.registry.checkpoints import file_lock
from recgraft.registry.errors import SchemaOutOfDateError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The revisions this code knows, oldest first; the last is what it needs.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002")
SCHEMA_HEAD = KNOWN_REVISIONS[-1]
UPGRADE_HINT = "run `recgraft registry upgrade` (or Registry.open(..., upgrade=True))"
BUSY_TIMEOUT_S = 30.0
READ_ONLY = "recgraft_read_only"


def default_home() -> Path:
    """``$RECGRAFT_HOME``, else ``~/.recgraft`` (read at call time)."""
    return Path(os.environ.get("RECGRAFT_HOME") or Path.home() / ".recgraft").expanduser()


def resolve_url(url: str | None = None, home: str | Path | None = None) -> str:
    """The database URL: the argument, else ``$RECGRAFT_REGISTRY_URL``, else SQLite in home."""
    if url:
        return url
    env = os.environ.get("RECGRAFT_REGISTRY_URL")
    if env:
        return env
    base = Path(home).expanduser() if home is not None else default_home()
    return f"sqlite:///{(base / 'registry.db').resolve()}"


def resolve_store(store: str | Path | None = None, home: str | Path | None = None) -> Path:
    """The checkpoint folder: the argument, else ``$RECGRAFT_CHECKPOINTS``, else home/checkpoints."""
    if store is not None:
        return Path(store).expanduser()
    env = os.environ.get("RECGRAFT_CHECKPOINTS")
    if env:
        return Path(env).expanduser()
    base = Path(home).expanduser() if home is not None else default_home()
    return base / "checkpoints"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE."""
    path = sqlite_file(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling would defer BEGIN and ignore our mode; take it over as
    # SQLAlchemy's documentation describes ("Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front, so two never both read max(version) first.
        mode = "DEFERRED" if conn.get_execution_options().get(READ_ONLY) else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")


def current_revision(engine: Engine) -> tuple[str | None, bool]:
    """``(alembic revision or None, whether the registry's tables exist)``."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        insp = inspect(conn)
        has_tables = insp.has_table("checkpoints")
        if not insp.has_table("alembic_version"):
            return None, has_tables
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        return (rows[0] if len(rows) == 1 else ",".join(rows) or None), has_tables


def run_migrations(engine: Engine, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` on ``engine``, in one transaction (no alembic.ini needed)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


@contextlib.contextmanager
def _creation_lock(url: str) -> Iterator[None]:
    path = sqlite_file(url)
    if path is None:
        yield
        return
    with file_lock(path.with_name(path.name + ".lock")):
        yield


def ensure_schema(engine: Engine, url: str, upgrade: bool = False) -> None:
    """Create a fresh database's schema, or check (or, with ``upgrade``, bring) it up to date.

    Creation is serialized by a file lock for SQLite, so several processes may open a fresh
    database at once. An older or unknown schema raises :class:`SchemaOutOfDateError`.
    """
    revision, has_tables = current_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    with _creation_lock(url):
        revision, has_tables = current_revision(engine)  # another process may have done it
        if revision == SCHEMA_HEAD:
            return
        fresh = revision is None and not has_tables
        if fresh or (upgrade and revision in KNOWN_REVISIONS):
            if fresh and sqlite_file(url) is not None:
                raw = engine.raw_connection()  # outside any transaction, as the pragma needs
                try:
                    raw.cursor().execute("PRAGMA journal_mode=WAL")
                finally:
                    raw.close()
            run_migrations(engine)
            return
    where = make_url(url).render_as_string(hide_password=True)
    if revision is None:
        raise SchemaOutOfDateError(
            f"the database {where} has tables but no schema revision: it was not made by recgraft"
        )
    if revision in KNOWN_REVISIONS:
        raise SchemaOutOfDateError(
            f"the registry schema in {where} is at revision {revision}, this recgraft needs "
            f"{SCHEMA_HEAD}: {UPGRADE_HINT}"
        )
    raise SchemaOutOfDateError(
        f"the registry schema in {where} is at unknown revision {revision} (made by a newer "
        f"recgraft?); this recgraft knows up to {SCHEMA_HEAD}: upgrade recgraft"
    )
