"""The `mashangyi` command as an operator runs it, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.__main__ import main

MASHANGYI = [sys.executable, "-m", "server"]


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MASHANGYI_")}
    base.update(
        {
            "MASHANGYI_DATA_DIR": str(tmp_path / "var"),
            "MASHANGYI_RECORDINGS_DIR": str(tmp_path / "rec"),
            "MASHANGYI_LOG_LEVEL": "WARNING",
        }
    )
    base.update(env)
    return subprocess.run(
        [*MASHANGYI, *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_bad_configuration_fails_at_start_with_one_clear_line(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", MASHANGYI_PORT="http")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mashangyi: configuration error: MASHANGYI_PORT must be an integer, got 'http'"
    )


def test_migrate_demo_import_and_create_user(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    demo = run(tmp_path, "demo")
    assert demo.returncode == 0 and "admin" in demo.stdout
    saved = json.loads((tmp_path / "var" / "demo.json").read_text("utf-8"))
    assert {login["username"] for login in saved["logins"]} >= {"admin", "dispatcher"}
    again = run(tmp_path, "demo")
    assert again.returncode == 0 and "already has regions" in again.stdout

    good = tmp_path / "rooms.csv"
    good.write_text("县区,镇街,村社区,议事室名称\n运河县,码头镇,新码头社区,新码头议事室\n", "utf-8")
    first = run(tmp_path, "import-rooms", str(good))
    assert first.returncode == 0 and "rooms created 1" in first.stdout
    assert "rooms created 0" in run(tmp_path, "import-rooms", str(good)).stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("县区,镇街,村社区,议事室名称\n运河县,码头镇,,缺社区\n", "utf-8")
    refused = run(tmp_path, "import-rooms", str(bad))
    assert refused.returncode == 1
    assert "nothing was imported" in refused.stderr and "Line 2: empty community" in refused.stderr

    user = run(
        tmp_path,
        "create-user",
        "chief.new",
        "--role",
        "room_chief",
        "--region",
        "1",
        "--name",
        "新室长",
    )
    assert user.returncode == 0 and "one-time password:" in user.stdout
    reset = run(tmp_path, "create-user", "chief.new", "--reset")
    assert reset.returncode == 0 and "new one-time password" in reset.stdout
    missing = run(tmp_path, "create-user", "nobody.here", "--reset")
    assert missing.returncode == 1 and "No account named" in missing.stderr


def _months_ago(n: int) -> str:
    """A local month ``n`` months before the current one (the command runs on the real
    clock)."""
    from datetime import datetime

    from server.core.clock import LOCAL_TZ
    from server.disclosures.model import Month

    month = Month.of(datetime.now(LOCAL_TZ), LOCAL_TZ)
    for _ in range(n):
        month = month.previous()
    return str(month)


def test_publish_disclosures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    rooms = tmp_path / "rooms.csv"
    rooms.write_text(
        "市,县区,镇街,村社区,议事室名称\n安和市,运河县,码头镇,新码头社区,新码头议事室\n", "utf-8"
    )
    imported = run(tmp_path, "import-rooms", str(rooms))
    assert imported.returncode == 0, imported.stderr
    last = _months_ago(1)

    done = run(tmp_path, "publish-disclosures", "--month", last)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"published {last} (version 1): 2 disclosures (1 towns, 1 communities), 0 topics"
    )
    again = run(tmp_path, "publish-disclosures", "--month", last)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.count("\n") == 1 and f"{last} is already published" in again.stderr

    # The other paths in-process (a subprocess costs seconds of imports each).
    env = {
        "MASHANGYI_DATA_DIR": str(tmp_path / "var"),
        "MASHANGYI_RECORDINGS_DIR": str(tmp_path / "rec"),
        "MASHANGYI_LOG_LEVEL": "WARNING",
    }
    for name in [k for k in os.environ if k.startswith("MASHANGYI_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    newer = ["publish-disclosures", "--month", last, "--new-version", "--reason", "更正测试"]
    assert main(newer) == 0
    assert f"published {last} (version 2)" in capsys.readouterr().out

    for args, message in [
        (["--month", _months_ago(0)], "is the current month"),
        (["--month", "2026-13"], "is not a month"),
        (["--month", last, "--new-version"], "--new-version needs --reason"),
        (["--month", last, "--reason", "更正测试"], "--reason goes with --new-version"),
        (
            ["--month", _months_ago(2), "--new-version", "--reason", "更正测试"],
            "not been published",
        ),
    ]:
        assert main(["publish-disclosures", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
