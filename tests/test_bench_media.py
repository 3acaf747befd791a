"""The media benchmark (benchmarks/media.py) keeps working: a --quick run of the whole
scenario (the real server in a subprocess, three aiortc participants with pre-encoded
barcoded video, the livestream if the server takes it, the stock-aiortc reference) against
the test PostgreSQL. Its figures are not checked, only that every measurement ran and
that media flowed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import _pg_url, reset_postgres

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "media.py"


def check_window(w: dict[str, Any]) -> None:
    assert w["server_cores"] >= 0 and w["generator_cores"] >= 0
    assert w["p2p"]["samples"] > 0 and w["p2p"]["p99_ms"] > 0
    assert w["observer"]["sources"] == 2 and w["observer"]["min_fps"] > 0
    assert w["received_video_fps"]["min"] > 0 and w["received_audio_pps"]["min"] > 0


def test_quick_run_measures_everything(tmp_path: Path) -> None:
    database_url = _pg_url()
    out = tmp_path / "media.json"
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--quick",
                "--database-url",
                database_url,
                "--output",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:  # the benchmark dropped and rebuilt the shared test schema
        asyncio.run(reset_postgres(database_url))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text("utf-8"))
    ours, theirs = report["mashangyi"], report["reference"]
    for run in (ours, theirs):
        assert run["participants"] == 3 and run["all_flowing"], run
        check_window(run["windows"]["forwarding"])
    live = ours["switches"]["live"]
    if live["accepted"]:  # the livestream is on: its segments were read
        session = ours["windows"]["session"]
        check_window(session)
        assert session["hls"]["measured"] and session["hls"]["segments_with_barcodes"] > 0
    else:
        assert not ours["windows"].get("session", {}).get("hls", {}).get("measured")
    assert set(report["verdicts"]) >= {"server_cores", "p2p_p99", "hls", "cpu_ratio"}
