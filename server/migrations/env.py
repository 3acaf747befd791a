"""Alembic environment: always handed a live connection by server.migrations."""

from __future__ import annotations

from alembic import context

from server.migrations import target_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `mashangyi migrate`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
