"""``qk backtest --data-store DIR --from --to`` end to end: a Binance trades dump imported with
``qk data import``, then backtested through the parser and tracked as a run."""

from __future__ import annotations

import argparse
import json
import re
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pandas as pd
import pytest

from qk.backtest.cli import configure_parser, run
from qk.data import load_trades_from_store
from qk.data.cli import register as register_data
from qk.runs import RunStore, fingerprint_array

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "momentum_sim.toml"
MOMENTUM = ROOT / "strategies" / "momentum.py"
RECORDED = ROOT / "tests" / "fixtures" / "binance" / "recorded_market_data" / "btcusdt-trades.csv"
DAY = "2021-01-08"


@pytest.fixture(autouse=True)
def _no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QK_MLFLOW_TRACKING_URI", raising=False)


def _write_dump(path: Path, lot_decimals: int) -> int:
    """The recorded trades in the Binance trades-dump layout (no header; id, price, qty,
    quote_qty, time in ms, is_buyer_maker, is_best_match); quantities on a lot of
    ``10**-lot_decimals`` (trades that round to nothing are left out). Returns the rows written."""
    frame = pd.read_csv(RECORDED, dtype=str)
    lot = Decimal(1).scaleb(-lot_decimals)
    lines = []
    for row in frame.itertuples(index=False):
        # The recording holds some quantities as binary floats (0.00031099999999999997).
        quantity = Decimal(row.quantity).quantize(lot, rounding=ROUND_HALF_EVEN)
        if quantity == 0:
            continue
        price = Decimal(row.price)
        millis = int(pd.Timestamp(row.timestamp).value // 1_000_000)
        lines.append(
            f"{row.trade_id},{price:.8f},{quantity:.8f},{price * quantity:.8f},{millis},"
            f"{row.buyer_maker},True"
        )
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def _import(store: Path, dump: Path, venue: str, instruments: str, capsys: pytest.CaptureFixture[str]) -> int:  # fmt: skip
    parser = argparse.ArgumentParser()
    register_data(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["data", "import", "--kind", "binance-trades", str(dump), "--venue", venue,
         "--symbol", "BTCUSDT", "--instruments", instruments, "--store", str(store)]
    )  # fmt: skip
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    found = re.search(r": ([\d,]+) TradeEvent rows, ([\d,]+) new, 0 already stored", printed)
    assert found, printed
    assert found.group(1) == found.group(2)
    return int(found.group(2).replace(",", ""))


def _backtest(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="qk backtest")
    configure_parser(parser)
    return run(parser.parse_args(list(argv)))


def test_momentum_sim_runs_on_an_imported_dump_and_is_tracked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = tmp_path / "BTCUSDT-trades-2021-01-08.csv"
    # SIM BTCUSDT (what configs/momentum_sim.toml trades) has Binance's 0.00001 lot.
    written = _write_dump(dump, lot_decimals=5)
    store = tmp_path / "data"
    imported = _import(store, dump, "SIM", "sim", capsys)
    assert imported == written > 1_900
    out, runs = tmp_path / "bt", tmp_path / "runs"
    code = _backtest("--config", str(CONFIG), "--data-store", str(store), "--from", DAY,
                     "--to", DAY, "--param", "fast=3", "--param", "slow=5", "--out", str(out),
                     "--runs", str(runs))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr()
    assert f"{imported:,} trades from {store}" in printed.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trades_processed"] == imported
    run_id = re.search(r"^run: (\S+)$", printed.out, re.MULTILINE)
    assert run_id, printed.out
    record = RunStore(runs).get(run_id.group(1))
    assert record["kind"] == "backtest" and record["status"] == "finished"
    assert record["params"]["data"] == {"store": str(store), "from": DAY, "to": DAY}
    assert record["params"]["strategy"]["fast"] == "3"
    assert record["metrics"]["trades_processed"] == imported
    tape = load_trades_from_store(str(store), "SIM", "BTCUSDT")
    assert record["data_fingerprint"] == fingerprint_array(tape)
    assert {a["name"] for a in record["artifacts"]} == {"summary.json", "report.html"}


def test_a_binance_instrument_from_an_instrument_file_takes_the_exact_quantities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # BTCUSDT's lot was 0.000001 in January 2021: the dump imports unrounded.
    instruments = tmp_path / "instruments.toml"
    instruments.write_text(
        '[[instrument]]\nid = 1\nvenue = "BINANCE"\nsymbol = "BTCUSDT"\nasset_class = "CRYPTO"\n'
        'kind = "SPOT"\ntick_size = "0.01"\nlot_size = "0.000001"\ncurrency = "USDT"\n'
    )
    descriptor = tmp_path / "momentum_binance.toml"
    # momentum_sim.toml on BINANCE, without its [data] file (the store gives the trades).
    text = re.sub(r"\n\[data\]\n.*?(?=\n\[risk\])", "", CONFIG.read_text(), flags=re.DOTALL)
    descriptor.write_text(
        text.replace(
            'class = "../strategies/momentum.py:Momentum"', f'class = "{MOMENTUM}:Momentum"'
        )
        .replace('venue = "SIM"', 'venue = "BINANCE"\ninstrument_file = "instruments.toml"')
        .replace('fee = "sim.spot"', 'fee = "binance.spot"')
    )
    assert "[data]" not in descriptor.read_text() and "[risk]" in descriptor.read_text()
    dump = tmp_path / "BTCUSDT-trades-2021-01-08.csv"
    written = _write_dump(dump, lot_decimals=6)
    store = tmp_path / "data"
    assert _import(store, dump, "BINANCE", str(instruments), capsys) == written == 2_001
    out = tmp_path / "bt"
    code = _backtest("--config", str(descriptor), "--data-store", str(store), "--from", DAY,
                     "--out", str(out), "--runs", str(tmp_path / "runs"))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["trades_processed"] == 2_001
    (record,) = RunStore(tmp_path / "runs").list()
    assert record["params"]["data"] == {"store": str(store), "from": DAY, "to": None}


def test_a_range_without_data_is_a_one_line_error_and_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = tmp_path / "BTCUSDT-trades-2021-01-08.csv"
    _write_dump(dump, lot_decimals=5)
    store = tmp_path / "data"
    _import(store, dump, "SIM", "sim", capsys)
    code = _backtest("--config", str(CONFIG), "--data-store", str(store), "--from", "2021-01-09",
                     "--to", "2021-01-10", "--out", str(tmp_path / "bt"),
                     "--runs", str(tmp_path / "runs"))  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "no TradeEvent stored for SIM BTCUSDT in 2021-01-09..2021-01-10" in err
    assert len(err.strip().splitlines()) == 1
    assert RunStore(tmp_path / "runs").list() == []
