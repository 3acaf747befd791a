"""MASHANGYI_DISCLOSURE_CHECK_SECONDS: how often the server looks for last month to publish."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import ConfigError, Settings


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "MASHANGYI_DATA_DIR": str(tmp_path / "var"),
        **{f"MASHANGYI_{k}": v for k, v in values.items()},
    }


def test_the_check_runs_every_ten_minutes_unless_set(tmp_path: Path) -> None:
    assert Settings.from_env(_env(tmp_path), base_dir=tmp_path).disclosure_check_seconds == 600
    off = Settings.from_env(_env(tmp_path, DISCLOSURE_CHECK_SECONDS="0"), base_dir=tmp_path)
    assert off.disclosure_check_seconds == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("often", "MASHANGYI_DISCLOSURE_CHECK_SECONDS must be an integer"),
        ("-1", "MASHANGYI_DISCLOSURE_CHECK_SECONDS must be between 0 and 86400"),
        ("86401", "MASHANGYI_DISCLOSURE_CHECK_SECONDS must be between 0 and 86400"),
    ],
)
def test_a_bad_interval_fails_at_start(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(_env(tmp_path, DISCLOSURE_CHECK_SECONDS=value), base_dir=tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
