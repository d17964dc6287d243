"""The in-process backtest: momentum on seeded synthetic trades, its outputs, its errors."""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from qk.backtest import (
    BacktestError,
    BacktestErrorReason,
    BacktestResult,
    run_backtest,
    write_outputs,
)
from qk.backtest.cli import configure_parser, load_trades, run
from qk.strategy import Deployment, load_descriptor

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "momentum_sim.toml"
TRADES = 120_000  # ~100 one-minute bars of synthetic data: enough crosses for fast=3, slow=8
PARAMS = {"fast": "3", "slow": "8"}
OUTPUTS = (
    "trades.csv", "round_trips.csv", "orders.csv", "equity.csv", "summary.json", "report.html",
)  # fmt: skip


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return load_descriptor(CONFIG)


@pytest.fixture(scope="module")
def trades(deployment: Deployment) -> npt.NDArray[np.void]:
    return load_trades(deployment, None, count=TRADES)


@pytest.fixture(scope="module")
def result(deployment: Deployment, trades: npt.NDArray[np.void]) -> BacktestResult:
    return run_backtest(deployment, trades, params=PARAMS)


@pytest.fixture(scope="module")
def out_dir(result: BacktestResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bt")
    write_outputs(result, out)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _digest(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in OUTPUTS}


def test_run_when_momentum_on_synthetic_trades_then_it_trades_and_writes_every_file(
    result: BacktestResult, out_dir: Path
) -> None:
    assert result.trades_processed == TRADES
    assert result.bars_delivered > 50
    for name in OUTPUTS:
        assert (out_dir / name).stat().st_size > 0, name
    fills = _rows(out_dir / "trades.csv")
    assert len(fills) >= 4
    assert {row["side"] for row in fills} == {"BUY", "SELL"}
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["fills"] == len(fills)
    assert summary["orders"] == len(_rows(out_dir / "orders.csv"))
    assert summary["bars_delivered"] == result.bars_delivered


def test_equity_when_read_back_then_equity_is_cash_plus_unrealized_and_drawdown_not_positive(
    out_dir: Path,
) -> None:
    rows = _rows(out_dir / "equity.csv")
    assert len(rows) > 50
    for row in rows:
        assert Decimal(row["equity"]) == Decimal(row["cash"]) + Decimal(row["unrealized_pnl"])
        assert Decimal(row["drawdown"]) <= 0
    assert [int(r["ts_ns"]) for r in rows] == sorted(int(r["ts_ns"]) for r in rows)


def test_summary_when_run_ends_then_pnl_and_metrics_are_consistent(
    result: BacktestResult, out_dir: Path
) -> None:
    summary = json.loads((out_dir / "summary.json").read_text())
    capital = Decimal(summary["initial_capital"])
    final = Decimal(summary["final_equity"])
    assert final == capital + Decimal(summary["realized_pnl"]) + Decimal(
        summary["unrealized_pnl"]
    ) - Decimal(summary["fees"])
    assert summary["total_return"] == pytest.approx(float(final / capital - 1))
    assert summary["max_drawdown"] <= 0
    assert 0 <= summary["exposure_time"] <= 1
    assert summary["turnover"] > 0
    assert summary["sharpe"] is not None and summary["sortino"] is not None
    # Momentum sells its whole position on a cross down: buys and sells add up, or one is open.
    fills = _rows(out_dir / "trades.csv")
    bought = sum(Decimal(r["quantity"]) for r in fills if r["side"] == "BUY")
    sold = sum(Decimal(r["quantity"]) for r in fills if r["side"] == "SELL")
    assert bought - sold == result.equity[-1].net_quantity


def test_slippage_when_fills_have_decision_prices_then_total_is_sum_of_fills(
    out_dir: Path,
) -> None:
    fills = _rows(out_dir / "trades.csv")
    summary = json.loads((out_dir / "summary.json").read_text())
    for row in fills:
        sign = 1 if row["side"] == "BUY" else -1
        expected = (Decimal(row["price"]) - Decimal(row["decision_price"])) * sign
        assert Decimal(row["slippage"]) == expected * Decimal(row["quantity"])
    assert Decimal(summary["slippage_total"]) == sum(Decimal(r["slippage"]) for r in fills)


CHARTS = ("Equity (USDT)", "Drawdown (fraction of peak, underwater)",
          "Exposure (gross exposure / equity)", "Turnover per ", "Round-trip PnL histogram")  # fmt: skip


def test_report_when_written_then_self_contained_with_every_chart_and_section(
    out_dir: Path,
) -> None:
    page = (out_dir / "report.html").read_text()
    assert page.count("<svg") == len(CHARTS)
    for title in CHARTS:
        assert f'aria-label="{title}' in page, title
    for section in ("Monthly returns", "Trade distribution", "Slippage by instrument"):
        assert f"<h2>{section}" in page, section
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_run_twice_when_same_inputs_then_outputs_are_byte_identical(
    deployment: Deployment, trades: npt.NDArray[np.void], out_dir: Path, tmp_path: Path
) -> None:
    again = run_backtest(deployment, trades.copy(), params=dict(PARAMS))
    write_outputs(again, tmp_path)
    assert _digest(tmp_path) == _digest(out_dir)


def test_params_when_fast_overridden_then_strategy_uses_it(result: BacktestResult) -> None:
    assert result.params.fast == 3
    assert result.params.slow == 8
    assert result.params.quantity == Decimal("0.01")  # from the descriptor, not overridden


def test_params_when_unknown_name_then_bad_params_naming_it(
    deployment: Deployment, trades: npt.NDArray[np.void]
) -> None:
    with pytest.raises(BacktestError, match="fastest") as caught:
        run_backtest(deployment, trades[:10], params={"fastest": "3"})
    assert caught.value.reason is BacktestErrorReason.BAD_PARAMS


def test_params_when_out_of_range_then_bad_params(
    deployment: Deployment, trades: npt.NDArray[np.void]
) -> None:
    with pytest.raises(BacktestError, match="fast") as caught:
        run_backtest(deployment, trades[:10], params={"fast": "0"})
    assert caught.value.reason is BacktestErrorReason.BAD_PARAMS


def test_run_when_trades_go_backwards_then_unsorted_data(
    deployment: Deployment, trades: npt.NDArray[np.void]
) -> None:
    tape = trades[:10].copy()
    tape["ts_event"][5] = tape["ts_event"][0] - 1
    with pytest.raises(BacktestError, match="trade 5") as caught:
        run_backtest(deployment, tape)
    assert caught.value.reason is BacktestErrorReason.UNSORTED_DATA


def test_run_when_trade_of_another_instrument_then_wrong_records(
    deployment: Deployment, trades: npt.NDArray[np.void]
) -> None:
    tape = trades[:10].copy()
    tape["instrument_id"][3] = 999
    with pytest.raises(BacktestError, match="999") as caught:
        run_backtest(deployment, tape)
    assert caught.value.reason is BacktestErrorReason.WRONG_RECORDS


def test_run_when_no_trades_then_no_data(
    deployment: Deployment, trades: npt.NDArray[np.void]
) -> None:
    with pytest.raises(BacktestError) as caught:
        run_backtest(deployment, trades[:0])
    assert caught.value.reason is BacktestErrorReason.NO_DATA


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="qk backtest")
    configure_parser(parser)
    return run(parser.parse_args([*argv, "--no-track"]))


