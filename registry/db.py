"""Engines, locations and the schema: everything that knows which database is underneath.

SQLite-only and PostgreSQL-only code lives here and nowhere else. SQLite gets WAL, a busy
timeout, foreign keys, ``BEGIN IMMEDIATE`` so that writers serialize, and a file lock around
creating a fresh database. PostgreSQL (driver psycopg, the ``postgres`` extra) gets
transaction-level advisory locks instead: one around creating or upgrading the schema, and
one per checkpoint name that writers take before allocating a version. Any other database
relies on the unique constraints and the retries in :mod:`recgraft.registry.transactions`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from recgraft.registry.errors import NoRegistryError, RegistryError, SchemaOutOfDateError
from recgraft.registry.files.base import file_lock

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The revisions this code knows, oldest first; the last is what it needs.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002")
SCHEMA_HEAD = KNOWN_REVISIONS[-1]
UPGRADE_HINT = "run `recgraft registry upgrade` (or Registry.open(..., upgrade=True))"
CREATE_HINT = "the first write (pretrain, transfer, registry import) or `recgraft registry upgrade` creates it"
BUSY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10
READ_ONLY = "recgraft_read_only"
POSTGRES_HINT = "pip install 'recgraft[postgres]'"


def default_home() -> Path:
    """``$RECGRAFT_HOME``, else ``~/.recgraft`` (read at call time); it must be a folder if
    it exists (:class:`RegistryError` otherwise)."""
    home = Path(os.environ.get("RECGRAFT_HOME") or Path.home() / ".recgraft").expanduser()
    if home.exists() and not home.is_dir():
        raise RegistryError(f"the recgraft home {home} (RECGRAFT_HOME) is not a folder")
    return home


def resolve_url(url: str | None = None, home: str | Path | None = None) -> str:
    """The database URL: the argument, else ``$RECGRAFT_REGISTRY_URL``, else SQLite in home."""
    if url:
        return url
    env = os.environ.get("RECGRAFT_REGISTRY_URL")
    if env:
        return env
    base = Path(home).expanduser() if home is not None else default_home()
    return f"sqlite:///{(base / 'registry.db').resolve()}"


def resolve_store(store: str | Path | None = None, home: str | Path | None = None) -> str | Path:
    """The checkpoint store, a folder or an fsspec URL: the argument (the CLI's ``--store``),
    else ``$RECGRAFT_CHECKPOINTS``, else ``home/checkpoints``."""
    if store is not None:
        return store
    chosen = os.environ.get("RECGRAFT_CHECKPOINTS")
    if chosen:
        return chosen
    base = Path(home).expanduser() if home is not None else default_home()
    return base / "checkpoints"


def describe_url(url: str | URL) -> str:
    """``url`` for messages, its password hidden."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return repr(url)
    return parsed.render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise RegistryError(
            f"not a database URL: {url!r} (expected e.g. sqlite:///path/registry.db or "
            "postgresql://user:password@host/database)"
        ) from None
    if parsed.drivername == "postgresql":
        # No driver named: use psycopg (3), the one the `postgres` extra installs.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, create: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE.

    ``create``: a SQLite file may be created (and its folders); otherwise a missing one raises
    :class:`NoRegistryError`. A malformed URL, an unknown database or a missing driver raise
    :class:`RegistryError`.
    """
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            path = sqlite_file(url)
            if path is not None and not create and not path.exists():
                raise NoRegistryError(f"no registry at {path}: {CREATE_HINT}")
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise RegistryError(
                        f"cannot create the registry folder {path.parent}: {exc.strerror or exc}"
                    ) from None
            engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})
            _configure_sqlite(engine)
            return engine
        connect_args: dict[str, Any] = {}
        if backend == "postgresql" and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except ArgumentError as exc:  # NoSuchModuleError: an unknown database or driver name
        raise RegistryError(f"cannot use the database URL {describe_url(parsed)}: {exc}") from None
    except ImportError as exc:
        hint = f": {POSTGRES_HINT}" if backend == "postgresql" else ""
        raise RegistryError(
            f"the database driver for {parsed.drivername} is not installed ({exc.name or exc}){hint}"
        ) from None


def check_writable(url: str) -> None:
    """Raise :class:`RegistryError` if a SQLite database file exists but cannot be written."""
    path = sqlite_file(url)
    if path is None or not path.exists():
        return
    if not path.is_file() or not os.access(path, os.R_OK | os.W_OK):
        raise RegistryError(f"cannot write the registry database {path}")


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


def advisory_key(name: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks, stable across processes."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


SCHEMA_LOCK = "recgraft.registry.schema"


def lock_until_commit(connection: Connection, name: str) -> None:
    """Make transactions that lock ``name`` take turns: this one holds it until it ends.

    PostgreSQL: ``pg_advisory_xact_lock``, so (say) the next writer of a checkpoint name
    reads ``max(version)`` only after this one committed. SQLite: nothing to do (``BEGIN
    IMMEDIATE`` already serializes all writers). Other databases: the unique constraints
    and the retries keep versions apart.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})


