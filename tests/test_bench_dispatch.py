"""The dispatch benchmark (benchmarks/dispatch.py) keeps working: a --quick run of its main
path on each backend, against the test database. Its figures are not checked, only that
every measurement ran and was written."""

from __future__ import annotations

import asyncio
import importlib
import json
from pathlib import Path

import pytest

from tests.conftest import reset_postgres

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_quick_run_measures_everything(
    backend: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # it imports intake and similar_probe
    dispatch = importlib.import_module("dispatch")
    out = tmp_path / "dispatch.json"
    argv = ["--quick", "--explain", "--database-url", database_url, "--output", str(out)]
    try:
        assert dispatch.main(argv) == 0
    finally:
        if backend == "postgresql":  # the benchmark reseeded the shared test schema
            asyncio.run(reset_postgres(database_url))

    report = json.loads(out.read_text("utf-8"))
    assert report["backend"] == backend
    data = report["data"]
    assert data["topics"] == 400 and data["rooms"] == 60
    assert sum(data["statuses"].values()) == 400
    assert 0 < data["open_topics"] < 400
    assert report["seeding"]["rows"]["deadlines"] > 400
    assert report["build"]["indexed_open_topics"] == data["open_topics"]

    intake = report["intake"]
    assert intake["total"]["n"] == 40 and intake["total"]["p99_ms"] > 0
    assert intake["classify"]["p50_ms"] > 0

    queue = {row["name"]: row for row in report["queue"]}
    assert len(queue) == 13
    for row in queue.values():
        assert row["n"] == 20 and row["p99_ms"] > 0 and row["queries_per_call"] >= 2
        assert row["explain"], row["name"]
    # The county dispatcher sees their county only; the city dispatcher sees every topic.
    assert queue["city dispatcher, no filter"]["matching_topics"] == 400
    assert 0 < queue["no filter"]["matching_topics"] < 400

    assert [c["actor"] for c in report["clusters"]] == ["city", "county"]
    assert all(c["n"] == 2 and c["days"] == 30 for c in report["clusters"])
    assert report["verdicts"][0]["what"] == "classification + similar lookup"
