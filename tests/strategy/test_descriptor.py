"""Specification of deployment descriptors: load_descriptor and its precise errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from qk.bars import BarSpec
from qk.marketdata.sim import SIM_BTCUSDT
from qk.risk import TradingState
from qk.schemas.enums import Venue
from qk.strategy import DescriptorError, DescriptorErrorReason, Mode, load_descriptor

ROOT = Path(__file__).resolve().parents[2]
R = DescriptorErrorReason

BASE = """\
mode = "backtest"

[strategy]
class = "strategies.momentum:Momentum"
id = 3

[strategy.params]
fast = 5
slow = 20

[market]
venue = "SIM"
instruments = ["BTCUSDT"]
timeframes = ["1m", "5m"]

[account]
capital = "2500.50"
currency = "USDT"

[models]
fill = "touch"

[risk]
max_position = "0.1"
max_order_quantity = 0.05
drawdown_state = "reducing"
permitted_venues = ["SIM"]

[runtime]
cpus = [2, 3]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deploy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> DescriptorError:
    with pytest.raises(DescriptorError) as caught:
        load_descriptor(_write(tmp_path, text))
    return caught.value


def test_load_descriptor_when_shipped_momentum_sim_then_resolves_everything() -> None:
    deployment = load_descriptor(ROOT / "configs" / "momentum_sim.toml")
    assert deployment.mode is Mode.BACKTEST
    assert deployment.strategy_class.__name__ == "Momentum"
    assert (deployment.params.fast, deployment.params.slow) == (12, 26)
    assert deployment.params.quantity == Decimal("0.01")
    assert deployment.instruments == (SIM_BTCUSDT,)
    assert deployment.timeframes == (BarSpec.time(60_000_000_000, "1m"),)
    assert deployment.risk_limits.max_position == Decimal("0.05")
    assert deployment.risk_limits.rate_window_ns == 60_000_000_000


def test_load_descriptor_when_valid_then_every_field_typed(tmp_path: Path) -> None:
    deployment = load_descriptor(_write(tmp_path, BASE))
    assert deployment.strategy_id == 3
    assert deployment.venue is Venue.SIM
    assert [t.label for t in deployment.timeframes] == ["1m", "5m"]
    assert deployment.capital == Decimal("2500.50")
    assert deployment.models.fill == "touch"
    assert deployment.models.fee is None
    assert deployment.models.latency_ns == (0, 0)
    assert deployment.data is None
    assert deployment.risk_limits.max_order_quantity == Decimal("0.05")
    assert deployment.risk_limits.drawdown_state is TradingState.REDUCING
    assert deployment.risk_limits.permitted_venues == frozenset({Venue.SIM})
    assert deployment.cpus == (2, 3)


def test_load_descriptor_when_instrument_file_then_resolves_venue_and_qualified_symbols(
    tmp_path: Path,
) -> None:
    text = BASE.replace('venue = "SIM"', 'venue = "BINANCE"').replace(
        'instruments = ["BTCUSDT"]',
        f'instruments = ["BTCUSDT", "BINANCE:ETHUSDT"]\n'
        f'instrument_file = "{ROOT / "configs" / "instruments.toml"}"',
    )
    text = text.replace('permitted_venues = ["SIM"]', 'permitted_instruments = ["ETHUSDT"]')
    deployment = load_descriptor(_write(tmp_path, text))
    assert [(i.venue, i.symbol) for i in deployment.instruments] == [
        (Venue.BINANCE, "BTCUSDT"),
        (Venue.BINANCE, "ETHUSDT"),
    ]
    ethusdt = deployment.instruments[1].instrument_id
    assert deployment.risk_limits.permitted_instruments == frozenset({ethusdt})