def current_revision(bind: Engine | Connection) -> tuple[str | None, bool]:
    """``(alembic revision or None, whether the database has any table)``: no revision and
    tables means a database recgraft did not make (never written into)."""
    if isinstance(bind, Engine):
        with bind.execution_options(**{READ_ONLY: True}).connect() as conn:
            return current_revision(conn)
    insp = inspect(bind)
    has_tables = bool(insp.get_table_names())
    if not insp.has_table("alembic_version"):
        return None, has_tables
    rows = bind.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return (rows[0] if len(rows) == 1 else ",".join(rows) or None), has_tables


def run_migrations(bind: Engine | Connection, revision: str = "head") -> None:
    """``alembic upgrade <revision>``, in one transaction (no alembic.ini needed).

    Given an engine, in a transaction of its own; given a connection, in the one it is in.
    """
    from alembic import command
    from alembic.config import Config

    if isinstance(bind, Engine):
        with bind.begin() as conn:
            run_migrations(conn, revision)
        return
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = bind
    command.upgrade(config, revision)


def _may_migrate(revision: str | None, has_tables: bool, upgrade: bool) -> bool:
    return (revision is None and not has_tables) or (upgrade and revision in KNOWN_REVISIONS)


def _ensure_sqlite_file(engine: Engine, path: Path, upgrade: bool) -> tuple[str | None, bool]:
    """Under a file lock next to the database: migrate if allowed; the revision found."""
    with file_lock(path.with_name(path.name + ".lock")):
        revision, has_tables = current_revision(engine)  # another process may have done it
        if revision == SCHEMA_HEAD or not _may_migrate(revision, has_tables, upgrade):
            return revision, has_tables
        if revision is None:
            raw = engine.raw_connection()  # outside any transaction, as the pragma needs
            try:
                raw.cursor().execute("PRAGMA journal_mode=WAL")
            finally:
                raw.close()
        run_migrations(engine)
        return SCHEMA_HEAD, True


def _ensure_in_transaction(engine: Engine, upgrade: bool) -> tuple[str | None, bool]:
    """In one transaction (PostgreSQL: holding an advisory lock): migrate if allowed."""
    with engine.begin() as conn:
        # PostgreSQL's DDL is transactional: the lock holder creates everything or nothing,
        # and the next process in line reads the schema it committed.
        lock_until_commit(conn, SCHEMA_LOCK)
        revision, has_tables = current_revision(conn)
        if revision == SCHEMA_HEAD or not _may_migrate(revision, has_tables, upgrade):
            return revision, has_tables
        run_migrations(conn)
        return SCHEMA_HEAD, True


def ensure_schema(engine: Engine, url: str, upgrade: bool = False, create: bool = True) -> None:
    """Create a fresh database's schema, or check (or, with ``upgrade``, bring) it up to date.

    Creation is serialized (a file lock for SQLite, an advisory lock for PostgreSQL), so
    several processes may open a fresh database at once; without ``create`` (or ``upgrade``)
    an empty database raises :class:`NoRegistryError` instead. An older or unknown schema,
    or a database with tables of its own, raises :class:`SchemaOutOfDateError`.
    """
    revision, has_tables = current_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    if revision is None and has_tables:
        _raise_schema_error(revision, url)
    if revision is None and not (create or upgrade):
        raise NoRegistryError(f"no registry in the database {describe_url(url)}: {CREATE_HINT}")
    path = sqlite_file(url)
    if path is not None:
        revision, has_tables = _ensure_sqlite_file(engine, path, upgrade)
    else:
        revision, has_tables = _ensure_in_transaction(engine, upgrade)
    if revision == SCHEMA_HEAD:
        return
    _raise_schema_error(revision, url)


def _raise_schema_error(revision: str | None, url: str) -> None:
    where = describe_url(url)
    if revision is None:
        raise SchemaOutOfDateError(
            f"the database {where} has tables but no recgraft schema revision: it was not made "
            "by recgraft (use an empty database or a new file)"
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
