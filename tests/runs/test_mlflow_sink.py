"""The optional MLflow sink, driven against a fake ``mlflow`` module injected into sys.modules."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

from qk.runs import RunStore, track_backtest


class FakeClient:
    """Records every call the sink makes, as MlflowClient would receive them."""

    calls: ClassVar[list[tuple[Any, ...]]] = []
    fail_on: ClassVar[str | None] = None

    def __init__(self, tracking_uri: str) -> None:
        self.calls.append(("client", tracking_uri))
        self._runs = 0

    def _record(self, *call: Any) -> None:
        if call[0] == self.fail_on:
            raise ConnectionError("server down")
        self.calls.append(call)

    def get_experiment_by_name(self, name: str) -> None:
        self._record("get_experiment_by_name", name)

    def create_experiment(self, name: str) -> str:
        self._record("create_experiment", name)
        return "7"

    def create_run(self, experiment_id: str, tags: dict[str, str]) -> Any:
        self._runs += 1
        self._record("create_run", experiment_id, tags)
        return types.SimpleNamespace(info=types.SimpleNamespace(run_id=f"ml{self._runs}"))

    def log_param(self, run_id: str, key: str, value: str) -> None:
        self._record("log_param", run_id, key, value)

    def log_metric(self, run_id: str, key: str, value: float) -> None:
        self._record("log_metric", run_id, key, value)

    def log_artifact(self, run_id: str, path: str) -> None:
        self._record("log_artifact", run_id, Path(path).name)

    def set_terminated(self, run_id: str, status: str) -> None:
        self._record("set_terminated", run_id, status)


@pytest.fixture
def fake_mlflow(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    FakeClient.calls = []
    FakeClient.fail_on = None
    mlflow = types.ModuleType("mlflow")
    tracking = types.ModuleType("mlflow.tracking")
    tracking.MlflowClient = FakeClient  # type: ignore[attr-defined]
    mlflow.tracking = tracking  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", tracking)
    monkeypatch.delenv("QK_MLFLOW_TRACKING_URI", raising=False)
    return FakeClient


def test_nothing_is_sent_unless_asked(tmp_path: Path, fake_mlflow: type[FakeClient]) -> None:
    store = RunStore(tmp_path)
    run_id = store.start_run("backtest", {"fast": 1}, None)
    store.finish(run_id)
    assert fake_mlflow.calls == []
    assert store.get(run_id)["mlflow_run_id"] is None


def test_env_uri_mirrors_params_metrics_artifacts_and_status(
    tmp_path: Path, fake_mlflow: type[FakeClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QK_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    out = tmp_path / "bt"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    summary = {"sharpe": "1.5", "fills": 6, "strategy": "momentum", "params": {"fast": "12"}}
    run_id = track_backtest(
        out, summary, {"strategy": {"fast": 12}}, "sha256:aa", None, runs_root=tmp_path / "runs"
    )
    calls = fake_mlflow.calls
    assert calls[0] == ("client", "http://127.0.0.1:5000")
    assert ("create_experiment", "quantkubera") in calls
    create = next(c for c in calls if c[0] == "create_run")
    assert (
        create[1] == "7" and create[2]["qk.run_id"] == run_id and create[2]["qk.kind"] == "backtest"
    )
    assert ("log_param", "ml1", "strategy.fast", "12") in calls
    assert ("log_metric", "ml1", "sharpe", 1.5) in calls and (
        "log_metric",
        "ml1",
        "fills",
        6.0,
    ) in calls
    assert not any(c[0] == "log_metric" and c[2] == "strategy" for c in calls)
    assert ("log_artifact", "ml1", "summary.json") in calls
    assert calls[-1] == ("set_terminated", "ml1", "FINISHED")
    assert RunStore(tmp_path / "runs").get(run_id)["mlflow_run_id"] == "ml1"


def test_trials_are_nested_under_their_sweep(tmp_path: Path, fake_mlflow: type[FakeClient]) -> None:
    store = RunStore(tmp_path, mlflow_uri="file:///tmp/mlruns")
    sweep = store.start_run("sweep", {}, None)
    store.start_run("trial", {}, None, parent=sweep)
    creates = [c for c in fake_mlflow.calls if c[0] == "create_run"]
    assert "mlflow.parentRunId" not in creates[0][2]
    assert creates[1][2]["mlflow.parentRunId"] == "ml1"


def test_a_failing_server_disables_the_sink_but_keeps_the_run(
    tmp_path: Path, fake_mlflow: type[FakeClient]
) -> None:
    fake_mlflow.fail_on = "log_metric"
    store = RunStore(tmp_path, mlflow_uri="http://127.0.0.1:1")
    run_id = store.start_run("backtest", {}, None)
    store.log_metrics(run_id, {"sharpe": 1.0})
    store.finish(run_id)
    record = store.get(run_id)
    assert record["status"] == "finished" and record["metrics"] == {"sharpe": 1.0}
    assert record["notes"] == ["mlflow log_metrics failed, sink disabled: server down"]
    assert not any(c[0] == "set_terminated" for c in fake_mlflow.calls)


def test_asked_for_but_not_installed_leaves_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes `import mlflow` raise ImportError
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    monkeypatch.setenv("QK_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    store = RunStore(tmp_path)
    run_id = store.start_run("backtest", {}, None)
    assert "mlflow is not installed" in store.get(run_id)["notes"][0]


def test_an_unreachable_server_at_start_leaves_a_note(
    tmp_path: Path, fake_mlflow: type[FakeClient]
) -> None:
    fake_mlflow.fail_on = "get_experiment_by_name"
    store = RunStore(tmp_path, mlflow_uri="http://127.0.0.1:1")
    run_id = store.start_run("backtest", {}, None)
    store.finish(run_id)
    record = store.get(run_id)
    assert record["status"] == "finished" and record["mlflow_run_id"] is None
    assert record["notes"] == ["mlflow setup failed, sink disabled: server down"]
