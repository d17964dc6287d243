"""A seeded, deterministic simulated trade feed (the built-in ``sim`` venue's market data).

Prices follow a geometric random walk snapped to the instrument's tick; quantities are whole lots;
inter-arrival times are exponential. The same seed gives byte-identical records on every machine
(numpy's PCG64 and integer arithmetic only once the floats are snapped), so a demo or a test can
regenerate exactly what a session saw.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt

from qk.instruments import Instrument
from qk.schemas import new_records
from qk.schemas.enums import AggressorSide, AssetClass, InstrumentKind, Venue

# 2026-01-01T00:00:00Z: a fixed start so the default demo is reproducible.
DEFAULT_START_NS = 1_767_225_600_000_000_000

SIM_BTCUSDT = Instrument(
    instrument_id=1,
    venue=Venue.SIM,
    symbol="BTCUSDT",
    asset_class=AssetClass.CRYPTO,
    kind=InstrumentKind.SPOT,
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.00001"),
    price_precision=2,
    size_precision=5,
    currency="USDT",
    base_currency="BTC",
)
"""The built-in simulated venue's instrument: Binance BTCUSDT's tick and lot (configs/instruments.toml)."""


def random_walk_trades(
    instrument: Instrument,
    count: int,
    *,
    seed: int = 7,
    start_price: str = "50000",
    volatility_bps: float = 2.0,
    mean_interval_ms: float = 5.0,
    start_ns: int = DEFAULT_START_NS,
    max_lots: int = 100,
    source: int = 0,
) -> npt.NDArray[np.void]:
    """``count`` TradeEvent records for ``instrument``: ts_event, price, quantity, aggressor, ids.

    Args:
        instrument: sets the tick (prices are multiples of it) and the lot (quantities are
            multiples of it), and the fixed-point precisions.
        count: number of trades.
        seed: PCG64 seed; same seed, same records.
        start_price: first price, a decimal string.
        volatility_bps: standard deviation of one trade's log return, in basis points.
        mean_interval_ms: mean time between trades.
        start_ns: ts_event of the first trade, ns since epoch UTC.
        max_lots: largest trade, in lots.
        source: header ``source`` (the producing component).

    Returns:
        A TradeEvent record array with ``seq`` 0..count-1 and ``ts_recv`` 0 (the feed process
        stamps receive time when it publishes).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = np.random.Generator(np.random.PCG64(seed))
    tick_raw = instrument.price_to_raw(instrument.tick_size)
    lot_raw = instrument.quantity_to_raw(instrument.lot_size)
    start_ticks = instrument.price_to_raw(start_price) // tick_raw
    steps = rng.normal(0.0, volatility_bps * 1e-4, count)
    ticks = np.maximum(np.rint(start_ticks * np.exp(np.cumsum(steps))).astype(np.int64), 1)
    gaps_ns = np.rint(rng.exponential(mean_interval_ms * 1e6, count)).astype(np.int64)
    lots = rng.integers(1, max_lots + 1, count, dtype=np.int64)
    sides = rng.integers(0, 2, count)

    out = new_records("TradeEvent", count, source=source)
    out["seq"] = np.arange(count, dtype=np.uint64)
    out["ts_event"] = start_ns + np.cumsum(gaps_ns)
    out["instrument_id"] = instrument.instrument_id
    out["price"] = ticks * tick_raw
    out["quantity"] = lots * lot_raw
    out["aggressor"] = np.where(sides == 0, int(AggressorSide.BUYER), int(AggressorSide.SELLER))
    out["venue_trade_id"] = np.arange(1, count + 1, dtype=np.uint64)
    return out
