"""Indexes for the lookups ``list``, ``lineage`` and ``verify`` make.

Revision ID: 0002
Revises: 0001
Create Date: 2024-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_checkpoints_digest", "checkpoints", ["digest"]),
    ("ix_checkpoints_domain_id", "checkpoints", ["domain_id"]),
    ("ix_checkpoints_created_at", "checkpoints", ["created_at"]),
    ("ix_aliases_checkpoint_id", "aliases", ["checkpoint_id"]),
    ("ix_alias_events_name_alias", "alias_events", ["name", "alias"]),
    ("ix_lineage_edges_parent_id", "lineage_edges", ["parent_id"]),
    ("ix_tags_tag", "tags", ["tag"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
