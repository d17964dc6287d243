"""Sweeps: outputs, determinism, refusals, worker processes sharing one study."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from qk.research import ResearchError, ResearchErrorReason
from qk.research.evaluator import Evaluator, trial_seed
from qk.research.sweep import SweepConfig, run_sweep
from qk.strategy import Deployment

from .conftest import descriptor_text, tape


def _config(tmp_path: Path, out: str, **kwargs: object) -> SweepConfig:
    path = tmp_path / "momentum.toml"
    path.write_text(descriptor_text())
    values: dict[str, object] = {
        "config": path, "params": ("fast=2:4", "slow=3:6"), "out": tmp_path / out,
        "synthetic_trades": 3_000, "data_seed": 5, "jobs": 1,
    }  # fmt: skip
    values.update(kwargs)
    return SweepConfig(**values)  # type: ignore[arg-type]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_grid_sweep_covers_the_grid_and_picks_the_best(tmp_path: Path) -> None:
    config = _config(tmp_path, "grid", sampler="grid", trials=100)
    summary = run_sweep(config, progress=False)
    rows = _rows(summary.results_csv)
    assert len(rows) == 3 * 4  # the budget stops at the grid's size
    assert {(r["fast"], r["slow"]) for r in rows} == {
        (str(f), str(s)) for f in range(2, 5) for s in range(3, 7)
    }
    refused = [r for r in rows if int(r["fast"]) >= int(r["slow"])]
    assert refused and all(r["state"] == "PRUNED" for r in refused)
    assert all("must be shorter" in r["refused"] for r in refused)
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    best = max(complete, key=lambda r: float(r["value"]))
    assert summary.best_value == pytest.approx(float(best["value"]))
    chosen = json.loads(summary.best_json.read_text())
    assert chosen["params"] == {"fast": best["fast"], "slow": best["slow"]}
    assert summary.report.exists() and summary.report.stat().st_size > 0
    for row in complete:
        assert row["seed"] == str(trial_seed(0, int(row["number"])))


def test_trial_metrics_are_the_evaluators(tmp_path: Path) -> None:
    config = _config(tmp_path, "check", sampler="grid", params=("fast=3", "slow=8,9"))
    summary = run_sweep(config, progress=False)
    rows = _rows(summary.results_csv)
    from qk.backtest.cli import load_trades
    from qk.strategy import load_descriptor

    deployment = load_descriptor(config.config)
    trades = load_trades(deployment, None, count=3_000, seed=5)
    for row in rows:
        expected = Evaluator(deployment, trades).run([{"fast": "3", "slow": row["slow"]}])[0]
        assert isinstance(expected, dict)
        assert float(row["sharpe"]) == expected["sharpe"]
        assert float(row["value"]) == expected["sharpe"]


def test_tpe_with_one_job_is_deterministic(tmp_path: Path) -> None:
    params = []
    for out in ("a", "b"):
        config = _config(tmp_path, out, trials=6, seed=11, params=("fast=2:10", "slow=11:40"))
        summary = run_sweep(config, progress=False)
        params.append([(r["fast"], r["slow"], r["value"]) for r in _rows(summary.results_csv)])
    assert params[0] == params[1]
    assert len(params[0]) == 6


def test_a_study_keeps_its_objective(tmp_path: Path) -> None:
    run_sweep(_config(tmp_path, "o", trials=2, objective="sharpe"), progress=False)
    with pytest.raises(ResearchError, match="maximises 'sharpe'") as caught:
        run_sweep(_config(tmp_path, "o", trials=2, objective="total_return"), progress=False)
    assert caught.value.reason is ResearchErrorReason.BAD_OBJECTIVE


def test_worker_processes_share_one_study(tmp_path: Path) -> None:
    config = _config(tmp_path, "jobs", sampler="grid", trials=4, jobs=2, engine="event",
                     params=("fast=2:3", "slow=5:6"))  # fmt: skip
    summary = run_sweep(config, progress=False)
    rows = _rows(summary.results_csv)
    assert [int(r["number"]) for r in rows] == list(range(4))
    assert all(r["state"] == "COMPLETE" for r in rows)
    study = optuna.load_study(study_name=config.study, storage=config.storage_url)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 4  # a worker that asked past the budget gave its trial back
    workers = {t.user_attrs["qk"]["worker"] for t in complete}
    assert workers and workers <= {0, 1}  # written through the shared storage by the workers
    assert summary.completed == 4


def test_sampled_latency_runs_on_the_event_engine_with_the_trial_seed(
    make_deployment: Callable[..., Deployment],
) -> None:
    deployment = make_deployment('latency = "1ms-900ms"\nlatency_seed = 1')
    trades = tape()
    evaluator = Evaluator(deployment, trades, "event")
    first = evaluator.run([{"fast": 2, "slow": 5}] * 2, [7, 7])
    other = evaluator.run([{"fast": 2, "slow": 5}], [8])
    assert first[0] == first[1]  # same seed, same draws
    assert first[0] != other[0]
    with pytest.raises(ResearchError, match="sampled"):
        Evaluator(deployment, trades, "vectorized")
