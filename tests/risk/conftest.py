"""Risk test kit: a small instrument master, intents and engines from human-readable figures."""

from __future__ import annotations

from decimal import Decimal

from qk.instruments import Instrument, InstrumentMaster
from qk.portfolio.portfolio import AccountState
from qk.risk import BreakerConfig, OrderIntent, RiskConfig, RiskEngine, RiskLimits
from qk.schemas.enums import AssetClass, InstrumentKind, OrderType, Side, Venue

BTC = 1
"""BTCUSDT spot: price 2 decimals, quantity 5, min 0.0001, max 100, min notional 5 USDT."""
INFY = 2
"""NSE cash equity: tick 0.05, quantity 0 decimals."""
NIFTY_FUT = 3
"""NFO future: tick 0.05, lot 75."""
NO_PRICE = 4
"""An instrument that never gets a price."""

T0 = 1_700_000_000_000_000_000
SECOND = 1_000_000_000
STRATEGY = 7
OTHER = 8

MASTER = InstrumentMaster.from_instruments(
    [
        Instrument(
            instrument_id=BTC,
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            asset_class=AssetClass.CRYPTO,
            kind=InstrumentKind.SPOT,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.00001"),
            price_precision=2,
            size_precision=5,
            currency="USDT",
            min_quantity=Decimal("0.0001"),
            max_quantity=Decimal(100),
            min_notional=Decimal(5),
        ),
        Instrument(
            instrument_id=INFY,
            venue=Venue.NSE,
            symbol="INFY",
            asset_class=AssetClass.EQUITY,
            kind=InstrumentKind.SPOT,
            tick_size=Decimal("0.05"),
            lot_size=Decimal(1),
            price_precision=2,
            size_precision=0,
            currency="INR",
        ),
        Instrument(
            instrument_id=NIFTY_FUT,
            venue=Venue.NFO,
            symbol="NIFTY25AUGFUT",
            asset_class=AssetClass.INDEX,
            kind=InstrumentKind.FUTURE,
            tick_size=Decimal("0.05"),
            lot_size=Decimal(75),
            price_precision=2,
            size_precision=0,
            currency="INR",
            expiry=1_756_375_200_000_000_000,
        ),
        Instrument(
            instrument_id=NO_PRICE,
            venue=Venue.NSE,
            symbol="TCS",
            asset_class=AssetClass.EQUITY,
            kind=InstrumentKind.SPOT,
            tick_size=Decimal("0.05"),
            lot_size=Decimal(1),
            price_precision=2,
            size_precision=0,
            currency="INR",
        ),
    ]
)

PRICES = {BTC: "50000", INFY: "1500", NIFTY_FUT: "24000"}


def raw_qty(instrument_id: int, quantity: str) -> int:
    return MASTER.get(instrument_id).quantity_to_raw(quantity)


def raw_price(instrument_id: int, price: str) -> int:
    return MASTER.get(instrument_id).price_to_raw(price)


def intent(
    side: Side,
    quantity: str,
    *,
    instrument_id: int = BTC,
    order_type: OrderType = OrderType.MARKET,
    price: str | None = None,
    trigger: str | None = None,
    strategy_id: int = STRATEGY,
    reduce_only: bool = False,
    client_order_id: int = 0,
) -> OrderIntent:
    """An intent from decimals."""
    return OrderIntent(
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        side=side,
        order_type=order_type,
        quantity=raw_qty(instrument_id, quantity),
        price=0 if price is None else raw_price(instrument_id, price),
        trigger_price=0 if trigger is None else raw_price(instrument_id, trigger),
        reduce_only=reduce_only,
        client_order_id=client_order_id,
    )


def make_engine(
    *,
    global_limits: RiskLimits | None = None,
    breakers: BreakerConfig | None = None,
    strategies: dict[int, RiskLimits] | None = None,
    **limits: object,
) -> RiskEngine:
    """An engine whose default strategy limits are ``limits``, with fresh prices at T0."""
    config = RiskConfig(
        global_limits=global_limits or RiskLimits(),
        default_limits=RiskLimits(**limits),  # type: ignore[arg-type]
        strategies=strategies or {},
        breakers=breakers or BreakerConfig(),
    )
    engine = RiskEngine(config, MASTER)
    for instrument_id, price in PRICES.items():
        engine.update_price(instrument_id, raw_price(instrument_id, price), T0)
    return engine


def fill(
    engine: RiskEngine,
    side: Side,
    quantity: str,
    *,
    instrument_id: int = BTC,
    strategy_id: int = STRATEGY,
) -> None:
    engine.apply_fill(strategy_id, instrument_id, side, raw_qty(instrument_id, quantity))


def account(
    strategy_id: int = STRATEGY,
    *,
    equity: str = "10000",
    drawdown_fraction: str = "0",
    day_pnl: str = "0",
) -> AccountState:
    """An AccountState with the figures risk reads; the rest consistent enough."""
    eq = Decimal(equity)
    return AccountState(
        strategy_id=strategy_id,
        currency="USDT",
        cash=eq,
        realized_pnl=Decimal(0),
        unrealized_pnl=Decimal(0),
        fees=Decimal(0),
        equity=eq,
        peak_equity=eq,
        drawdown=Decimal(0),
        drawdown_fraction=Decimal(drawdown_fraction),
        day_pnl=Decimal(day_pnl),
        gross_exposure=Decimal(0),
        net_exposure=Decimal(0),
        leverage=None,
        position_count=0,
    )
