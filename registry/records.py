"""Checkpoint records: which fields are columns, checking what a writer gives, and writing one.

The fields are :class:`CheckpointRecord`'s; everything else is derived from it: the columns
(the :class:`SqlCheckpoint` columns that are record fields, in table order), the fields a
writer supplies (:data:`WRITTEN_FIELDS`, each with its check) and the fields the registry
derives (:data:`DERIVED_FIELDS`). :func:`write_record` is the one place a record is written:
:meth:`Registry.register` and bundle imports both end there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, func, select
from sqlalchemy.orm import Session

from recgraft.registry.aliases import point_alias
from recgraft.registry.checkpoint_format import check_matches_record, inspect_checkpoint
from recgraft.registry.db import lock_until_commit
from recgraft.registry.entities import CheckpointRecord
from recgraft.registry.errors import InvalidCheckpointError, InvalidRecordError
from recgraft.registry.models import (
    SqlCheckpoint,
    SqlDomain,
    SqlLineageEdge,
    SqlTag,
    UTCDateTime,
    utcnow,
)
from recgraft.registry.queries import find_row, find_same_file
from recgraft.registry.references import format_reference, validate_alias, validate_name
from recgraft.registry.transactions import name_lock

_TABLE = SqlCheckpoint.__table__.columns
#: The record fields stored as columns of their own, in table order.
COLUMN_FIELDS: tuple[str, ...] = tuple(
    c.name for c in _TABLE if c.name in CheckpointRecord.model_fields
)
JSON_FIELDS: tuple[str, ...] = tuple(f for f in COLUMN_FIELDS if isinstance(_TABLE[f].type, JSON))
TIME_FIELDS: tuple[str, ...] = tuple(
    f for f in COLUMN_FIELDS if isinstance(_TABLE[f].type, UTCDateTime)
)
#: The record fields made from other rows or columns.
DERIVED_FIELDS = ("reference", "domain", "aliases", "tags", "parents")


def json_dict(value: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRecordError(f"{what} must be a dict, not {type(value).__name__}")
    try:
        return dict(json.loads(json.dumps(value, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidRecordError(f"{what} is not plain JSON (finite numbers only): {exc}") from None


def text(value: object, what: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecordError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _optional_text(value: object, what: str) -> str | None:
    return text(value, what, optional=True)


#: The columns a writer supplies, each with its check, in the order they are checked.
WRITTEN_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "encoder": text,
    "encoder_config": json_dict,
    "strategy": _optional_text,
    "metrics": json_dict,
    "dataset_fingerprint": _optional_text,
    "device": text,
    "precision": text,
    "torch_version": _optional_text,
    "recgraft_version": _optional_text,
    "extra": json_dict,
}
# The registry sets the other columns: id, name, version, the file, the timestamps.
_SET_BY_REGISTRY = {"id", "name", "version", "digest", "size", "uri", "created_at", "removed_at"}
assert set(COLUMN_FIELDS) == set(WRITTEN_FIELDS) | _SET_BY_REGISTRY
assert set(COLUMN_FIELDS) | set(DERIVED_FIELDS) == set(CheckpointRecord.model_fields)


def to_record(row: SqlCheckpoint) -> CheckpointRecord:
    """The entity of one row (its domain, aliases, tags and parent edges loaded)."""
    columns = {f: getattr(row, f) for f in COLUMN_FIELDS}
    for f in JSON_FIELDS:
        columns[f] = columns[f] or {}
    return CheckpointRecord(
        **columns,
        reference=format_reference(row.name, row.version),
        domain=row.domain.name,
        aliases=sorted(a.alias for a in row.aliases),
        tags=sorted(t.tag for t in row.tags),
        parents=[(e.parent_reference, e.relation) for e in row.parent_edges],
    )


@dataclass(frozen=True)
class Parent:
    """A parent to link a new record to.

    ``resolve`` (registering): ``reference`` must resolve in this registry. Otherwise
    (importing a bundle): the checkpoint here with the name and sha256 of ``same_file``, live
    before removed and newest first; with none (or no ``same_file``) the edge keeps
    ``reference``, linked to nothing here.
    """

    reference: str
    relation: str
    resolve: bool = True
    same_file: tuple[str, str] | None = None


@dataclass(frozen=True)
class ParentLink:
    """A lineage edge to write: the parent's row id (None if not in this registry), its reference."""

    parent_id: int | None
    reference: str
    relation: str


