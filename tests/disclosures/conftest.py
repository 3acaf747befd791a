"""Disclosure tests drive the scheduled job themselves (publish_due after moving the
FakeClock), so the app they start runs none of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, DISCLOSURE_CHECK_SECONDS="0")


@pytest.fixture
def web_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        PUBLIC_BASE_URL="http://msy.example.cn",
        DISCLOSURE_CHECK_SECONDS="0",
    )
