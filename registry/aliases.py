"""Aliases (``NAME@ALIAS``): pointing one at a version, dropping them, and their history.

Every move is recorded as an :class:`SqlAliasEvent` (``from_version`` None: newly set;
``to_version`` None: dropped when its checkpoint was removed).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from recgraft.registry.entities import AliasEvent
from recgraft.registry.models import SqlAlias, SqlAliasEvent, SqlCheckpoint, utcnow


def point_alias(session: Session, row: SqlCheckpoint, alias: str) -> int | None:
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


def drop_aliases(session: Session, row: SqlCheckpoint, now: datetime) -> None:
    """Remove every alias pointing at ``row`` (recording each drop)."""
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


def alias_events(session: Session, name: str, alias: str | None = None) -> list[AliasEvent]:
    """Every move of ``name``'s aliases (or of one alias), oldest first."""
    query = select(SqlAliasEvent).where(SqlAliasEvent.name == name)
    if alias is not None:
        query = query.where(SqlAliasEvent.alias == alias)
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
