from __future__ import annotations

import importlib.util
import stat
from pathlib import Path

import pytest

from server.settings import ConfigError, RateLimit, Settings


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "MASHANGYI_DATA_DIR": str(tmp_path / "var"),
        **{f"MASHANGYI_{k}": v for k, v in values.items()},
    }


def test_defaults_are_embedded_and_secret_is_created_once(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path), base_dir=tmp_path)
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'var' / 'mashangyi.db'}"
    assert s.redis_url is None
    assert s.public_base_url == "http://127.0.0.1:8080"
    assert s.recordings_dir == tmp_path / "recordings" and s.recordings_dir.is_dir()
    secret_file = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    again = Settings.from_env(env(tmp_path), base_dir=tmp_path)
    assert again.secret_key == s.secret_key and len(s.secret_key) >= 32


def test_plain_postgres_url_gets_the_async_driver(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path, DATABASE_URL="postgresql://u@db/x"), base_dir=tmp_path)
    assert s.database_url == "postgresql+asyncpg://u@db/x"
    assert not s.is_sqlite


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "MASHANGYI_PORT must be an integer"),
        ("PORT", "70000", "MASHANGYI_PORT must be between 1 and 65535"),
        ("DATABASE_URL", "mysql://x/y", "must use sqlite or postgresql"),
        ("DATABASE_URL", "nonsense", "must be a URL"),
        ("REDIS_URL", "http://localhost", "MASHANGYI_REDIS_URL must be a redis:// URL"),
        ("PUBLIC_BASE_URL", "example.cn", "MASHANGYI_PUBLIC_BASE_URL must be an absolute"),
        ("TOPIC_PREFIX", "ha1", "MASHANGYI_TOPIC_PREFIX must be 1-6 capital letters"),
        ("RATE_LIMIT_IP", "lots", "MASHANGYI_RATE_LIMIT_IP must look like COUNT/SECONDS"),
        ("RATE_LIMIT_DEVICE", "0/60", "needs a positive count"),
        ("TRUST_FORWARDED_FOR", "maybe", "must be true or false"),
        ("LOG_LEVEL", "LOUD", "MASHANGYI_LOG_LEVEL must be"),
        ("EVENT_LOOP", "trio", "MASHANGYI_EVENT_LOOP must be uvloop or asyncio"),
        ("ICE_SERVERS", "stun:x", "MASHANGYI_ICE_SERVERS must be a JSON list"),
        ("ICE_SERVERS", '{"urls": "stun:x"}', "must be a JSON list of ICE servers"),
        ("ICE_SERVERS", '[{"urls": "http://x"}]', "urls starting stun: or turn:"),
        ("ICE_SERVERS", '[{"urls": ["turn:t:3478"]}]', "needs a username and credential"),
        ("MEDIA_SLOTS", "40", "MASHANGYI_MEDIA_SLOTS must be between 1 and 16"),
        ("RECORDING_RETENTION_DAYS", "0", "MASHANGYI_RECORDING_RETENTION_DAYS must be between"),
    ],
)
def test_bad_config_fails_with_one_line_naming_the_variable(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env(tmp_path, **{name: value}), base_dir=tmp_path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_event_loop_defaults_to_uvloop_where_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings.from_env(env(tmp_path), base_dir=tmp_path).event_loop == "uvloop"
    plain = Settings.from_env(env(tmp_path, EVENT_LOOP="asyncio"), base_dir=tmp_path)
    assert plain.event_loop == "asyncio"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "uvloop" else real_find_spec(name, *a),
    )
    assert Settings.from_env(env(tmp_path), base_dir=tmp_path).event_loop == "asyncio"
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        Settings.from_env(env(tmp_path, EVENT_LOOP="uvloop"), base_dir=tmp_path)


def test_ice_servers_are_read_as_the_browser_takes_them(tmp_path: Path) -> None:
    value = '[{"urls": "stun:stun.example.cn:3478"}, {"urls": ["turn:t.example.cn"], '
    value += '"username": "u", "credential": "p"}]'
    s = Settings.from_env(env(tmp_path, ICE_SERVERS=value), base_dir=tmp_path)
    assert s.ice_servers == (
        {"urls": ["stun:stun.example.cn:3478"]},
        {"urls": ["turn:t.example.cn"], "username": "u", "credential": "p"},
    )
    assert Settings.from_env(env(tmp_path), base_dir=tmp_path).ice_servers == ()


def test_short_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("short")
    with pytest.raises(ConfigError, match="shorter than 32"):
        Settings.from_env(env(tmp_path), base_dir=tmp_path)


def test_rate_limit_parses() -> None:
    assert RateLimit.parse("X", "5/60") == RateLimit(5, 60)
