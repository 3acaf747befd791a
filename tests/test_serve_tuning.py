"""What `mashangyi serve` sets up around the app: the event loop and the garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import uvloop
from aiohttp import web

from server.__main__ import _event_loop, _tune_gc
from server.settings import Settings


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_configured_event_loop_is_the_one_served_on(tmp_path: Path) -> None:
    settings = Settings.from_env({"MASHANGYI_DATA_DIR": str(tmp_path)}, base_dir=tmp_path)
    for name, uses_uvloop in (("uvloop", True), ("asyncio", False)):
        loop = _event_loop(replace(settings, event_loop=name))
        try:
            assert isinstance(loop, uvloop.Loop) is uses_uvloop
        finally:
            loop.close()


async def test_startup_objects_are_frozen_out_of_later_collections(restore_gc: None) -> None:
    app = web.Application()
    gc.unfreeze()
    _tune_gc(app)
    assert gc.get_threshold() == (50_000, 20, 10)
    assert gc.get_freeze_count() == 0
    for hook in app.on_startup:
        await hook(app)
    assert gc.get_freeze_count() > 0
