"""The :class:`Registry` facade: opening, sessions, and each operation in a few lines.

ORM rows never leave :mod:`recgraft.registry`; callers get :class:`CheckpointRecord` and
friends. The work is in the modules below it: :mod:`.transactions` (sessions, retries,
error wording), :mod:`.queries` (finding rows), :mod:`.records` (the record's fields and
writing one), :mod:`.listing`, :mod:`.aliases`, :mod:`.verify`, :mod:`.lineage` and
:mod:`.bundle`; the checkpoint files are in a :mod:`.files` store.

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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import recgraft.registry.bundle as bundle
import recgraft.registry.db as db
import recgraft.registry.transactions as transactions
from recgraft.registry.aliases import alias_events, drop_aliases, point_alias
from recgraft.registry.entities import AliasEvent, CheckpointRecord, VerifyReport
from recgraft.registry.errors import HasDescendantsError, InvalidRecordError, RegistryError
from recgraft.registry.files import Store, open_store
from recgraft.registry.lineage import Lineage, build_lineage
from recgraft.registry.listing import list_records
from recgraft.registry.models import utcnow
from recgraft.registry.queries import file_shared, find_row, live_children, live_names
from recgraft.registry.records import NewRecord, Parent, new_record, to_record, write_record
from recgraft.registry.references import (
    format_reference,
    parse_reference,
    validate_alias,
    validate_name,
)
from recgraft.registry.verify import live_files, verify_files

T = TypeVar("T")

__all__ = ["RecordFilter", "Registry"]


class RecordFilter(TypedDict, total=False):
    """Filters of :meth:`Registry.list`: records matching all of those given (None: any)."""

    name: str | None
    domain: str | None
    encoder: str | None
    strategy: str | None
    tag: str | None
    limit: int | None  # newest first, at most this many


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
            raise transactions.translate_open(exc, resolved) from None
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
        bind = self._read_engine if read_only else self.engine
        try:
            with transactions.session(bind, read_only) as session:
                yield session
        except SQLAlchemyError as exc:
            raise transactions.translate(exc) from exc

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction, retrying on lock timeouts and version races."""
        return transactions.write(self.engine, work)

    # -- lookups -----------------------------------------------------------------------------
    def resolve(self, ref: str) -> CheckpointRecord:
        """The live record of ``NAME`` (latest), ``NAME@N`` or ``NAME@ALIAS``."""
        with self.session_scope(read_only=True) as session:
            return to_record(find_row(session, ref))

    def get(self, ref: str, include_removed: bool = False) -> CheckpointRecord:
        """Like :meth:`resolve`, but ``NAME@N`` of a removed checkpoint too if asked."""
        with self.session_scope(read_only=True) as session:
            return to_record(find_row(session, ref, include_removed=include_removed))

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
            return list_records(session, **filters)

    def names(self) -> builtins.list[str]:
        with self.session_scope(read_only=True) as session:
            return live_names(session)

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
        links = []
        for item in parents:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise InvalidRecordError(f"a parent is a (reference, relation) pair, got {item!r}")
            ref, relation = item
            parse_reference(ref)
            links.append(Parent(ref, validate_name(relation, "relation")))
        fields = {
            "encoder": encoder,
            "encoder_config": encoder_config,
            "strategy": strategy,
            "metrics": metrics,
            "dataset_fingerprint": dataset_fingerprint,
            "device": device,
            "precision": precision,
            "torch_version": torch_version,
            "recgraft_version": recgraft_version,
            "extra": extra,
        }
        new, data = new_record(
            name, data, domain=domain, fields=fields, parents=links, aliases=aliases, tags=tags
        )
        return self._add(new, data)

    def _add(self, new: NewRecord, data: bytes) -> CheckpointRecord:
        """The one way records are written (registering, importing): the file stored first,
        then the record committed (:func:`records.write_record`) while writers hold the store."""
        with self.store.writing():
            file = self.store.put(data)
            return self._write(lambda session: write_record(session, new, file))

    def tag(self, ref: str, alias: str) -> CheckpointRecord:
        """Point ``NAME@alias`` at the checkpoint ``ref`` names (moving it if needed; recorded)."""
        validate_alias(alias)
        lock = transactions.name_lock(parse_reference(ref).name)

        def work(session: Session) -> CheckpointRecord:
            db.lock_until_commit(session.connection(), lock)
            row = find_row(session, ref)
            point_alias(session, row, alias)
            session.flush()
            session.refresh(row, ["aliases"])
            return to_record(row)

        return self._write(work)

    def alias_history(self, name: str, alias: str | None = None) -> builtins.list[AliasEvent]:
        """Every move of ``name``'s aliases (or of one alias), oldest first."""
        validate_name(name)
        with self.session_scope(read_only=True) as session:
            return alias_events(session, name, alias)

    def remove(self, ref: str, force: bool = False) -> CheckpointRecord:
        """Remove a checkpoint: its record becomes a tombstone, its aliases go, its file goes
        (unless another record shares it). Refuses while live checkpoints descend from it,
        unless ``force``; lineage stays readable either way."""
        lock = transactions.name_lock(parse_reference(ref).name)

        def work(session: Session) -> tuple[CheckpointRecord, bool]:
            db.lock_until_commit(session.connection(), lock)
            row = find_row(session, ref)
            children = live_children(session, row)
            if children and not force:
                listed = ", ".join(f"{n}@{v} ({rel})" for n, v, rel in children[:5])
                more = f" and {len(children) - 5} more" if len(children) > 5 else ""
                raise HasDescendantsError(
                    f"{format_reference(row.name, row.version)} has descendants: {listed}{more}; "
                    "remove them first or use --force (lineage is kept)"
                )
            now = utcnow()
            drop_aliases(session, row, now)
            row.removed_at = now
            shared = file_shared(session, row)
            session.flush()
            return to_record(row), shared

        with self.store.deleting():
            record, shared = self._write(work)
            if not shared and record.digest and self.store.uri_for(record.digest) == record.uri:
                self.store.delete(record.uri)
        return record

    # -- verification, lineage, bundles ------------------------------------------------------
    def verify(self, clean: bool = False) -> VerifyReport:
        """Check every live record's file; find files no record points to (``clean`` deletes them)."""
        lock = self.store.deleting() if clean else contextlib.nullcontext()
        with lock:
            with self.session_scope(read_only=True) as session:
                rows = live_files(session)
            return verify_files(self.store, rows, clean=clean)

    def lineage(self, ref: str) -> Lineage:
        """Ancestors and descendants of ``ref`` with their relations, across domains."""
        with self.session_scope(read_only=True) as session:
            return build_lineage(session, find_row(session, ref, include_removed=True))

    def export_bundle(self, ref: str, path: str | Path, force: bool = False) -> Path:
        """Write ``ref``'s file, record and ancestry records into one ``.tar`` bundle.

        An existing ``path`` is refused unless ``force`` (and never replaced unless it is a
        regular file); a folder gets ``NAME-VERSION.tar`` inside it."""
        record = self.resolve(ref)
        target = bundle.bundle_path(Path(path), record, force=force)  # before any work
        data = self.read_bytes(record)  # verified
        lineage = self.lineage(record.reference)
        ancestors = [
            self.get(reference, include_removed=True)
            for reference in lineage.ancestors
            if not lineage.node(reference).missing
        ]
        return bundle.write_bundle(target, record, ancestors, data, force=force)

    def import_bundle(self, path: str | Path) -> CheckpointRecord:
        """Register the checkpoint in a bundle (digest verified; parents re-linked if present)."""
        path = Path(path)
        record, ancestors, data = bundle.read_bundle(path.expanduser())
        for candidate in self.list(name=record.name):
            if candidate.digest == record.digest:
                return candidate  # already here: importing twice is a no-op
        try:
            new, data = new_record(
                record.name,
                data,
                domain=record.domain,
                fields=bundle.imported_fields(record),
                parents=bundle.imported_parents(record, ancestors),
                tags=record.tags,
                created_at=record.created_at,
            )
            return self._add(new, data)
        except RegistryError as exc:
            raise type(exc)(f"{path}: {exc}") from None
