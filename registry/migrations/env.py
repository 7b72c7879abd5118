"""Alembic environment: run by :func:`recgraft.registry.db.run_migrations` on its connection.

Migrations spell the schema out and never import the live ORM classes.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "recgraft's registry migrations run through recgraft (`recgraft registry upgrade`), "
        "not through the alembic command"
    )

context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
