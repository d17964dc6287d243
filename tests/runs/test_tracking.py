"""track_backtest on the outputs of a real (small) backtest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qk.backtest.cli import load_trades
from qk.backtest.engine import run_backtest
from qk.backtest.report import write_outputs
from qk.runs import RunStore, fingerprint_array, track_backtest
from qk.runs.tracking import split_summary
from qk.strategy import load_descriptor

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "momentum_sim.toml"


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QK_MLFLOW_TRACKING_URI", raising=False)


def test_a_backtest_is_tracked_with_its_outputs_as_artifacts(tmp_path: Path) -> None:
    deployment = load_descriptor(CONFIG)
    trades = load_trades(deployment, None, count=5_000, seed=3)
    result = run_backtest(deployment, trades, params={})
    summary = write_outputs(result, tmp_path / "bt")
    params = {"strategy": summary["params"], "data": {"synthetic": 5_000, "seed": 3}}

    run_id = track_backtest(
        tmp_path / "bt",
        summary,
        params,
        fingerprint_array(trades),
        CONFIG,
        runs_root=tmp_path / "runs",
    )

    record = RunStore(tmp_path / "runs").get(run_id)
    assert record["status"] == "finished"
    assert record["metrics"]["trades_processed"] == 5_000
    assert record["metrics"]["final_equity"] == summary["final_equity"]
    assert "strategy_id" not in record["metrics"] and "first_trade_ns" not in record["metrics"]
    assert record["info"]["instruments"] == ["BTCUSDT.SIM"]
    assert sorted(a["name"] for a in record["artifacts"]) == ["report.html", "summary.json"]
    copied = tmp_path / "runs" / run_id / "artifacts" / "summary.json"
    assert json.loads(copied.read_text()) == json.loads(
        (tmp_path / "bt" / "summary.json").read_text()
    )
    again = track_backtest(
        tmp_path / "bt",
        summary,
        params,
        fingerprint_array(trades),
        CONFIG,
        runs_root=tmp_path / "runs",
    )
    assert RunStore(tmp_path / "runs").get(again)["inputs_hash"] == record["inputs_hash"]


def test_split_summary_keeps_exact_decimal_strings() -> None:
    metrics, info = split_summary(
        {"final_equity": "9991.8571106", "fills": 6, "fee_model": None, "currency": "USDT",
         "params": {"fast": "12"}, "last_trade_ns": 5, "flag": True}
    )  # fmt: skip
    assert metrics == {"final_equity": "9991.8571106", "fills": 6}
    assert info == {"fee_model": None, "currency": "USDT", "last_trade_ns": 5, "flag": True}
