"""The live-room benchmark (benchmarks/live_fanout.py) keeps working: a --quick run of the
whole scenario (the real server in a subprocess, lean viewers, comments, votes, the
reference server) against the test PostgreSQL. Its figures are not checked, only that
every measurement ran, nothing was lost and the vote count was exact."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import _pg_url, reset_postgres

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "live_fanout.py"


def test_quick_run_measures_everything(tmp_path: Path) -> None:
    database_url = _pg_url()
    out = tmp_path / "live.json"
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
    for name in ("mashangyi", "reference"):
        [step] = report[name]
        assert step["viewers"] == 40 and step["sent"] > 0 and step["refused"] == 0
        assert step["lost_viewers"] == 0 and step["samples"] > 0
        assert step["server_cores"] >= 0 and step["p99_ms"] > 0
    votes = report["mashangyi"][0]["votes"]
    assert votes["accepted"] == votes["sent"] == 60 and votes["exact"]
    assert votes["duplicates_refused"] == votes["duplicates_sent"]
