"""Tracked sweeps: a sweep run, one trial run per completed trial under it (recorded by the worker
processes), results and artifacts in the run store; ``qk runs compare`` on a sweep and its best
trial; the MLflow mirror."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

from qk.backtest.cli import load_trades
from qk.research.cli import register as register_research
from qk.research.sweep import SweepConfig, run_sweep
from qk.runs import SWEEP_ARTIFACTS, RunStore, Tracking, fingerprint_array, fingerprint_file
from qk.runs.cli import register as register_runs
from qk.strategy import load_descriptor

from .conftest import descriptor_text


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QK_MLFLOW_TRACKING_URI", raising=False)


def _config(tmp_path: Path, **kwargs: object) -> SweepConfig:
    path = tmp_path / "momentum.toml"
    path.write_text(descriptor_text())
    values: dict[str, object] = {
        "config": path, "params": ("fast=2:4", "slow=3:6"), "out": tmp_path / "sweep",
        "synthetic_trades": 3_000, "data_seed": 5, "jobs": 1, "sampler": "grid",
        "objective": "total_return",
    }  # fmt: skip
    values.update(kwargs)
    return SweepConfig(**values)  # type: ignore[arg-type]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _metric(text: str) -> float | None:
    return None if text == "" else float(text)


def test_a_grid_sweep_on_two_workers_is_a_sweep_run_with_a_trial_run_per_completed_trial(
    tmp_path: Path,
) -> None:
    # The event engine: fresh worker interpreters would each compile the numba kernel.
    config = _config(tmp_path, jobs=2, engine="event")
    runs = tmp_path / "runs"
    summary = run_sweep(config, progress=False, tracking=Tracking(runs))
    store = RunStore(runs)
    (sweep,) = store.list(kind="sweep")
    assert summary.run_id == sweep["run_id"]
    assert sweep["status"] == "finished"
    deployment = load_descriptor(config.config)
    tape = fingerprint_array(load_trades(deployment, None, count=3_000, seed=5))
    assert sweep["data_fingerprint"] == tape
    assert sweep["params"] == {
        "space": {"fast": "2:4", "slow": "3:6"}, "sampler": "grid", "trials": 100,
        "objective": "total_return", "engine": "event", "seed": 0, "study": "qk-sweep",
        "data": {"synthetic": 3_000, "seed": 5},
    }  # fmt: skip
    assert sweep["info"]["jobs"] == 2
    assert sweep["config"]["sha256"] == fingerprint_file(config.config)

    rows = _rows(summary.results_csv)
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    pruned = [r for r in rows if r["state"] == "PRUNED"]
    assert len(rows) == 12 and complete and pruned  # fast >= slow is refused
    trials = {t["run_id"]: t for t in store.list(kind="trial")}
    # Exactly the completed trials have runs, each named in results.csv.
    assert sorted(trials) == sorted(r["run"] for r in complete)
    assert all(r["run"] == "" for r in pruned)
    assert len({t["inputs_hash"] for t in trials.values()}) == len(trials)
    workers = set()
    for row in complete:
        trial = trials[row["run"]]
        assert trial["status"] == "finished"
        assert trial["parent_run_id"] == sweep["run_id"]
        assert trial["params"] == {
            "strategy": {"fast": row["fast"], "slow": row["slow"]},
            "seed": int(row["seed"]),
        }
        assert trial["info"]["trial"] == int(row["number"])
        assert trial["info"]["value"] == float(row["value"])
        assert trial["data_fingerprint"] == tape
        assert trial["artifacts"] == []
        for name, value in trial["metrics"].items():
            assert value == _metric(row[name]), name
        workers.add(trial["info"]["worker"])
    assert workers <= {0, 1}

    best = max(complete, key=lambda r: (float(r["value"]), -int(r["number"])))
    assert sweep["metrics"] == {
        "completed": len(complete),
        "pruned": len(pruned),
        "best_value": float(best["value"]),
        "best_trial": int(best["number"]),
        "best_params": {"fast": best["fast"], "slow": best["slow"]},
    }
    assert sweep["info"]["best_trial_run_id"] == best["run"] == summary.best_run_id
    assert json.loads(summary.best_json.read_text())["run"] == best["run"]

    assert [a["name"] for a in sweep["artifacts"]] == list(SWEEP_ARTIFACTS)
    for artifact in sweep["artifacts"]:
        copy = store.run_dir(sweep["run_id"]) / "artifacts" / artifact["name"]
        assert fingerprint_file(copy) == "sha256:" + artifact["sha256"]
        assert copy.read_bytes() == (config.out / artifact["name"]).read_bytes()
    # Every run.json went through its temporary file and rename; none is left behind.
    assert [p.name for p in runs.rglob("*") if p.name.endswith(".tmp")] == []
    assert len(list(runs.iterdir())) == 1 + len(complete)


def test_an_untracked_sweep_writes_no_runs(tmp_path: Path) -> None:
    summary = run_sweep(_config(tmp_path), progress=False)
    assert summary.run_id is None and summary.best_run_id is None
    assert not (tmp_path / "runs").exists()
    assert {r["run"] for r in _rows(summary.results_csv)} == {""}


def test_a_failing_sweep_ends_its_run_failed_and_keeps_its_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("qk.research.sweep.write_outputs", broken)
    runs = tmp_path / "runs"
    with pytest.raises(OSError, match="disk full"):
        run_sweep(_config(tmp_path, params=("fast=2", "slow=5,6")), progress=False,
                  tracking=Tracking(runs))  # fmt: skip
    store = RunStore(runs)
    (sweep,) = store.list(kind="sweep")
    assert sweep["status"] == "failed" and sweep["artifacts"] == []
    trials = store.list(kind="trial")
    assert len(trials) == 2 and all(t["parent_run_id"] == sweep["run_id"] for t in trials)


def _cli(register: Any, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def test_qk_sweep_tracks_and_runs_compare_sets_the_sweep_beside_its_best_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    runs = tmp_path / "runs"
    assert _cli(register_research, "sweep", "--config", str(config.config), "--param", "fast=2:3",
                "--param", "slow=5,8", "--sampler", "grid", "--jobs", "1", "--synthetic", "3000",
                "--out", str(tmp_path / "o"), "--runs", str(runs), "--no-progress") == 0  # fmt: skip
    printed = capsys.readouterr().out
    store = RunStore(runs)
    (sweep,) = store.list(kind="sweep")
    best = sweep["info"]["best_trial_run_id"]
    assert f"run: {sweep['run_id']} (best trial: {best})" in printed
    assert _cli(register_runs, "runs", "compare", sweep["run_id"], best, "--runs", str(runs)) == 0
    table = capsys.readouterr().out.splitlines()
    assert sweep["run_id"] in table[0] and best in table[0]
    # name -> (marked as differing, the two values)
    cells = [re.split(r"\s{2,}", line[2:]) for line in table[1:-1]]
    rows = {
        c[0]: (line.startswith("* "), c[1:]) for line, c in zip(table[1:-1], cells, strict=True)
    }
    fast = store.get(best)["params"]["strategy"]["fast"]
    assert rows["metric.best_params.fast"] == (True, [fast, "-"])
    assert rows["param.strategy.fast"] == (True, ["-", fast])
    assert rows["parent"] == (True, ["-", sweep["run_id"]])
    assert rows["kind"] == (True, ["sweep", "trial"])
    assert not rows["data"][0]  # the same tape
    assert not rows["config sha256"][0]
    assert _cli(register_runs, "runs", "ls", "--kind", "sweep", "--runs", str(runs)) == 0
    listed = capsys.readouterr().out
    assert f"best_value={sweep['metrics']['best_value']}" in listed and "completed=4" in listed


def test_no_track_leaves_the_run_store_alone(tmp_path: Path) -> None:
    config = _config(tmp_path)
    runs = tmp_path / "runs"
    assert _cli(register_research, "sweep", "--config", str(config.config), "--param", "fast=2",
                "--param", "slow=5", "--jobs", "1", "--synthetic", "3000", "--out",
                str(tmp_path / "o"), "--runs", str(runs), "--no-track", "--no-progress") == 0  # fmt: skip
    assert not runs.exists()


class _FakeClient:
    """Records what the MLflow sink sends, as ``MlflowClient`` would receive it."""

    calls: ClassVar[list[tuple[Any, ...]]] = []

    def __init__(self, tracking_uri: str) -> None:
        self._runs = 0

    def get_experiment_by_name(self, name: str) -> None:
        return None

    def create_experiment(self, name: str) -> str:
        return "1"

    def create_run(self, experiment_id: str, tags: dict[str, str]) -> Any:
        self._runs += 1
        run_id = f"ml-{tags['qk.run_id']}"
        self.calls.append(("create_run", run_id, tags))
        return types.SimpleNamespace(info=types.SimpleNamespace(run_id=run_id))

    def log_param(self, run_id: str, key: str, value: str) -> None:
        self.calls.append(("log_param", run_id, key, value))

    def log_metric(self, run_id: str, key: str, value: float) -> None:
        self.calls.append(("log_metric", run_id, key, value))

    def log_artifact(self, run_id: str, path: str) -> None:
        self.calls.append(("log_artifact", run_id, Path(path).name))

    def set_terminated(self, run_id: str, status: str) -> None:
        self.calls.append(("set_terminated", run_id, status))


def test_the_sweep_and_its_trials_are_mirrored_to_mlflow_nested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _FakeClient.calls = []
    tracking_module = types.ModuleType("mlflow.tracking")
    tracking_module.MlflowClient = _FakeClient  # type: ignore[attr-defined]
    mlflow = types.ModuleType("mlflow")
    mlflow.tracking = tracking_module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", tracking_module)
    runs = tmp_path / "runs"
    # One job: the worker is this process, so it sees the fake module too.
    summary = run_sweep(_config(tmp_path, params=("fast=2", "slow=5,6")), progress=False,
                        tracking=Tracking(runs, "http://127.0.0.1:1"))  # fmt: skip
    assert summary.run_id is not None
    sweep_ml = f"ml-{summary.run_id}"
    store = RunStore(runs)
    trials = store.list(kind="trial")
    assert len(trials) == 2
    created = {c[1]: c[2] for c in _FakeClient.calls if c[0] == "create_run"}
    assert "mlflow.parentRunId" not in created[sweep_ml]
    for trial in trials:
        assert trial["mlflow_run_id"] == f"ml-{trial['run_id']}"
        assert created[trial["mlflow_run_id"]]["mlflow.parentRunId"] == sweep_ml
        assert ("set_terminated", trial["mlflow_run_id"], "FINISHED") in _FakeClient.calls
    metrics = {c[2]: c[3] for c in _FakeClient.calls if c[0] == "log_metric" and c[1] == sweep_ml}
    assert metrics["best_params.fast"] == 2.0
    assert metrics["best_value"] == summary.best_value
    uploaded = {c[2] for c in _FakeClient.calls if c[0] == "log_artifact" and c[1] == sweep_ml}
    assert uploaded == set(SWEEP_ARTIFACTS)
    assert _FakeClient.calls[-1] == ("set_terminated", sweep_ml, "FINISHED")


def test_a_storage_password_never_reaches_the_sweep_run(tmp_path: Path) -> None:
    from qk.research.sweep import _run_info

    config = _config(tmp_path, storage="postgresql://qk:s3cret@db.internal:5432/qk_sweeps")
    info = _run_info(config)
    assert "s3cret" not in json.dumps(info)
    assert info["storage"] == "postgresql://qk:***@db.internal:5432/qk_sweeps"
