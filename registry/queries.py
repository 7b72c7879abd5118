"""Finding checkpoint rows: by reference, by name and file, and what depends on a row.

ORM rows stay inside :mod:`recgraft.registry` (the facade, :mod:`.records`, :mod:`.lineage`):
callers of the registry get :class:`CheckpointRecord` and friends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from recgraft.registry.errors import NotFoundError
from recgraft.registry.models import SqlAlias, SqlCheckpoint, SqlLineageEdge
from recgraft.registry.references import parse_reference


def with_children() -> Any:
    return (
        selectinload(SqlCheckpoint.aliases),
        selectinload(SqlCheckpoint.tags),
        selectinload(SqlCheckpoint.parent_edges),
    )


def find_row(session: Session, ref: str, include_removed: bool = False) -> SqlCheckpoint:
    """The row ``ref`` names (``NAME``: the latest live one), else :class:`NotFoundError`."""
    parsed = parse_reference(ref)
    query = select(SqlCheckpoint).options(*with_children()).where(SqlCheckpoint.name == parsed.name)
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


def find_same_file(session: Session, name: str, digest: str) -> SqlCheckpoint | None:
    """The checkpoint ``name`` whose file has this sha256: live before removed, newest first."""
    return session.scalars(
        select(SqlCheckpoint)
        .where(SqlCheckpoint.name == name, SqlCheckpoint.digest == digest)
        .order_by(SqlCheckpoint.removed_at.is_not(None), SqlCheckpoint.version.desc())
        .limit(1)
    ).first()


def live_children(session: Session, row: SqlCheckpoint) -> list[tuple[str, int, str]]:
    """``(name, version, relation)`` of the live checkpoints made from ``row``."""
    return [
        (name, version, relation)
        for name, version, relation in session.execute(
            select(SqlCheckpoint.name, SqlCheckpoint.version, SqlLineageEdge.relation)
            .join(SqlLineageEdge, SqlLineageEdge.child_id == SqlCheckpoint.id)
            .where(SqlLineageEdge.parent_id == row.id, SqlCheckpoint.removed_at.is_(None))
            .order_by(SqlCheckpoint.name, SqlCheckpoint.version)
        )
    ]


def file_shared(session: Session, row: SqlCheckpoint) -> bool:
    """Whether another live record points at ``row``'s file (same sha256)."""
    shared = session.scalar(
        select(func.count())
        .select_from(SqlCheckpoint)
        .where(
            SqlCheckpoint.digest == row.digest,
            SqlCheckpoint.id != row.id,
            SqlCheckpoint.removed_at.is_(None),
        )
    )
    return bool(shared)


def live_names(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(SqlCheckpoint.name).where(SqlCheckpoint.removed_at.is_(None)).distinct()
        )
    )
