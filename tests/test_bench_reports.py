"""The report benchmark (benchmarks/reports.py) keeps working: a --quick run (30 rooms,
500 topics) on each backend, against the test database. Its timings are not judged; what
is checked is that every report ran and found what the seed put there."""

from __future__ import annotations

import asyncio
import importlib
import json
from pathlib import Path

import pytest

from tests.conftest import reset_postgres

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_quick_run_measures_every_report(
    backend: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # it imports seed_city, dispatch, intake
    reports = importlib.import_module("reports")
    out = tmp_path / "reports.json"
    argv = ["--quick", "--database-url", database_url, "--output", str(out)]
    try:
        status = reports.main(argv)
    finally:
        if backend == "postgresql":  # the benchmark reseeded the shared test schema
            asyncio.run(reset_postgres(database_url))

    report = json.loads(out.read_text("utf-8"))
    failed = [c for c in report["checks"]["items"] if not c["ok"]]
    assert status == 0 and not failed, failed
    assert report["backend"] == backend
    data = report["data"]
    assert data["topics"] == 500 and data["rooms"] == 30 == data["communities"]
    statuses = ("submitted", "accepted", "dispatched", "assigned", "handling", "escalated")
    statuses += ("scheduled", "deliberated", "implementing", "resolved", "reopened")
    assert sum(data.get(s, 0) for s in (*statuses, "rejected", "merged")) == 500
    assert 0.55 < data["resolved"] / 500 < 0.85
    assert data["sessions_held"] > 0 and data["outcomes_by"]["deliberation"] > 0
    assert data["outcomes_by"]["handler"] > data["outcomes_by"]["deliberation"]
    assert data["evaluations"] > 0 and data["reopened"] > 0
    assert data["deadlines"] > 500 and data["topics_with_a_late_stage"] > 0

    # Each report ran and found what the seed holds (the checks above compare them).
    d = report["disclosures"]
    assert d["runs"] == 2 and d["disclosures_written"] == data["towns"] + 30
    assert d["topics_in_month"] > 0 and d["cold_s"] > 0
    b = report["bulletin"]
    assert b["computed"]["runs"] == 2 and b["published"]["runs"] == 2
    assert b["city"]["received"] > 0 and b["lines"]["room"] == 30
    q = report["dashboard"]
    assert q["calls"] == 30 and q["regions_checked"] >= 3
    assert {"counts_by_region", "monthly_trend"} <= {r["query"] for r in q["per_query"]}
    assert all(r["p99_ms"] > 0 for r in q["per_query"])
    names = [v["what"] for v in report["verdicts"]]
    assert names[0].startswith("monthly disclosures") and "bulletin" in names[1]
    assert all(v["applies"] == (backend == "postgresql") for v in report["verdicts"][2:])