@pytest.mark.parametrize(
    ("old", "new", "reason", "where", "fragment"),
    [
        ('mode = "backtest"', 'mode = "backtest"\nmod = 1', R.UNKNOWN_FIELD, "mod", "known:"),
        ('max_position = "0.1"', 'max_postion = "0.1"', R.UNKNOWN_FIELD,
         "[risk] max_postion", "did you mean 'max_position'"),
        ("[models]", "[models]\nslippage = 1", R.UNKNOWN_FIELD, "[models] slippage", "unknown"),
        ("id = 3", 'id = "three"', R.WRONG_TYPE, "[strategy] id", "must be an int"),
        ("id = 3", "id = true", R.WRONG_TYPE, "[strategy] id", "must be an int"),
        ("id = 3", "id = 0", R.WRONG_TYPE, "[strategy] id", "1..16777215"),
        ('capital = "2500.50"', "capital = -1", R.WRONG_TYPE, "[account] capital", "> 0"),
        ('capital = "2500.50"', 'capital = "lots"', R.WRONG_TYPE, "[account] capital",
         "not a decimal"),
        ('currency = "USDT"', "", R.MISSING_FIELD, "[account] currency", "required"),
        ('mode = "backtest"', 'mode = "sim"', R.UNKNOWN_MODE, "mode",
         "backtest, paper or live"),
        ('instruments = ["BTCUSDT"]', 'instruments = ["BTCUSD"]', R.UNKNOWN_INSTRUMENT,
         "[market] instruments", "did you mean BTCUSDT"),
        ('instruments = ["BTCUSDT"]', 'instruments = ["NSE:INFY"]', R.UNKNOWN_INSTRUMENT,
         "[market] instruments", "no instrument 'INFY' on NSE"),
        ('instruments = ["BTCUSDT"]', 'instruments = []', R.MISSING_FIELD,
         "[market] instruments", "at least one"),
        ('venue = "SIM"', 'venue = "NYSE"', R.UNKNOWN_VALUE, "[market] venue",
         "unknown venue 'NYSE'"),
        ('timeframes = ["1m", "5m"]', 'timeframes = ["1x"]', R.UNKNOWN_VALUE,
         "[market] timeframes", "1x"),
        ('max_order_quantity = 0.05', 'max_order_quantity = "0.5"', R.IMPOSSIBLE_LIMIT,
         "[risk]", "exceeds max_position"),
        ('max_position = "0.1"', 'max_position = "0"', R.IMPOSSIBLE_LIMIT, "[risk]", "> 0"),
        ('drawdown_state = "reducing"', 'drawdown_state = "halt"', R.UNKNOWN_VALUE,
         "[risk] drawdown_state", "REDUCING or HALTED"),
        ('drawdown_state = "reducing"', 'drawdown_state = "active"', R.IMPOSSIBLE_LIMIT,
         "[risk]", "drawdown_state must be REDUCING or HALTED"),
        ("fast = 5", "fast = 0", R.BAD_PARAMS, "[strategy.params] fast", "must be >= 1"),
        ("fast = 5", "fats = 5", R.BAD_PARAMS, "[strategy.params] fats", "unknown parameter"),
        ("strategies.momentum:Momentum", "strategies.momentum:Nope", R.BAD_STRATEGY,
         "[strategy] class", "has no class 'Nope'"),
        ("strategies.momentum:Momentum", "qk.strategy:NoParams", R.BAD_STRATEGY,
         "[strategy] class", "not a subclass"),
        ("strategies.momentum:Momentum", "missing.py:X", R.BAD_STRATEGY, "[strategy] class",
         "does not exist"),
        ("cpus = [2, 3]", "cpus = [2, 2]", R.WRONG_TYPE, "[runtime] cpus", "distinct"),
        ("cpus = [2, 3]", "cpus = [-1]", R.WRONG_TYPE, "[runtime] cpus", ">= 0"),
        ("[account]", "[acount]", R.UNKNOWN_FIELD, "acount", "unknown field"),
        ('[account]\ncapital = "2500.50"\ncurrency = "USDT"\n', "", R.MISSING_FIELD,
         "[account]", "required table"),
        ('mode = "backtest"', "mode = ", R.UNREADABLE, "deploy.toml", "cannot read"),
        ('fill = "touch"', 'fill = "sideways"', R.UNKNOWN_VALUE, "[models] fill", "touch"),
        ('fill = "touch"', 'latency = "5-1ms"', R.WRONG_TYPE, "[models] latency", "LOW < HIGH"),
        ('fill = "touch"', 'latency = "fast"', R.WRONG_TYPE, "[models] latency", "'fast'"),
        ('fill = "touch"', "slippage_bps = -1", R.WRONG_TYPE, "[models] slippage_bps", ">= 0"),
        ("[models]", '[data]\npath = "nowhere.parquet"\n[models]', R.MISSING_DATA,
         "[data] path", "no such file"),
        ("[models]", "[data]\nround = 1\n[models]", R.WRONG_TYPE, "[data] round",
         "true or false"),
    ],
)  # fmt: skip
def test_load_descriptor_when_entry_bad_then_error_names_table_and_key(
    tmp_path: Path, old: str, new: str, reason: DescriptorErrorReason, where: str, fragment: str
) -> None:
    assert old in BASE
    error = _error(tmp_path, BASE.replace(old, new))
    assert error.reason is reason, str(error)
    assert where in error.where
    assert fragment in str(error)


def test_load_descriptor_when_strategy_file_imports_socket_then_refused_unimported(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "bad.py").write_text(
        "import socket\n"
        "from qk.strategy import Strategy\n"
        f"open({str(marker)!r}, 'w')\n"
        "class Bad(Strategy):\n    pass\n"
    )
    text = BASE.replace("strategies.momentum:Momentum", "bad.py:Bad").replace(
        "[strategy.params]\nfast = 5\nslow = 20\n", ""
    )
    error = _error(tmp_path, text)
    assert error.reason is R.BAD_STRATEGY
    assert "bad.py:1: import socket is not allowed" in str(error)
    assert "call open()" in str(error)
    assert not marker.exists()  # audited before import: its code never ran


def test_load_descriptor_when_file_missing_then_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DescriptorError) as caught:
        load_descriptor(tmp_path / "absent.toml")
    assert caught.value.reason is R.UNREADABLE


def test_load_descriptor_when_models_and_data_given_then_parsed(tmp_path: Path) -> None:
    (tmp_path / "tape.csv").write_text("x", encoding="utf-8")
    text = BASE.replace(
        'fill = "touch"',
        'fill = "touch"\nfee = "sim.spot"\nslippage_bps = 2\nslippage_ticks = 1\n'
        'latency = "1ms-5ms"\nlatency_seed = 9\n[data]\npath = "tape.csv"\nround = true',
    )
    deployment = load_descriptor(_write(tmp_path, text))
    models = deployment.models
    assert (models.fee, models.slippage_bps, models.slippage_ticks) == ("sim.spot", 2, 1)
    assert models.latency_ns == (1_000_000, 5_000_000)
    assert models.latency_seed == 9
    assert deployment.data == (tmp_path / "tape.csv").resolve()
    assert deployment.data_round is True
