"""Deployment descriptors: one TOML file saying what strategy runs where, how and with what.

::

    mode = "backtest"                        # backtest | paper | live

    [strategy]
    class = "strategies/momentum.py:Momentum"   # or "package.module:Class"
    id = 1                                   # 1..16_777_215, the client order id prefix

    [strategy.params]                        # the strategy's Params, checked by parse_params
    fast = 12

    [market]
    venue = "SIM"
    instruments = ["BTCUSDT"]                # symbols on `venue`, or "VENUE:SYMBOL"
    timeframes = ["1m"]                      # bar specs (qk.bars.parse_spec)
    instrument_file = "instruments.toml"     # optional; relative to this file

    [account]
    capital = "10000"
    currency = "USDT"

    [models]                                 # optional; simulated execution (backtest, paper)
    fee = "binance_spot"                     # a fee schedule (qk.fees); none: no fees
    fill = "touch"                           # resting limits fill at "touch" or "through"
    slippage_bps = 1                         # taker fills, against the trader
    slippage_ticks = 0
    latency = "2ms"                          # decision -> venue: "0", "2ms", or "1ms-5ms"
    latency_seed = 7                         # seeds a sampled latency

    [risk]                                   # qk.risk.RiskLimits fields
    max_position = "0.05"

    [runtime]
    cpus = [2]                               # CPU pinning, used by the runtime later

Relative paths (the instrument file, a strategy file) start at the descriptor's directory.
Instruments of the built-in ``SIM`` venue (``qk.marketdata.sim``) resolve without a file.
Every error is a :class:`DescriptorError` naming the file, the table and the key.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from qk.bars import BarSpec, TimeframeError, parse_spec
from qk.instruments import Instrument, InstrumentError, load_instruments
from qk.marketdata.sim import SIM_BTCUSDT
from qk.orders.client_order_id import MAX_STRATEGY_ID
from qk.risk import RiskConfigError, RiskLimits, TradingState
from qk.schemas.enums import Venue
from qk.strategy.errors import (
    DescriptorError,
    DescriptorErrorReason,
    ParamError,
    StrategyLoadError,
)
from qk.strategy.loader import load_strategy_class
from qk.strategy.params import parse_params
from qk.strategy.sandbox import audit_strategy_source
from qk.strategy.strategy import Strategy

__all__ = ["BUILTIN_INSTRUMENTS", "Deployment", "Mode", "Models", "load_descriptor"]

BUILTIN_INSTRUMENTS: Final[tuple[Instrument, ...]] = (SIM_BTCUSDT,)
"""Instruments that resolve without an instrument file: the built-in sim venue's."""

_R = DescriptorErrorReason


class Mode(StrEnum):
    """How a deployment runs."""

    BACKTEST = "backtest"
    """Historical data, simulated fills, market time."""
    PAPER = "paper"
    """Live data, simulated fills."""
    LIVE = "live"
    """Live data, real orders."""


@dataclass(frozen=True, slots=True)
class Models:
    """Simulated execution models of the deployment's ``[models]`` table.

    Attributes:
        fee: Fee schedule name (``qk.fees.default_fee_models``), None for no fees.
        fill: When a resting limit fills: ``"through"`` (the market trades beyond it) or
            ``"touch"`` (at it).
        slippage_ticks: Whole ticks added against the trader to every taker fill.
        slippage_bps: Basis points of the market price added the same way.
        latency_ns: Decision-to-venue latency, ``(low, high)`` ns: fixed when equal, else
            sampled uniformly (seeded by ``latency_seed``).
        latency_seed: Seed of the sampled latency.
    """

    fee: str | None = None
    fill: str = "through"
    slippage_ticks: int = 0
    slippage_bps: int = 0
    latency_ns: tuple[int, int] = (0, 0)
    latency_seed: int = 0