@dataclass(frozen=True)
class NewRecord:
    """A checked record to write (:func:`new_record`), less its file and version."""

    name: str
    domain: str
    fields: dict[str, Any]  # WRITTEN_FIELDS, checked
    aliases: list[str]
    tags: list[str]
    parents: tuple[Parent, ...]
    created_at: datetime | None = None


def new_record(
    name: str,
    data: object,
    *,
    domain: str,
    fields: Mapping[str, Any],
    parents: Sequence[Parent] = (),
    aliases: Sequence[str] = (),
    tags: Sequence[str] = (),
    created_at: datetime | None = None,
) -> tuple[NewRecord, bytes]:
    """Check a record to write and its checkpoint ``data`` (before any file is stored: never
    a record of something that is not a checkpoint); the record and the bytes."""
    validate_name(name)
    validate_name(domain, "domain")
    alias_list = sorted({validate_alias(a) for a in aliases})
    tag_list = sorted({validate_name(t, "tag") for t in tags})
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidRecordError(f"checkpoint data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    try:
        check_matches_record(inspect_checkpoint(data), fields["encoder"], fields.get("strategy"))
    except InvalidCheckpointError as exc:
        raise InvalidCheckpointError(f"cannot register {name}: {exc}") from None
    checked = {f: check(fields.get(f), f) for f, check in WRITTEN_FIELDS.items()}
    record = NewRecord(name, domain, checked, alias_list, tag_list, tuple(parents), created_at)
    return record, data


def _link(session: Session, parent: Parent) -> ParentLink:
    if parent.resolve:
        row = find_row(session, parent.reference)
    else:
        row = find_same_file(session, *parent.same_file) if parent.same_file else None
        if row is None:
            return ParentLink(None, parent.reference, parent.relation)
    return ParentLink(row.id, format_reference(row.name, row.version), parent.relation)


def write_record(session: Session, new: NewRecord, file: tuple[str, int, str]) -> CheckpointRecord:
    """Write ``new`` as the next version of its name, its file ``(sha256, size, uri)`` stored.

    In the caller's write transaction, holding the name's lock until it commits: the
    parents linked, the domain made if new, the version allocated, the aliases pointed here.
    """
    digest, size, uri = file
    lock_until_commit(session.connection(), name_lock(new.name))
    links = [_link(session, parent) for parent in new.parents]
    domain_row = session.scalars(select(SqlDomain).where(SqlDomain.name == new.domain)).first()
    if domain_row is None:
        domain_row = SqlDomain(name=new.domain, created_at=utcnow())
        session.add(domain_row)
        session.flush()
    latest = session.scalar(
        select(func.max(SqlCheckpoint.version)).where(SqlCheckpoint.name == new.name)
    )
    row = SqlCheckpoint(
        name=new.name,
        version=(latest or 0) + 1,
        domain=domain_row,
        digest=digest,
        size=size,
        uri=uri,
        created_at=new.created_at or utcnow(),
        aliases=[],
        tags=[SqlTag(tag=t) for t in new.tags],
        parent_edges=[
            SqlLineageEdge(
                parent_id=ln.parent_id, parent_reference=ln.reference, relation=ln.relation
            )
            for ln in [*dict.fromkeys(links)]
        ],
        **new.fields,
    )
    session.add(row)
    session.flush()
    for alias in new.aliases:
        point_alias(session, row, alias)
    session.flush()
    return to_record(row)
