"""The :class:`Registry` facade: sessions, version allocation, aliases, removal, verification.

ORM rows never leave this module (and :mod:`lineage`); callers get :class:`CheckpointRecord`
and friends. One :meth:`Registry.session_scope` commits or rolls back, and database errors
become :class:`RegistryError` subclasses.

Writing a checkpoint: the file goes into the store first, then the record is committed in
one transaction that also allocates the version (``max + 1`` under a unique constraint on
``(name, version)``; SQLite writers serialize through ``BEGIN IMMEDIATE``, PostgreSQL
writers of one name through an advisory lock, and any writer retries on a unique violation).
A crash in between leaves only an orphan file, which :meth:`Registry.verify` reports and
``verify(clean=True)`` deletes.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

from sqlalchemy import Engine, Text, func, select, type_coerce
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from recgraft.registry import db
from recgraft.registry.checkpoint_format import check_matches_record, inspect_checkpoint
from recgraft.registry.entities import AliasEvent, CheckpointRecord, FileProblem, VerifyReport
from recgraft.registry.errors import (
    ConflictError,
    HasDescendantsError,
    InvalidCheckpointError,
    InvalidRecordError,
    NotFoundError,
    RegistryError,
)
from recgraft.registry.files import Store, open_store
from recgraft.registry.files.base import check_file_format
from recgraft.registry.lineage import Lineage, build_lineage
from recgraft.registry.models import (
    SqlAlias,
    SqlAliasEvent,
    SqlCheckpoint,
    SqlDomain,
    SqlLineageEdge,
    SqlTag,
    utcnow,
)
from recgraft.registry.references import (
    format_reference,
    parse_reference,
    validate_alias,
    validate_name,
)

T = TypeVar("T")

MAX_ATTEMPTS = 20
_RETRYABLE_UNIQUE = (
    "checkpoints.name, checkpoints.version",
    "uq_checkpoints_name_version",
    "domains.name",
    "uq_domains_name",
    "aliases.name, aliases.alias",
    "uq_aliases_name_alias",
)


def _name_lock(name: str) -> str:
    """The lock writers of one checkpoint name take turns on (see :func:`db.lock_until_commit`)."""
    return f"recgraft.registry.name:{name}"


class RecordFilter(TypedDict, total=False):
    """Filters of :meth:`Registry.list`: records matching all of those given (None: any)."""

    name: str | None
    domain: str | None
    encoder: str | None
    strategy: str | None
    tag: str | None
    limit: int | None  # newest first, at most this many


@dataclass(frozen=True)
class ParentLink:
    """A lineage edge to write: the parent's row id (None if not in this registry), its reference."""

    parent_id: int | None
    reference: str
    relation: str