@dataclass(frozen=True, slots=True)
class Deployment:
    """A validated deployment descriptor.

    Attributes:
        path: The descriptor file.
        mode: Backtest, paper or live.
        strategy_class: The loaded strategy class.
        strategy_reference: ``module:Class`` or ``file.py:Class`` as written.
        strategy_id: Strategy id, 1..16_777_215.
        params: The strategy's parsed Params instance.
        venue: Default venue of the instruments.
        instruments: Resolved instruments, in descriptor order.
        timeframes: Bar specs.
        capital: Starting capital in ``currency``.
        currency: Account currency.
        models: Fill, fee, slippage and latency models.
        risk_limits: The strategy's risk limits.
        cpus: CPUs to pin to (empty: no pinning).
        data: Trades file a backtest runs on when no other data is given (``[data] path``,
            resolved against the descriptor's folder), or None.
        data_round: Round the file's prices and quantities to the instrument's precision
            (``[data] round``) instead of refusing values with more decimals.
    """

    path: Path
    mode: Mode
    strategy_class: type[Strategy]
    strategy_reference: str
    strategy_id: int
    params: Any
    venue: Venue
    instruments: tuple[Instrument, ...]
    timeframes: tuple[BarSpec, ...]
    capital: Decimal
    currency: str
    models: Models
    risk_limits: RiskLimits
    cpus: tuple[int, ...]
    data: Path | None = None
    data_round: bool = False


# Which keys each table may hold, so an unknown one is named precisely.
_TOP_KEYS: Final = frozenset(
    {"mode", "strategy", "market", "account", "models", "risk", "runtime", "data"}
)
_TABLE_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "strategy": frozenset({"class", "id", "params"}),
    "market": frozenset({"venue", "instruments", "timeframes", "instrument_file"}),
    "account": frozenset({"capital", "currency"}),
    "models": frozenset(
        {"fill", "fee", "latency", "latency_seed", "slippage_bps", "slippage_ticks"}
    ),
    "risk": frozenset(f.name for f in fields(RiskLimits)),
    "runtime": frozenset({"cpus"}),
    "data": frozenset({"path", "round"}),
}
_REQUIRED_TABLES: Final = ("strategy", "market", "account")


