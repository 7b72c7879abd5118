"""Listing records: filters, and the fast path that reads them as plain dicts.

Listings read columns raw (JSON and timestamps as text) and decode them per column in one
go, with three set-based queries for aliases, tags and parent edges instead of ORM objects:
the CLI lists 10,000 records in a fraction of a second.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from recgraft.registry.errors import InvalidRecordError
from recgraft.registry.models import SqlAlias, SqlCheckpoint, SqlDomain, SqlLineageEdge, SqlTag
from recgraft.registry.records import COLUMN_FIELDS, JSON_FIELDS, TIME_FIELDS
from recgraft.registry.references import format_reference


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


def _list_columns() -> list[Any]:
    table = SqlCheckpoint.__table__.c
    return [
        type_coerce(table[f], Text).label(f) if f in JSON_FIELDS + TIME_FIELDS else table[f]
        for f in COLUMN_FIELDS
    ]


def _record_dicts(session: Session, query: Any) -> list[dict[str, Any]]:
    """Record fields for a Core ``select`` of :func:`_list_columns` plus the domain name,
    as plain dicts (the fields of :class:`CheckpointRecord`)."""
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
    n = len(COLUMN_FIELDS)
    decoded = {
        f: _load_json_column([row[COLUMN_FIELDS.index(f)] for row in rows]) for f in JSON_FIELDS
    }
    out = []
    for i, row in enumerate(rows):
        fields = dict(zip(COLUMN_FIELDS, row[:n], strict=True))
        cid = fields["id"]
        for f in JSON_FIELDS:
            fields[f] = decoded[f][i]
        for f in TIME_FIELDS:
            fields[f] = _as_utc(fields[f])
        fields["reference"] = format_reference(fields["name"], fields["version"])
        fields["domain"] = row[n]
        fields["aliases"] = aliases.get(cid, [])
        fields["tags"] = tags.get(cid, [])
        fields["parents"] = parents.get(cid, [])
        out.append(fields)
    return out


def list_records(
    session: Session,
    name: str | None = None,
    domain: str | None = None,
    encoder: str | None = None,
    strategy: str | None = None,
    tag: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Live records matching the filters (see :class:`~recgraft.registry.store.RecordFilter`), newest first, as dicts."""
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
