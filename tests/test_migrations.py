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


async def test_models_and_migrations_agree(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await db.close()


async def test_downgrade_to_base_and_back(database_url: str) -> None:
    await migrations.downgrade(database_url, "base")
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert diff, "after downgrade the tables should be gone"
    finally:
        await db.close()
    await migrations.upgrade(database_url)
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await db.close()
