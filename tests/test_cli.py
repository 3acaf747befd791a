"""The `mashangyi` command as an operator runs it, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
