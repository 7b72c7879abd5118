"""SQLAlchemy rows. They stay inside the store; callers get pydantic entities instead.

Tables are plural snake_case and every constraint has a name (see ``NAMING_CONVENTION``), so
migrations can refer to them on every database. The Alembic migrations do not import these
classes: they spell the schema out, and ``tests/registry/test_migrations.py`` checks that the
two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored naive in UTC and read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SqlDomain(Base):
    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SqlCheckpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        Index("ix_checkpoints_digest", "digest"),
        Index("ix_checkpoints_domain_id", "domain_id"),
        Index("ix_checkpoints_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="RESTRICT"))
    encoder: Mapped[str] = mapped_column(String(128))
    encoder_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    strategy: Mapped[str | None] = mapped_column(String(128))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    dataset_fingerprint: Mapped[str | None] = mapped_column(String(256))
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    uri: Mapped[str] = mapped_column(Text)
    device: Mapped[str] = mapped_column(String(64))
    precision: Mapped[str] = mapped_column(String(32))
    torch_version: Mapped[str | None] = mapped_column(String(64))
    recgraft_version: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Removal is a tombstone: the row stays so versions are never reused and lineage stays readable.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    domain: Mapped[SqlDomain] = relationship(lazy="joined", innerjoin=True)
    aliases: Mapped[list[SqlAlias]] = relationship(
        back_populates="checkpoint", cascade="all, delete-orphan", order_by="SqlAlias.alias"
    )
    tags: Mapped[list[SqlTag]] = relationship(
        back_populates="checkpoint", cascade="all, delete-orphan", order_by="SqlTag.tag"
    )
    parent_edges: Mapped[list[SqlLineageEdge]] = relationship(
        back_populates="child",
        foreign_keys="SqlLineageEdge.child_id",
        cascade="all, delete-orphan",
        order_by="SqlLineageEdge.id",
    )


class SqlAlias(Base):
    __tablename__ = "aliases"
    __table_args__ = (
        UniqueConstraint("name", "alias"),
        Index("ix_aliases_checkpoint_id", "checkpoint_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    alias: Mapped[str] = mapped_column(String(128))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    checkpoint: Mapped[SqlCheckpoint] = relationship(back_populates="aliases")


class SqlAliasEvent(Base):
    """One move of an alias: set, moved from one version to another, or dropped (on removal)."""

    __tablename__ = "alias_events"
    __table_args__ = (Index("ix_alias_events_name_alias", "name", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    alias: Mapped[str] = mapped_column(String(128))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SqlLineageEdge(Base):
    """``child`` was made from ``parent`` by ``relation`` (``finetune``, ``fusion``, ...).

    ``parent_reference`` keeps the parent's ``name@version`` so the edge stays readable when
    the parent is not in this registry (an imported bundle) or has been removed.
    """

    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("child_id", "parent_reference", "relation"),
        Index("ix_lineage_edges_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id", ondelete="SET NULL"))
    parent_reference: Mapped[str] = mapped_column(String(256))
    child_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    relation: Mapped[str] = mapped_column(String(64))

    child: Mapped[SqlCheckpoint] = relationship(
        back_populates="parent_edges", foreign_keys=[child_id]
    )


class SqlTag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("checkpoint_id", "tag"), Index("ix_tags_tag", "tag"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(128))

    checkpoint: Mapped[SqlCheckpoint] = relationship(back_populates="tags")
