"""The first registry schema: domains, checkpoints, aliases, alias events, lineage, tags.

Revision ID: 0001
Revises:
Create Date: 2024-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_domains"),
        sa.UniqueConstraint("name", name="uq_domains_name"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("encoder", sa.String(128), nullable=False),
        sa.Column("encoder_config", sa.JSON(), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("dataset_fingerprint", sa.String(256), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("precision", sa.String(32), nullable=False),
        sa.Column("torch_version", sa.String(64), nullable=True),
        sa.Column("recgraft_version", sa.String(64), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_checkpoints"),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name="fk_checkpoints_domain_id_domains",
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint("name", "version", name="uq_checkpoints_name_version"),
    )
    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_aliases"),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name="fk_aliases_checkpoint_id_checkpoints",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("name", "alias", name="uq_aliases_name_alias"),
    )
    op.create_table(
        "alias_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alias_events"),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("parent_reference", sa.String(256), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lineage_edges"),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["checkpoints.id"],
            name="fk_lineage_edges_parent_id_checkpoints",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["checkpoints.id"],
            name="fk_lineage_edges_child_id_checkpoints",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "child_id",
            "parent_reference",
            "relation",
            name="uq_lineage_edges_child_id_parent_reference_relation",
        ),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name="fk_tags_checkpoint_id_checkpoints",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("checkpoint_id", "tag", name="uq_tags_checkpoint_id_tag"),
    )


def downgrade() -> None:
    for table in ("tags", "lineage_edges", "alias_events", "aliases", "checkpoints", "domains"):
        op.drop_table(table)