class _Reader:
    """Typed access to one descriptor, with errors that name file, table and key."""

    def __init__(self, path: Path, document: Mapping[str, Any]) -> None:
        self.path = path
        self.document = document

    def where(self, table: str | None, key: str | None = None) -> str:
        parts = [str(self.path)]
        if table:
            parts.append(f"[{table}]")
        if key:
            parts.append(key)
        return " ".join(parts)

    def fail(self, reason: DescriptorErrorReason, table: str | None, key: str | None,
             message: str) -> DescriptorError:  # fmt: skip
        return DescriptorError(reason, self.where(table, key), message)

    def check_keys(self) -> None:
        for key in self.document:
            if key not in _TOP_KEYS:
                raise self.fail(_R.UNKNOWN_FIELD, None, key,
                                f"unknown field (known: {', '.join(sorted(_TOP_KEYS))})")  # fmt: skip
        for table, allowed in _TABLE_KEYS.items():
            if table not in self.document:
                if table in _REQUIRED_TABLES:
                    raise self.fail(_R.MISSING_FIELD, table, None, "required table is missing")
                continue
            section = self.document[table]
            if not isinstance(section, dict):
                raise self.fail(_R.WRONG_TYPE, None, table, "must be a table")
            for key in section:
                if key not in allowed:
                    close = difflib.get_close_matches(key, allowed, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise self.fail(_R.UNKNOWN_FIELD, table, key, f"unknown field{hint}")

    def table(self, table: str) -> Mapping[str, Any]:
        value = self.document.get(table, {})
        assert isinstance(value, dict)  # check_keys ran first
        return value

    def get(self, table: str | None, key: str, kind: type | tuple[type, ...], what: str,
            *, required: bool = True) -> Any:  # fmt: skip
        section = self.document if table is None else self.table(table)
        if key not in section:
            if required:
                raise self.fail(_R.MISSING_FIELD, table, key, "required field is missing")
            return None
        value = section[key]
        # bool is an int subclass: an id of `true` is a typo, not 1.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(_R.WRONG_TYPE, table, key, f"must be {what}, got {value!r}")
        if not isinstance(value, kind):
            raise self.fail(_R.WRONG_TYPE, table, key, f"must be {what}, got {value!r}")
        return value

    def decimal(self, table: str, key: str, *, required: bool = True) -> Decimal | None:
        value = self.get(table, key, (str, int, float), "a decimal string or number",
                         required=required)  # fmt: skip
        if value is None:
            return None
        try:
            # A TOML float's shortest repr is the text that was written, so this is exact.
            result = Decimal(repr(value) if isinstance(value, float) else value)
        except InvalidOperation:
            raise self.fail(_R.WRONG_TYPE, table, key, f"not a decimal: {value!r}") from None
        if not result.is_finite():
            raise self.fail(_R.WRONG_TYPE, table, key, f"must be finite, got {value!r}")
        return result

    def string_list(self, table: str, key: str, *, required: bool = True) -> list[str]:
        value = self.get(table, key, list, "a list of strings", required=required)
        if value is None:
            return []
        if not all(isinstance(v, str) for v in value):
            raise self.fail(_R.WRONG_TYPE, table, key, f"must be a list of strings, got {value!r}")
        return list(value)


def load_descriptor(path: str | Path) -> Deployment:
    """Read and validate a deployment descriptor.

    Args:
        path: The TOML file.

    Returns:
        The deployment, with its strategy class loaded and parameters parsed.

    Raises:
        DescriptorError: Unreadable file, unknown field (table and key named), missing or
            wrongly typed field, unknown mode, venue or instrument, bad timeframe, parameters
            refused by the strategy, a strategy that cannot be loaded or uses forbidden
            modules, or risk limits refused by ``qk.risk``.
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DescriptorError(_R.UNREADABLE, str(path), f"cannot read descriptor: {exc}") from exc
    reader = _Reader(path, document)
    reader.check_keys()
    base = path.parent

    mode_text = reader.get(None, "mode", str, "a string")
    try:
        mode = Mode(mode_text)
    except ValueError:
        raise reader.fail(_R.UNKNOWN_MODE, None, "mode",
                          f"unknown mode {mode_text!r} (backtest, paper or live)") from None  # fmt: skip

    strategy_class, reference, strategy_id, params = _strategy(reader, base)
    venue = _venue(reader, "market", "venue", reader.get("market", "venue", str, "a venue name"))
    instruments = _instruments(reader, base, venue)
    timeframes = _timeframes(reader, instruments)
    capital = reader.decimal("account", "capital")
    assert capital is not None  # required
    if capital <= 0:
        raise reader.fail(_R.WRONG_TYPE, "account", "capital", f"must be > 0, got {capital}")
    currency = reader.get("account", "currency", str, "a currency code")
    models = _models(reader)
    cpus_raw = reader.get("runtime", "cpus", list, "a list of CPU numbers", required=False) or []
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in cpus_raw) or (
        len(set(cpus_raw)) != len(cpus_raw)
    ):
        raise reader.fail(_R.WRONG_TYPE, "runtime", "cpus",
                          f"must be distinct CPU numbers >= 0, got {cpus_raw!r}")  # fmt: skip
    return Deployment(
        path=path,
        mode=mode,
        strategy_class=strategy_class,
        strategy_reference=reference,
        strategy_id=strategy_id,
        params=params,
        venue=venue,
        instruments=instruments,
        timeframes=timeframes,
        capital=capital,
        currency=currency,
        models=models,
        risk_limits=_risk(reader, instruments),
        cpus=tuple(cpus_raw),
        data=_data_path(reader, base),
        data_round=bool(reader.get("data", "round", bool, "true or false", required=False)),
    )


def _strategy(reader: _Reader, base: Path) -> tuple[type[Strategy], str, int, Any]:
    reference = reader.get("strategy", "class", str, "'module:Class' or 'file.py:Class'")
    strategy_id = reader.get("strategy", "id", int, "an int")
    if not 1 <= strategy_id <= MAX_STRATEGY_ID:
        raise reader.fail(_R.WRONG_TYPE, "strategy", "id",
                          f"must be in 1..{MAX_STRATEGY_ID}, got {strategy_id}")  # fmt: skip
    file_part = reference.rpartition(":")[0]
    if file_part.endswith(".py"):
        source_path = Path(file_part) if Path(file_part).is_absolute() else base / file_part
        if source_path.is_file():  # a missing file is reported by the loader below
            violations = audit_strategy_source(
                source_path.read_text(encoding="utf-8"), str(source_path)
            )
            if violations:
                raise reader.fail(_R.BAD_STRATEGY, "strategy", "class",
                                  "; ".join(map(str, violations)))  # fmt: skip
    try:
        strategy_class = load_strategy_class(reference, base)
    except StrategyLoadError as exc:
        raise reader.fail(_R.BAD_STRATEGY, "strategy", "class", str(exc)) from exc
    raw_params = reader.get("strategy", "params", dict, "a table", required=False) or {}
    try:
        params = parse_params(strategy_class, raw_params)
    except ParamError as exc:
        raise reader.fail(_R.BAD_PARAMS, "strategy.params", exc.name or None, str(exc)) from exc
    return strategy_class, reference, strategy_id, params


def _venue(reader: _Reader, table: str, key: str, name: str) -> Venue:
    try:
        return Venue[name]
    except KeyError:
        known = ", ".join(v.name for v in Venue)
        raise reader.fail(_R.UNKNOWN_VALUE, table, key,
                          f"unknown venue {name!r} (known: {known})") from None  # fmt: skip


def _instruments(reader: _Reader, base: Path, venue: Venue) -> tuple[Instrument, ...]:
    file_name = reader.get("market", "instrument_file", str, "a path", required=False)
    known: dict[tuple[Venue, str], Instrument] = {i.key: i for i in BUILTIN_INSTRUMENTS}
    if file_name is not None:
        try:
            # The file wins over the built-ins for the same venue and symbol.
            known.update((i.key, i) for i in load_instruments(base / file_name))
        except (OSError, InstrumentError) as exc:
            raise reader.fail(_R.UNREADABLE, "market", "instrument_file", str(exc)) from exc
    names = reader.string_list("market", "instruments")
    if not names:
        raise reader.fail(_R.MISSING_FIELD, "market", "instruments", "needs at least one")
    resolved: list[Instrument] = []
    for name in names:
        venue_name, sep, symbol = name.rpartition(":")
        where_venue = _venue(reader, "market", "instruments", venue_name) if sep else venue
        found = known.get((where_venue, symbol))
        if found is None:
            on_venue = [s for v, s in known if v == where_venue]
            close = difflib.get_close_matches(symbol, on_venue, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            source = file_name if file_name is not None else "the built-in SIM instruments"
            raise reader.fail(_R.UNKNOWN_INSTRUMENT, "market", "instruments",
                              f"no instrument {symbol!r} on {where_venue.name} in {source}{hint}")  # fmt: skip
        if found in resolved:
            raise reader.fail(_R.WRONG_TYPE, "market", "instruments", f"{name!r} listed twice")
        resolved.append(found)
    ids = [i.instrument_id for i in resolved]
    if len(set(ids)) != len(ids):
        # Built-in SIM ids and file ids are separate numberings; one engine needs one.
        raise reader.fail(_R.UNKNOWN_INSTRUMENT, "market", "instruments",
                          f"instruments {names} share an instrument id: mix of the built-in "
                          "SIM instruments and the instrument file")  # fmt: skip
    return tuple(resolved)


def _timeframes(reader: _Reader, instruments: tuple[Instrument, ...]) -> tuple[BarSpec, ...]:
    specs: list[BarSpec] = []
    precision = instruments[0].size_precision
    for text in reader.string_list("market", "timeframes", required=False):
        try:
            specs.append(parse_spec(text, precision))
        except TimeframeError as exc:
            raise reader.fail(_R.UNKNOWN_VALUE, "market", "timeframes", str(exc)) from exc
    return tuple(specs)


def _risk(reader: _Reader, instruments: tuple[Instrument, ...]) -> RiskLimits:
    table = reader.table("risk")
    values: dict[str, Any] = {}
    by_symbol = {i.symbol: i.instrument_id for i in instruments}
    for f in fields(RiskLimits):
        if f.name not in table:
            continue
        if f.name in ("max_orders_per_window", "rate_window_ns"):
            values[f.name] = reader.get("risk", f.name, int, "an int")
        elif f.name in ("drawdown_state", "daily_loss_state"):
            text = reader.get("risk", f.name, str, "REDUCING or HALTED")
            try:
                values[f.name] = TradingState[text.upper()]
            except KeyError:
                raise reader.fail(_R.UNKNOWN_VALUE, "risk", f.name,
                                  f"must be REDUCING or HALTED, got {text!r}") from None  # fmt: skip
        elif f.name == "permitted_venues":
            values[f.name] = frozenset(
                _venue(reader, "risk", f.name, v) for v in reader.string_list("risk", f.name)
            )
        elif f.name == "permitted_instruments":
            symbols = reader.string_list("risk", f.name)
            unknown = [s for s in symbols if s not in by_symbol]
            if unknown:
                raise reader.fail(_R.UNKNOWN_INSTRUMENT, "risk", f.name,
                                  f"{unknown} are not among the deployment's instruments")  # fmt: skip
            values[f.name] = frozenset(by_symbol[s] for s in symbols)
        else:
            values[f.name] = reader.decimal("risk", f.name)
    try:
        return RiskLimits(**values)
    except RiskConfigError as exc:
        raise reader.fail(_R.IMPOSSIBLE_LIMIT, "risk", None, str(exc)) from exc


def _models(reader: _Reader) -> Models:
    fee = reader.get("models", "fee", str, "a fee schedule name", required=False)
    fill = reader.get("models", "fill", str, '"through" or "touch"', required=False) or "through"
    if fill not in ("through", "touch"):
        raise reader.fail(_R.UNKNOWN_VALUE, "models", "fill",
                          f'must be "through" or "touch", got {fill!r}')  # fmt: skip
    counts = {}
    for key in ("slippage_ticks", "slippage_bps", "latency_seed"):
        value = reader.get("models", key, int, "an integer >= 0", required=False) or 0
        if value < 0:
            raise reader.fail(_R.WRONG_TYPE, "models", key, f"must be >= 0, got {value}")
        counts[key] = value
    latency = reader.get("models", "latency", str, 'a duration such as "2ms" or "1ms-5ms"',
                         required=False)  # fmt: skip
    return Models(
        fee=fee,
        fill=fill,
        slippage_ticks=counts["slippage_ticks"],
        slippage_bps=counts["slippage_bps"],
        latency_ns=(0, 0) if latency is None else _latency(reader, latency),
        latency_seed=counts["latency_seed"],
    )


def _latency(reader: _Reader, text: str) -> tuple[int, int]:
    from qk.bars.spec import TimeframeError, parse_duration

    parts = ["0ns" if p.strip() == "0" else p.strip() for p in text.split("-")]
    try:
        bounds = [parse_duration(p, allow_zero=True) for p in parts]
    except TimeframeError:
        bounds = []  # the error below says what a latency looks like
    if len(bounds) == 1:
        return bounds[0], bounds[0]
    if len(bounds) == 2 and bounds[0] < bounds[1]:
        return bounds[0], bounds[1]
    raise reader.fail(_R.WRONG_TYPE, "models", "latency",
                      f'must be "0", a duration such as "2ms", or a range "LOW-HIGH" with LOW < HIGH '
                      f"(units ns, us, ms, s), got {text!r}")  # fmt: skip


def _data_path(reader: _Reader, base: Path) -> Path | None:
    text: str | None = reader.get(
        "data", "path", str, "a path to a trades CSV or Parquet", required=False
    )
    if text is None:
        return None
    path = (base / text).resolve()
    if not path.is_file():
        raise reader.fail(_R.MISSING_DATA, "data", "path", f"no such file: {path}")
    return path