def _json_dict(value: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRecordError(f"{what} must be a dict, not {type(value).__name__}")
    try:
        return dict(json.loads(json.dumps(value, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidRecordError(f"{what} is not plain JSON (finite numbers only): {exc}") from None


def _text(value: object, what: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecordError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _retryable(exc: SQLAlchemyError) -> bool:
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc)
    if isinstance(exc, IntegrityError):
        return any(token in message for token in _RETRYABLE_UNIQUE)
    if isinstance(exc, OperationalError):
        lowered = message.lower()
        return "locked" in lowered or "busy" in lowered or "could not serialize" in lowered
    return "could not serialize" in message.lower() or "deadlock" in message.lower()


def _translate_open(exc: SQLAlchemyError, url: str) -> RegistryError:
    """An error opening the database, naming it (its password hidden)."""
    if isinstance(exc, OperationalError | InterfaceError):
        orig = getattr(exc, "orig", None)
        message = " ".join(str(orig if orig is not None else exc).split())
        return RegistryError(f"cannot open the registry database {db.describe_url(url)}: {message}")
    return _translate(exc)


def _translate(exc: SQLAlchemyError) -> RegistryError:
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).splitlines()[0]
    if isinstance(exc, IntegrityError):
        return ConflictError(f"the registry refused the change: {message}")
    return RegistryError(f"registry database error: {message}")


def to_record(row: SqlCheckpoint) -> CheckpointRecord:
    """The entity of one row (its domain, aliases, tags and parent edges loaded)."""
    return CheckpointRecord(
        id=row.id,
        name=row.name,
        version=row.version,
        reference=format_reference(row.name, row.version),
        aliases=sorted(a.alias for a in row.aliases),
        tags=sorted(t.tag for t in row.tags),
        domain=row.domain.name,
        encoder=row.encoder,
        encoder_config=row.encoder_config or {},
        strategy=row.strategy,
        metrics=row.metrics or {},
        dataset_fingerprint=row.dataset_fingerprint,
        digest=row.digest,
        size=row.size,
        uri=row.uri,
        device=row.device,
        precision=row.precision,
        torch_version=row.torch_version,
        recgraft_version=row.recgraft_version,
        created_at=row.created_at,
        parents=[(e.parent_reference, e.relation) for e in row.parent_edges],
        extra=row.extra or {},
        removed_at=row.removed_at,
    )


def _with_children() -> Any:
    return (
        selectinload(SqlCheckpoint.aliases),
        selectinload(SqlCheckpoint.tags),
        selectinload(SqlCheckpoint.parent_edges),
    )


def _load_json_column(values: list[Any]) -> list[dict[str, Any]]:
    """Decode one JSON column of many rows (text in SQLite: one parse for all of them)."""
    if all(isinstance(v, str) for v in values):
        return [dict(d) for d in json.loads("[" + ",".join(values) + "]")] if values else []
    return [
        {} if v is None else dict(json.loads(v)) if isinstance(v, str | bytes) else dict(v)
        for v in values
    ]


def _as_utc(value: Any) -> datetime | None:
    """A timestamp column read raw (ISO text in SQLite, a datetime elsewhere), as aware UTC."""
    if value is None:
        return None
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


# Columns read raw by the listing fast path (decoded in bulk by the helpers above).
_JSON_COLUMNS = ("encoder_config", "metrics", "extra")
_TIME_COLUMNS = ("created_at", "removed_at")
_FIELDS = (
    "id",
    "name",
    "version",
    "encoder",
    "encoder_config",
    "strategy",
    "metrics",
    "dataset_fingerprint",
    "digest",
    "size",
    "uri",
    "device",
    "precision",
    "torch_version",
    "recgraft_version",
    "extra",
    "created_at",
    "removed_at",
)


def _list_columns() -> list[Any]:
    table = SqlCheckpoint.__table__.c
    return [
        type_coerce(table[f], Text).label(f) if f in _JSON_COLUMNS + _TIME_COLUMNS else table[f]
        for f in _FIELDS
    ]


def _record_dicts(session: Session, query: Any) -> list[dict[str, Any]]:
    """Record fields for a Core ``select`` of :func:`_list_columns` plus the domain name.

    The fast path for listings: three set-based queries for aliases, tags and parent edges
    instead of ORM objects, JSON decoded per column in one go, and plain dicts (the fields
    of :class:`CheckpointRecord`) out.
    """
    rows = session.execute(query).all()
    if not rows:
        return []
    ids = select(query.subquery().c.id)
    aliases: dict[int, list[str]] = {}
    for cid, alias in session.execute(
        select(SqlAlias.checkpoint_id, SqlAlias.alias)
        .where(SqlAlias.checkpoint_id.in_(ids))
        .order_by(SqlAlias.alias)
    ):
        aliases.setdefault(cid, []).append(alias)
    tags: dict[int, list[str]] = {}
    for cid, tag in session.execute(
        select(SqlTag.checkpoint_id, SqlTag.tag)
        .where(SqlTag.checkpoint_id.in_(ids))
        .order_by(SqlTag.tag)
    ):
        tags.setdefault(cid, []).append(tag)
    parents: dict[int, list[tuple[str, str]]] = {}
    for cid, ref, relation in session.execute(
        select(SqlLineageEdge.child_id, SqlLineageEdge.parent_reference, SqlLineageEdge.relation)
        .where(SqlLineageEdge.child_id.in_(ids))
        .order_by(SqlLineageEdge.id)
    ):
        parents.setdefault(cid, []).append((ref, relation))
    n = len(_FIELDS)
    decoded = {f: _load_json_column([row[_FIELDS.index(f)] for row in rows]) for f in _JSON_COLUMNS}
    out = []
    for i, row in enumerate(rows):
        fields = dict(zip(_FIELDS, row[:n], strict=True))
        cid = fields["id"]
        for f in _JSON_COLUMNS:
            fields[f] = decoded[f][i]
        fields["created_at"] = _as_utc(fields["created_at"])
        fields["removed_at"] = _as_utc(fields["removed_at"])
        fields["reference"] = format_reference(fields["name"], fields["version"])
        fields["domain"] = row[n]
        fields["aliases"] = aliases.get(cid, [])
        fields["tags"] = tags.get(cid, [])
        fields["parents"] = parents.get(cid, [])
        out.append(fields)
    return out


class Registry:
    """Checkpoint records in a database plus their files in a checkpoint :class:`Store`."""

    def __init__(self, engine: Engine, url: str, store: Store) -> None:
        self.engine = engine
        self.url = url
        self.store = store
        self._read_engine = engine.execution_options(**{db.READ_ONLY: True})

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        url: str | None = None,
        home: str | Path | None = None,
        store: str | Path | None = None,
        *,
        upgrade: bool = False,
        create: bool = True,
        writable: bool = False,
    ) -> Registry:
        """Open (creating if fresh, unless ``create`` is false) the registry.

        URL: ``url``, else ``$RECGRAFT_REGISTRY_URL``, else ``sqlite:///$RECGRAFT_HOME/registry.db``
        (PostgreSQL: ``postgresql://user:password@host/database``, the ``postgres`` extra).
        Files: ``store``, else ``$RECGRAFT_CHECKPOINTS``, else ``$RECGRAFT_HOME/checkpoints``;
        a folder or an fsspec URL such as ``s3://bucket/prefix`` (the ``storage`` extra).
        A fresh database gets the current schema (without ``create``, for reading: a missing
        or empty database raises :class:`NoRegistryError` and nothing is created); an older
        one raises :class:`SchemaOutOfDateError` unless ``upgrade`` is true, and so does a
        database with tables recgraft did not make. An unreachable database, a bad URL or a
        missing driver raise :class:`RegistryError`. ``writable``: also check now that the
        store and a SQLite file can be written (before, say, hours of training), else
        :class:`RegistryError`.
        """
        resolved = db.resolve_url(url, home)
        checkpoints = open_store(db.resolve_store(store, home))
        if writable:
            checkpoints.check_writable()
            db.check_writable(resolved)
        engine = db.make_engine(resolved, create=create or upgrade)
        try:
            db.ensure_schema(engine, resolved, upgrade=upgrade, create=create)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise _translate_open(exc, resolved) from None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, resolved, checkpoints)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry(url={db.describe_url(self.url)!r}, store={self.store.location!r})"

    def schema_revision(self) -> str | None:
        return db.current_revision(self.engine)[0]

    # -- sessions ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def session_scope(self, read_only: bool = False) -> Iterator[Session]:
        """A session that commits at the end of the block, or rolls back on an error.

        Database errors come out as :class:`RegistryError` subclasses.
        """
        try:
            with self._raw_session(read_only) as session:
                yield session
        except SQLAlchemyError as exc:
            raise _translate(exc) from exc

    @contextlib.contextmanager
    def _raw_session(self, read_only: bool) -> Iterator[Session]:
        session = Session(
            bind=self._read_engine if read_only else self.engine, expire_on_commit=False
        )
        try:
            yield session
            if read_only:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction, retrying on lock timeouts and version races."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self._raw_session(read_only=False) as session:
                    return work(session)
            except SQLAlchemyError as exc:
                if not _retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                    raise _translate(exc) from exc
                time.sleep(min(0.5, 0.005 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- lookups -----------------------------------------------------------------------------
    def _find(self, session: Session, ref: str, include_removed: bool = False) -> SqlCheckpoint:
        parsed = parse_reference(ref)
        query = (
            select(SqlCheckpoint)
            .options(*_with_children())
            .where(SqlCheckpoint.name == parsed.name)
        )
        if parsed.version is not None:
            row = session.scalars(query.where(SqlCheckpoint.version == parsed.version)).first()
            if row is None:
                latest = session.scalar(
                    select(func.max(SqlCheckpoint.version)).where(SqlCheckpoint.name == parsed.name)
                )
                if latest is None:
                    raise NotFoundError(f"no checkpoint named {parsed.name!r}")
                raise NotFoundError(
                    f"no version {parsed.version} of {parsed.name!r} (latest is {latest})"
                )
            if row.removed_at is not None and not include_removed:
                raise NotFoundError(f"{ref} was removed on {row.removed_at:%Y-%m-%d %H:%M} UTC")
            return row
        if parsed.alias is not None:
            row = session.scalars(
                query.join(SqlAlias, SqlAlias.checkpoint_id == SqlCheckpoint.id).where(
                    SqlAlias.name == parsed.name, SqlAlias.alias == parsed.alias
                )
            ).first()
            if row is None:
                known = session.scalar(
                    select(SqlCheckpoint.id).where(SqlCheckpoint.name == parsed.name).limit(1)
                )
                if known is None:
                    raise NotFoundError(f"no checkpoint named {parsed.name!r}")
                raise NotFoundError(f"no alias {parsed.alias!r} on {parsed.name!r}")
            return row
        row = session.scalars(
            query.where(SqlCheckpoint.removed_at.is_(None))
            .order_by(SqlCheckpoint.version.desc())
            .limit(1)
        ).first()
        if row is None:
            raise NotFoundError(f"no checkpoint named {parsed.name!r}")
        return row

    def resolve(self, ref: str) -> CheckpointRecord:
        """The live record of ``NAME`` (latest), ``NAME@N`` or ``NAME@ALIAS``."""
        with self.session_scope(read_only=True) as session:
            return to_record(self._find(session, ref))

    def get(self, ref: str, include_removed: bool = False) -> CheckpointRecord:
        """Like :meth:`resolve`, but ``NAME@N`` of a removed checkpoint too if asked."""
        with self.session_scope(read_only=True) as session:
            return to_record(self._find(session, ref, include_removed=include_removed))

    def read_bytes(self, ref_or_record: str | CheckpointRecord) -> bytes:
        """The checkpoint's bytes, verified against the record's size and sha256."""
        record = self.resolve(ref_or_record) if isinstance(ref_or_record, str) else ref_or_record
        return self.store.read(record.uri, record.digest, record.size, label=record.reference)

    def list(self, **filters: Unpack[RecordFilter]) -> builtins.list[CheckpointRecord]:
        """Live records, newest first, filtered by any of :class:`RecordFilter`'s fields."""
        return [CheckpointRecord.model_construct(**fields) for fields in self.list_dicts(**filters)]

    def list_dicts(self, **filters: Unpack[RecordFilter]) -> builtins.list[dict[str, Any]]:
        """Like :meth:`list`, as plain dicts of the record fields (the CLI's fast path)."""
        with self.session_scope(read_only=True) as session:
            return self._list_query(session, **filters)

    def _list_query(
        self,
        session: Session,
        name: str | None = None,
        domain: str | None = None,
        encoder: str | None = None,
        strategy: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[dict[str, Any]]:
        query = (
            select(*_list_columns(), SqlDomain.name.label("domain_name"))
            .join(SqlDomain, SqlDomain.id == SqlCheckpoint.domain_id)
            .where(SqlCheckpoint.removed_at.is_(None))
        )
        if name is not None:
            query = query.where(SqlCheckpoint.name == name)
        if domain is not None:
            query = query.where(SqlDomain.name == domain)
        if encoder is not None:
            query = query.where(SqlCheckpoint.encoder == encoder)
        if strategy is not None:
            query = query.where(SqlCheckpoint.strategy == strategy)
        if tag is not None:
            query = query.where(
                SqlCheckpoint.id.in_(select(SqlTag.checkpoint_id).where(SqlTag.tag == tag))
            )
        query = query.order_by(SqlCheckpoint.id.desc())
        if limit is not None:
            if limit < 0:
                raise InvalidRecordError("limit must be zero or more")
            query = query.limit(limit)
        return _record_dicts(session, query)

    def names(self) -> builtins.list[str]:
        with self.session_scope(read_only=True) as session:
            return list(
                session.scalars(
                    select(SqlCheckpoint.name).where(SqlCheckpoint.removed_at.is_(None)).distinct()
                )
            )

    # -- writing -----------------------------------------------------------------------------
    def register(
        self,
        name: str,
        data: bytes,
        *,
        domain: str,
        encoder: str,
        encoder_config: dict[str, Any],
        strategy: str | None = None,
        metrics: dict[str, Any] | None = None,
        dataset_fingerprint: str | None = None,
        device: str = "cpu",
        precision: str = "float32",
        torch_version: str | None = None,
        recgraft_version: str | None = None,
        parents: Sequence[tuple[str, str]] = (),
        aliases: Sequence[str] = (),
        tags: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> CheckpointRecord:
        """Store ``data`` (safetensors bytes) and record it as the next version of ``name``.

        ``data`` must be a recgraft checkpoint holding the ``encoder`` (and ``strategy``) named
        here; anything else raises :class:`InvalidCheckpointError` before a file is stored.

        ``parents`` are ``(reference, relation)`` pairs, e.g. ``("ml-1m-transformer@1",
        "finetune")``; they must resolve in this registry. ``aliases`` are set on the new
        version (moved here if they pointed elsewhere).
        """
        parent_refs = []
        for item in parents:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise InvalidRecordError(f"a parent is a (reference, relation) pair, got {item!r}")
            ref, relation = item
            parse_reference(ref)
            parent_refs.append((ref, validate_name(relation, "relation")))

        def links(session: Session) -> builtins.list[ParentLink]:
            out = []
            for ref, relation in parent_refs:
                row = self._find(session, ref)
                out.append(ParentLink(row.id, format_reference(row.name, row.version), relation))
            return out

        return self._register(
            name,
            data,
            domain=domain,
            encoder=encoder,
            encoder_config=encoder_config,
            strategy=strategy,
            metrics=metrics,
            dataset_fingerprint=dataset_fingerprint,
            device=device,
            precision=precision,
            torch_version=torch_version,
            recgraft_version=recgraft_version,
            parent_links=links,
            aliases=aliases,
            tags=tags,
            extra=extra,
        )

    def _register(
        self,
        name: str,
        data: bytes,
        *,
        domain: str,
        encoder: str,
        encoder_config: dict[str, Any],
        strategy: str | None,
        metrics: dict[str, Any] | None,
        dataset_fingerprint: str | None,
        device: str,
        precision: str,
        torch_version: str | None,
        recgraft_version: str | None,
        parent_links: Callable[[Session], builtins.list[ParentLink]],
        aliases: Sequence[str],
        tags: Sequence[str],
        extra: dict[str, Any] | None,
        created_at: datetime | None = None,
    ) -> CheckpointRecord:
        validate_name(name)
        validate_name(domain, "domain")
        alias_list = sorted({validate_alias(a) for a in aliases})
        tag_list = sorted({validate_name(t, "tag") for t in tags})
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidRecordError(f"checkpoint data must be bytes, not {type(data).__name__}")
        data = bytes(data)
        try:  # before the file is stored: never a record of something that is not a checkpoint
            check_matches_record(inspect_checkpoint(data), encoder, strategy)
        except InvalidCheckpointError as exc:
            raise InvalidCheckpointError(f"cannot register {name}: {exc}") from None
        fields: dict[str, Any] = {
            "encoder": _text(encoder, "encoder"),
            "encoder_config": _json_dict(encoder_config, "encoder_config"),
            "strategy": _text(strategy, "strategy", optional=True),
            "metrics": _json_dict(metrics, "metrics"),
            "dataset_fingerprint": _text(dataset_fingerprint, "dataset_fingerprint", optional=True),
            "device": _text(device, "device"),
            "precision": _text(precision, "precision"),
            "torch_version": _text(torch_version, "torch_version", optional=True),
            "recgraft_version": _text(recgraft_version, "recgraft_version", optional=True),
            "extra": _json_dict(extra, "extra"),
        }
        with self.store.writing():
            digest, size, uri = self.store.put(data)

            def work(session: Session) -> CheckpointRecord:
                db.lock_until_commit(session.connection(), _name_lock(name))
                links = parent_links(session)
                domain_row = session.scalars(
                    select(SqlDomain).where(SqlDomain.name == domain)
                ).first()
                if domain_row is None:
                    domain_row = SqlDomain(name=domain, created_at=utcnow())
                    session.add(domain_row)
                    session.flush()
                latest = session.scalar(
                    select(func.max(SqlCheckpoint.version)).where(SqlCheckpoint.name == name)
                )
                row = SqlCheckpoint(
                    name=name,
                    version=(latest or 0) + 1,
                    domain=domain_row,
                    digest=digest,
                    size=size,
                    uri=uri,
                    created_at=created_at or utcnow(),
                    aliases=[],
                    tags=[SqlTag(tag=t) for t in tag_list],
                    parent_edges=[
                        SqlLineageEdge(
                            parent_id=ln.parent_id,
                            parent_reference=ln.reference,
                            relation=ln.relation,
                        )
                        for ln in [*dict.fromkeys(links)]
                    ],
                    **fields,
                )
                session.add(row)
                session.flush()
                for alias in alias_list:
                    self._point_alias(session, row, alias)
                session.flush()
                return to_record(row)

            return self._write(work)

    def _point_alias(self, session: Session, row: SqlCheckpoint, alias: str) -> int | None:
        """Point ``row.name@alias`` at ``row``; record the move. Returns the previous version."""
        existing = session.scalars(
            select(SqlAlias)
            .options(selectinload(SqlAlias.checkpoint))
            .where(SqlAlias.name == row.name, SqlAlias.alias == alias)
        ).first()
        now = utcnow()
        if existing is not None:
            if existing.checkpoint_id == row.id:
                return row.version
            previous: int | None = existing.checkpoint.version
            existing.checkpoint = row
            existing.updated_at = now
        else:
            previous = None
            row.aliases.append(SqlAlias(name=row.name, alias=alias, updated_at=now))
        session.add(
            SqlAliasEvent(
                name=row.name,
                alias=alias,
                from_version=previous,
                to_version=row.version,
                created_at=now,
            )
        )
        return previous

    def tag(self, ref: str, alias: str) -> CheckpointRecord:
        """Point ``NAME@alias`` at the checkpoint ``ref`` names (moving it if needed; recorded)."""
        validate_alias(alias)
        lock = _name_lock(parse_reference(ref).name)

        def work(session: Session) -> CheckpointRecord:
            db.lock_until_commit(session.connection(), lock)
            row = self._find(session, ref)
            self._point_alias(session, row, alias)
            session.flush()
            session.refresh(row, ["aliases"])
            return to_record(row)

        return self._write(work)

    def alias_history(self, name: str, alias: str | None = None) -> builtins.list[AliasEvent]:
        """Every move of ``name``'s aliases (or of one alias), oldest first."""
        validate_name(name)
        query = select(SqlAliasEvent).where(SqlAliasEvent.name == name)
        if alias is not None:
            query = query.where(SqlAliasEvent.alias == alias)
        with self.session_scope(read_only=True) as session:
            return [
                AliasEvent(
                    name=e.name,
                    alias=e.alias,
                    from_version=e.from_version,
                    to_version=e.to_version,
                    created_at=e.created_at,
                )
                for e in session.scalars(query.order_by(SqlAliasEvent.id))
            ]

    def remove(self, ref: str, force: bool = False) -> CheckpointRecord:
        """Remove a checkpoint: its record becomes a tombstone, its aliases go, its file goes
        (unless another record shares it). Refuses while live checkpoints descend from it,
        unless ``force``; lineage stays readable either way."""
        lock = _name_lock(parse_reference(ref).name)

        def work(session: Session) -> tuple[CheckpointRecord, bool]:
            db.lock_until_commit(session.connection(), lock)
            row = self._find(session, ref)
            children = session.execute(
                select(SqlCheckpoint.name, SqlCheckpoint.version, SqlLineageEdge.relation)
                .join(SqlLineageEdge, SqlLineageEdge.child_id == SqlCheckpoint.id)
                .where(SqlLineageEdge.parent_id == row.id, SqlCheckpoint.removed_at.is_(None))
                .order_by(SqlCheckpoint.name, SqlCheckpoint.version)
            ).all()
            if children and not force:
                listed = ", ".join(f"{n}@{v} ({rel})" for n, v, rel in children[:5])
                more = f" and {len(children) - 5} more" if len(children) > 5 else ""
                raise HasDescendantsError(
                    f"{format_reference(row.name, row.version)} has descendants: {listed}{more}; "
                    "remove them first or use --force (lineage is kept)"
                )
            now = utcnow()
            for alias in list(row.aliases):
                session.add(
                    SqlAliasEvent(
                        name=row.name,
                        alias=alias.alias,
                        from_version=row.version,
                        to_version=None,
                        created_at=now,
                    )
                )
                row.aliases.remove(alias)
            row.removed_at = now
            shared = session.scalar(
                select(func.count())
                .select_from(SqlCheckpoint)
                .where(
                    SqlCheckpoint.digest == row.digest,
                    SqlCheckpoint.id != row.id,
                    SqlCheckpoint.removed_at.is_(None),
                )
            )
            session.flush()
            return to_record(row), bool(shared)

        with self.store.deleting():
            record, shared = self._write(work)
            if not shared and record.digest and self.store.uri_for(record.digest) == record.uri:
                self.store.delete(record.uri)
        return record

    # -- verification ------------------------------------------------------------------------
    def verify(self, clean: bool = False) -> VerifyReport:
        """Check every live record's file; find files no record points to (``clean`` deletes them)."""
        report = VerifyReport()
        lock = self.store.deleting() if clean else contextlib.nullcontext()
        with lock:
            with self.session_scope(read_only=True) as session:
                rows = session.execute(
                    select(
                        SqlCheckpoint.name,
                        SqlCheckpoint.version,
                        SqlCheckpoint.uri,
                        SqlCheckpoint.digest,
                        SqlCheckpoint.size,
                        SqlCheckpoint.encoder,
                        SqlCheckpoint.strategy,
                    )
                    .where(SqlCheckpoint.removed_at.is_(None))
                    .order_by(SqlCheckpoint.id)
                ).all()
            checked: dict[tuple[str, str, int, str, str | None], tuple[str, str] | None] = {}
            for name, version, uri, digest, size, encoder, strategy in rows:
                report.checked += 1
                key = (uri, digest, size, encoder, strategy)
                if key not in checked:
                    try:
                        checked[key] = self.store.check(uri, digest, size) or check_file_format(
                            uri, size, encoder, strategy
                        )
                    except RegistryError as exc:
                        checked[key] = ("missing", str(exc))
                problem = checked[key]
                if problem is None:
                    continue
                entry = FileProblem(
                    reference=format_reference(name, version),
                    uri=uri,
                    problem=problem[0],
                    detail=problem[1],
                )
                (report.missing if problem[0] == "missing" else report.mismatched).append(entry)
            referenced = {row.digest for row in rows}
            for uri, digest in self.store.files():
                if digest is not None and (digest in referenced or not self.store.settled(uri)):
                    continue
                report.orphans.append(uri)
                if clean:
                    self.store.delete(uri)
                    report.removed_orphans.append(uri)
        return report

    # -- lineage and bundles (their own modules) -----------------------------------------------
    def lineage(self, ref: str) -> Lineage:
        """Ancestors and descendants of ``ref`` with their relations, across domains."""
        with self.session_scope(read_only=True) as session:
            return build_lineage(session, self._find(session, ref, include_removed=True))

    def export_bundle(self, ref: str, path: str | Path, force: bool = False) -> Path:
        """Write ``ref``'s file, record and ancestry records into one ``.tar`` bundle.

        An existing ``path`` is refused unless ``force`` (and never replaced unless it is a
        regular file); a folder gets ``NAME-VERSION.tar`` inside it."""
        from recgraft.registry.bundle import export_bundle

        return export_bundle(self, ref, Path(path), force=force)

    def import_bundle(self, path: str | Path) -> CheckpointRecord:
        """Register the checkpoint in a bundle (digest verified; parents re-linked if present)."""
        from recgraft.registry.bundle import import_bundle

        return import_bundle(self, Path(path))
