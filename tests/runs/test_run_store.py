"""The run store life cycle: ids, run.json content, artifacts, statuses, sweeps and trials."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from qk.runs import RunError, RunStore, UnknownRunError, fingerprint_array, fingerprint_file
from qk.schemas import new_records

_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QK_MLFLOW_TRACKING_URI", raising=False)


def test_a_backtest_run_records_inputs_metrics_and_artifacts(tmp_path: Path) -> None:
    config = tmp_path / "deploy.toml"
    config.write_text("mode = 'backtest'\n")
    report = tmp_path / "report.html"
    report.write_text("<html></html>")
    trades = new_records("TradeEvent", 4)
    store = RunStore(tmp_path / "runs")

    run_id = store.start_run(
        "backtest", {"fast": 12, "quantity": Decimal("0.01")}, fingerprint_array(trades), config
    )
    store.log_metrics(run_id, {"sharpe": "1.25", "fills": 6})
    store.log_metrics(run_id, {"sharpe": "1.5"})
    store.log_artifact(run_id, report)
    store.write_artifact(run_id, "notes/why.txt", "first try")
    store.finish(run_id)

    assert _ID.match(run_id)
    record = json.loads((tmp_path / "runs" / run_id / "run.json").read_text())
    assert record["kind"] == "backtest" and record["status"] == "finished"
    assert record["params"] == {"fast": 12, "quantity": "0.01"}
    assert record["metrics"] == {"sharpe": "1.5", "fills": 6}
    assert (
        record["data_fingerprint"]
        == "sha256:" + __import__("hashlib").sha256(trades.tobytes()).hexdigest()
    )
    assert record["config"] == {"path": str(config), "sha256": fingerprint_file(config)}
    assert record["code_version"]["package_version"] == "0.1.0"
    assert record["environment"]["python"].startswith("3.")
    assert [a["name"] for a in record["artifacts"]] == ["report.html", "notes/why.txt"]
    assert (tmp_path / "runs" / run_id / "artifacts" / "report.html").read_text() == "<html></html>"
    assert record["finished_utc"] is not None and record["parent_run_id"] is None


def test_same_inputs_give_the_same_inputs_hash_and_different_ids(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    first = store.start_run("backtest", {"fast": 12}, "sha256:aa")
    second = store.start_run("backtest", {"fast": 12}, "sha256:aa")
    third = store.start_run("backtest", {"fast": 13}, "sha256:aa")
    hashes = [store.get(r)["inputs_hash"] for r in (first, second, third)]
    assert first != second
    assert hashes[0] == hashes[1] != hashes[2]


def test_sweep_trials_name_their_parent_and_list_by_kind(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    sweep = store.start_run("sweep", {"grid": {"fast": [5, 10]}}, "sha256:aa")
    trials = [store.start_run("trial", {"fast": f}, "sha256:aa", parent=sweep) for f in (5, 10)]
    assert [store.get(t)["parent_run_id"] for t in trials] == [sweep, sweep]
    assert [r["run_id"] for r in store.list(kind="trial")] == trials[::-1]
    assert [r["run_id"] for r in store.list(limit=1)] == [trials[1]]
    with pytest.raises(RunError, match="a trial needs its sweep's run id as parent"):
        store.start_run("trial", {}, None)
    with pytest.raises(UnknownRunError, match="no run 'nope'"):
        store.start_run("trial", {}, None, parent="nope")


def test_a_finished_run_takes_no_more_changes(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = store.start_run("backtest", {}, None)
    store.finish(run_id, "failed")
    assert store.get(run_id)["status"] == "failed"
    with pytest.raises(RunError, match=f"run {run_id} is failed; it takes no more changes"):
        store.log_metrics(run_id, {"x": 1})
    with pytest.raises(RunError, match="not 'done'"):
        store.finish(store.start_run("backtest", {}, None), "done")


def test_bad_values_and_names_are_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(RunError, match=r"params\.when: object .* cannot be stored in run\.json"):
        store.start_run("backtest", {"when": object()}, None)
    with pytest.raises(RunError, match="run kind 'optimise' is not one of backtest, sweep, trial"):
        store.start_run("optimise", {}, None)
    run_id = store.start_run("backtest", {"n": np.int64(3)}, None)
    assert store.get(run_id)["params"] == {"n": 3}
    with pytest.raises(RunError, match="must be a relative path inside the run"):
        store.write_artifact(run_id, "../escape.txt", "x")
    with pytest.raises(FileNotFoundError):
        store.log_artifact(run_id, tmp_path / "missing.html")


def test_runs_are_found_by_unique_prefix(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = store.start_run("backtest", {}, None)
    assert store.get(run_id[:-3])["run_id"] == run_id
    store.start_run("backtest", {}, None)
    with pytest.raises(UnknownRunError, match="matches 2 runs"):
        store.get(run_id[:8])
