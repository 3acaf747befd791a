"""The checked-in migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from server import migrations
from server.core.db import Database


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, migrations.target_metadata()))


async def schema_diff(url: str) -> list[object]:
    """What autogenerate would add to make the database match the models."""
    db = Database(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(_diff)
    finally:
        await db.close()


async def test_models_and_migrations_agree(database_url: str) -> None:
    assert await schema_diff(database_url) == []


async def test_downgrade_to_base_and_back(database_url: str) -> None:
    await migrations.downgrade(database_url, "base")
    assert await schema_diff(database_url), "after downgrade the tables should be gone"
    await migrations.upgrade(database_url)
    assert await schema_diff(database_url) == []
