"""One-write runs (a sweep's trials), info updates, dates in params, and many processes writing
trials under one sweep while another reads the store."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from qk.runs import RunError, RunStore, Tracking, TrialRecorder, UnknownRunError


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QK_MLFLOW_TRACKING_URI", raising=False)


def test_record_run_writes_an_ended_run_with_its_metrics(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    sweep = store.start_run("sweep", {"space": {"fast": "2:4"}}, "sha256:aa")
    trial = store.record_run(
        "trial", {"strategy": {"fast": "3"}, "seed": 9}, "sha256:aa",
        metrics={"sharpe": 1.25, "fills": 4}, parent=sweep, info={"trial": 0},
    )  # fmt: skip
    record = store.get(trial)
    assert record["status"] == "finished" and record["finished_utc"] is not None
    assert record["metrics"] == {"sharpe": 1.25, "fills": 4}
    assert record["parent_run_id"] == sweep and record["info"] == {"trial": 0}
    with pytest.raises(RunError, match="takes no more changes"):
        store.log_metrics(trial, {"sharpe": 2})
    failed = store.record_run("backtest", {}, None, metrics={}, status="failed")
    assert store.get(failed)["status"] == "failed"


def test_record_run_refuses_bad_input_before_creating_anything(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(RunError, match="not 'running'"):
        store.record_run("backtest", {}, None, metrics={}, status="running")
    with pytest.raises(RunError, match=r"metrics\.x: object"):
        store.record_run("backtest", {}, None, metrics={"x": object()})
    with pytest.raises(RunError, match="needs its sweep's run id"):
        store.record_run("trial", {}, None, metrics={})
    with pytest.raises(UnknownRunError, match="no run 'nope'"):
        store.record_run("trial", {}, None, metrics={}, parent="nope")
    assert store.list() == []
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_log_info_adds_fields_to_a_running_run_only(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = store.start_run("sweep", {}, None, info={"jobs": 2})
    store.log_info(run_id, {"best_trial_run_id": "x"})
    assert store.get(run_id)["info"] == {"jobs": 2, "best_trial_run_id": "x"}
    store.finish(run_id)
    with pytest.raises(RunError, match="is finished"):
        store.log_info(run_id, {"late": 1})


def test_dates_and_times_are_stored_as_iso_text(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    when = datetime(2021, 1, 8, 12, 30, tzinfo=UTC)
    run_id = store.start_run("backtest", {"from": date(2021, 1, 8), "at": when, "to": None}, None)
    assert store.get(run_id)["params"] == {
        "from": "2021-01-08",
        "at": "2021-01-08T12:30:00+00:00",
        "to": None,
    }


def test_trial_recorder_crosses_the_process_boundary_as_json(tmp_path: Path) -> None:
    recorder = TrialRecorder(Tracking(tmp_path, "http://127.0.0.1:9"), "sweep-id", None, None)
    again = TrialRecorder.from_json(recorder.to_json())
    assert again.tracking == recorder.tracking and again.sweep_run_id == "sweep-id"
    assert again.config is None and again.data_fingerprint is None
    with pytest.raises(RunError, match="field 'sweep_run_id' must be a string, not 3"):
        TrialRecorder.from_json(json.dumps({"runs": "r", "sweep_run_id": 3}))
    with pytest.raises(RunError, match="not JSON"):
        TrialRecorder.from_json("{")


_WRITER = textwrap.dedent(
    """
    import sys
    from qk.runs import TrialRecorder

    recorder = TrialRecorder.from_json(sys.argv[1])
    worker, count = int(sys.argv[2]), int(sys.argv[3])
    for n in range(count):
        recorder.record(worker * 1000 + n, {"fast": str(n)}, n, {"sharpe": n / 7},
                        {"worker": worker})
    """
)


def test_trials_from_many_processes_leave_every_run_json_whole(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    config = tmp_path / "d.toml"
    config.write_text("mode = 'backtest'\n")
    sweep = store.start_run("sweep", {"space": {"fast": "0:29"}}, "sha256:bb", config)
    recorder = TrialRecorder(Tracking(store.root), sweep, "sha256:bb", config)
    workers, per_worker = 3, 30
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, recorder.to_json(), str(w), str(per_worker)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    seen = 0
    while any(p.poll() is None for p in procs):
        # A reader meanwhile never meets a partial run.json: each is old, new or absent.
        seen = max(seen, len(store.list(kind="trial")))
    errors = [p.stderr.read() if p.stderr else "" for p in procs]
    assert [p.returncode for p in procs] == [0] * workers, errors
    trials = store.list(kind="trial")
    assert len(trials) == workers * per_worker >= seen
    assert len({t["run_id"] for t in trials}) == workers * per_worker
    assert {t["parent_run_id"] for t in trials} == {sweep}
    assert sorted(t["info"]["trial"] for t in trials) == sorted(
        w * 1000 + n for w in range(workers) for n in range(per_worker)
    )
    for trial in trials:
        assert trial["status"] == "finished"
        assert trial["metrics"]["sharpe"] == int(trial["params"]["seed"]) / 7
        assert trial["config"]["sha256"] == store.get(sweep)["config"]["sha256"]
    assert [p for p in store.root.rglob("*") if p.name.endswith(".tmp")] == []


def test_bad_info_is_refused_before_the_run_directory_exists(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    with pytest.raises(RunError, match=r"info\.when: object"):
        store.start_run("backtest", {}, None, info={"when": object()})
    assert not store.root.exists() or list(store.root.iterdir()) == []
