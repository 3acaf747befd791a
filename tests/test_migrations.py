"""The checked-in migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

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


async def test_upgrading_keeps_existing_topics(database_url: str) -> None:
    """A database holding topics from the first release upgrades without losing them."""
    await migrations.downgrade(database_url, "dab415f17d67")
    db = Database(database_url, pool_size=1)
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO regions (id, parent_id, level, name, path) "
                    "VALUES (1, NULL, 'city', '安和市', '/1/')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO rooms (id, region_id, name, code, chief, address, opening_hours, "
                    "created_at, updated_at) VALUES (1, 1, '议事室', 'ABC234', '', '', '', :t, :t)"
                ),
                {"t": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO topics (id, number, room_id, region_id, title, description, kind, "
                    "source, status, submitter_name, submitter_phone, consent, tracking_digest, "
                    "created_at, updated_at, version) VALUES (1, 'HA2026-000001', 1, 1, '旧议题', "
                    "'旧的议题内容', 'demand', 'qr', 'submitted', '', '', false, 'd', :t, :t, 1)"
                ),
                {"t": now},
            )
    finally:
        await db.close()
    await migrations.upgrade(database_url)
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT number, merged_into_id, classification_evidence FROM topics")
                )
            ).one()
    finally:
        await db.close()
    assert row[0] == "HA2026-000001" and row[1] is None
    assert row[2] in ({}, "{}")
