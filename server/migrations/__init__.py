"""Alembic migrations, run with ``mashangyi migrate`` (or ``make run``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine

HERE = Path(__file__).resolve().parent


def target_metadata() -> MetaData:
    """Every feature's tables, for autogenerate and the models-match-migrations test."""
    from server.accounts import tables as _accounts  # noqa: F401
    from server.awards import tables as _awards  # noqa: F401
    from server.bulletins import tables as _bulletins  # noqa: F401
    from server.core import audit as _audit  # noqa: F401
    from server.core.db import Base
    from server.deliberations import tables as _deliberations  # noqa: F401
    from server.disclosures import tables as _disclosures  # noqa: F401
    from server.outcomes import tables as _outcomes  # noqa: F401
    from server.rooms import tables as _rooms  # noqa: F401
    from server.topics import tables as _topics  # noqa: F401

    return Base.metadata


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def _with_connection(url: str, fn: Callable[..., object], *args: object) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> None:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = sync_conn
                fn(cfg, *args)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``."""
    await _with_connection(url, command.upgrade, revision)


async def downgrade(url: str, revision: str) -> None:
    await _with_connection(url, command.downgrade, revision)


async def revision(url: str, message: str) -> None:
    """Autogenerate a new revision from the difference between models and database."""

    def autogenerate(cfg: Config) -> None:
        command.revision(cfg, message=message, autogenerate=True)

    await _with_connection(url, autogenerate)