def test_cli_when_run_then_prints_summary_and_report_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli("--config", str(CONFIG), "--synthetic", str(TRADES), "--param", "fast=3",
                "--param", "slow=8", "--out", str(tmp_path))  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'report.html'}" in out
    assert "sharpe" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["params"]["fast"] == "3"


def test_cli_when_fast_not_below_slow_then_exit_2_with_the_strategy_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli("--config", str(CONFIG), "--synthetic", "100", "--param", "fast=30",
                "--out", str(tmp_path))  # fmt: skip
    assert code == 2
    assert "fast (30) must be shorter than slow (26)" in capsys.readouterr().err


def test_cli_when_param_malformed_then_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli("--config", str(CONFIG), "--param", "fast", "--out", str(tmp_path))
    assert code == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_cli_when_config_has_unknown_key_then_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    text = CONFIG.read_text().replace(
        'class = "../strategies/', f'class = "{CONFIG.parent}/../strategies/'
    )
    bad.write_text(text.replace("[market]", '[market]\nvenu = "SIM"'))
    code = _cli("--config", str(bad), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "venu" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_when_data_file_missing_then_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli("--config", str(CONFIG), "--data", str(tmp_path / "none.csv"),
                "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 2
    assert "none.csv" in capsys.readouterr().err


def _descriptor_with_models(tmp_path: Path, models: str) -> Path:
    text = CONFIG.read_text().replace(
        'class = "../strategies/', f'class = "{CONFIG.parent}/../strategies/'
    )
    text = text.replace('path = "data/', f'path = "{CONFIG.parent}/data/')
    text = text.replace('fee = "sim.spot"', models)
    path = tmp_path / "models.toml"
    path.write_text(text)
    return path


def test_run_when_fee_model_unknown_then_unknown_fee_model_listing_known_ones(
    tmp_path: Path, trades: npt.NDArray[np.void]
) -> None:
    deployment = load_descriptor(_descriptor_with_models(tmp_path, 'fee = "nope"'))
    with pytest.raises(BacktestError, match=r"binance\.spot") as caught:
        run_backtest(deployment, trades[:10])
    assert caught.value.reason is BacktestErrorReason.UNKNOWN_FEE_MODEL


def test_run_when_fee_model_does_not_cover_the_venue_then_refused_before_running(
    tmp_path: Path, trades: npt.NDArray[np.void]
) -> None:
    deployment = load_descriptor(_descriptor_with_models(tmp_path, 'fee = "binance.spot"'))
    with pytest.raises(BacktestError, match=r"BTCUSDT\.SIM") as caught:
        run_backtest(deployment, trades[:10])
    assert caught.value.reason is BacktestErrorReason.FEE_MODEL_NOT_APPLICABLE


PROBE_SOURCE = '''
from decimal import Decimal

from qk.schemas.enums import Side
from qk.strategy import Strategy


class BarProbe(Strategy):
    """Buys on the first bar; writes down which hook ran while which other hook was running."""

    seen: list = []

    def on_start(self):
        self.inside = None

    def _enter(self, name):
        BarProbe.seen.append((name, self.inside))
        self.inside = name

    def on_bar(self, bar):
        self._enter("bar")
        if not any(name == "bar" for name, _ in BarProbe.seen[:-1]):
            self.context.submit_market(int(bar["instrument_id"]), Side.BUY, Decimal("0.001"))
        self.inside = None

    def on_order_update(self, update):
        self._enter("update")
        self.inside = None

    def on_fill(self, fill):
        self._enter("fill")
        self.inside = None
'''


def test_bar_when_strategy_submits_in_on_bar_then_order_hooks_run_after_it_returns(
    tmp_path: Path, trades: npt.NDArray[np.void]
) -> None:
    (tmp_path / "probe.py").write_text(PROBE_SOURCE)
    text = CONFIG.read_text().replace("../strategies/momentum.py:Momentum", "probe.py:BarProbe")
    text = text.replace('path = "data/', f'path = "{CONFIG.parent}/data/')
    text = text.replace('[strategy.params]\nfast = 12\nslow = 26\nquantity = "0.01"', "")
    descriptor = tmp_path / "probe.toml"
    descriptor.write_text(text)
    deployment = load_descriptor(descriptor)
    result = run_backtest(deployment, trades[:2_000])
    seen = deployment.strategy_class.seen  # type: ignore[attr-defined]
    assert all(inside is None for _, inside in seen), seen  # no hook ran inside another
    # The submit's updates (submitted, accepted) come after on_bar returned, then the fill.
    assert [name for name, _ in seen[:5]] == ["bar", "update", "update", "fill", "update"]
    assert len(result.orders) == 1
    assert result.orders[0].filled_quantity > 0


def test_round_trips_when_read_back_then_closed_gross_pnl_is_the_realised_pnl(
    out_dir: Path,
) -> None:
    rows = _rows(out_dir / "round_trips.csv")
    summary = json.loads((out_dir / "summary.json").read_text())
    closed = [r for r in rows if r["status"] == "CLOSED"]
    assert len(closed) == summary["round_trips"]["count"] >= 2
    assert len(rows) - len(closed) == summary["open_trades"]
    assert sum(Decimal(r["gross_pnl"]) for r in closed) == Decimal(summary["realized_pnl"])
    fees = sum(Decimal(r["fees"]) for r in rows)
    assert fees == Decimal(summary["fees"])
    wins = sum(1 for r in closed if Decimal(r["pnl"]) > 0)
    assert summary["round_trips"]["wins"] == wins
    assert summary["round_trips"]["net_pnl"] == str(sum(Decimal(r["pnl"]) for r in closed))
    for row in closed:
        assert int(row["holding_ns"]) == int(row["exit_ts_ns"]) - int(row["entry_ts_ns"]) >= 0


def test_summary_when_monthly_returns_compounded_then_total_return(out_dir: Path) -> None:
    summary = json.loads((out_dir / "summary.json").read_text())
    growth = 1.0
    for month in summary["monthly_returns"]:
        growth *= 1 + month["return"]
    assert growth - 1 == pytest.approx(summary["total_return"], rel=1e-9)
    assert summary["monthly_returns"][-1]["end_equity"] == summary["final_equity"]
    fills = _rows(out_dir / "trades.csv")
    notional = sum(Decimal(r["price"]) * Decimal(r["quantity"]) for r in fills)
    capital = Decimal(summary["initial_capital"])
    assert summary["turnover"] == pytest.approx(float(notional / capital))
    assert sum(m["turnover"] for m in summary["monthly_returns"]) == pytest.approx(
        summary["turnover"]
    )
    [by_instrument] = summary["slippage_by_instrument"]
    assert by_instrument["instrument"] == "BTCUSDT.SIM"
    assert by_instrument["slippage"] == summary["slippage_total"]
    assert by_instrument["fills"] == summary["fills"]
    exposures = [float(r["exposure"]) for r in _rows(out_dir / "equity.csv")]
    assert summary["max_exposure"] == pytest.approx(max(exposures))


def test_cli_when_no_data_given_then_the_descriptors_recording_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli("--config", str(CONFIG), "--out", str(tmp_path))
    assert code == 0
    err = capsys.readouterr().err
    assert "btcusdt-trades-2021-01-08.parquet" in err
    summary = json.loads((tmp_path / "summary.json").read_text())
    # 46 seconds of real trades: fewer than 26 one-minute bars, so momentum never warms up.
    assert summary["fills"] == 0
    assert summary["fee_model"] == "sim.spot"
