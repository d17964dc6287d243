"""exchangeInfo → filters and instruments; the local filter check refuses exactly what the mock
refuses (property tests against the mock's own -1013 / -1111 / -4xxx answers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.schemas.enums import InstrumentKind, Venue
from qk.venues.binance.instruments import (
    FilterViolation,
    InstrumentInfoError,
    SymbolFilters,
    SymbolRegistry,
    check_order,
    filters_from_exchange_info,
    to_instrument,
)
from qk.venues.binance.mock import errors as mock_errors
from qk.venues.binance.mock.server import MockBinance, MockConfig

FILTER_CODES = {-1013, -1111, -4003, -4004, -4005, -4013, -4014, -4016, -4023, -4164}
BIG = Decimal(10**12)


def _mock() -> MockBinance:
    return MockBinance(
        MockConfig(
            spot_balances={"USDT": BIG, "BTC": BIG, "ETH": BIG},
            futures_wallet=BIG,
            clock=lambda: 1_700_000_000_000,
        )
    )


MOCK = _mock()
SPOT = filters_from_exchange_info("spot", MOCK.spot_info)
FUTURES = filters_from_exchange_info("futures", MOCK.futures_info)
MOCK.on_trade("BTCUSDT", Decimal("40000.00"), Decimal("5"), 1_700_000_000_000)
MOCK.on_trade("ETHUSDT", Decimal("1200.00"), Decimal("5"), 1_700_000_000_000)


def decimals(low: int, high: int, max_places: int) -> st.SearchStrategy[Decimal]:
    """Decimals in [low, high] written with up to ``max_places`` places."""
    return st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(low, high * 10**max_places),
        st.integers(0, max_places),
    ).filter(lambda d: d <= high)


def _mock_answer(call: Any, params: dict[str, str]) -> tuple[int, str]:
    try:
        call(params)
    except mock_errors.BinanceApiError as exc:
        return exc.code, exc.msg
    return 0, ""


def _ours(f: SymbolFilters, order_type: str, **kwargs: Any) -> tuple[int, str]:
    try:
        check_order(f, order_type, **kwargs)
    except FilterViolation as exc:
        return exc.venue_code, exc.filter
    return 0, ""


def _compare(ours: tuple[int, str], venue: tuple[int, str]) -> None:
    venue_code, venue_msg = venue
    if venue_code in FILTER_CODES:
        assert ours[0] == venue_code, (ours, venue)
        if venue_code == -1013:
            assert venue_msg == f"Filter failure: {ours[1]}"
    else:
        assert ours == (0, ""), (ours, venue)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    order_type=st.sampled_from(["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"]),
    price=decimals(0, 2_000_000, 4),
    stop=decimals(1, 2_000_000, 3),
    quantity=decimals(0, 10_000, 7),
)
def test_spot_check_refuses_exactly_what_the_mock_refuses(
    symbol: str, order_type: str, price: Decimal, stop: Decimal, quantity: Decimal
) -> None:
    params = {"symbol": symbol, "side": "SELL", "type": order_type, "quantity": str(quantity)}
    kwargs: dict[str, Any] = {"quantity": quantity}
    if order_type != "MARKET":
        params["price"] = str(price)
        kwargs["price"] = price
    if order_type in ("LIMIT", "STOP_LOSS_LIMIT"):
        params["timeInForce"] = "GTC"
    if order_type == "STOP_LOSS_LIMIT":
        params["stopPrice"] = str(stop)
        kwargs["stop_price"] = stop
    kwargs["last_price"] = MOCK.spot.engine.last_price(symbol)
    venue = _mock_answer(MOCK.spot.new_order, params)
    if venue[0] == 0:
        for order in MOCK.spot.engine.open_orders(symbol):
            MOCK.spot.cancel_order({"symbol": symbol, "orderId": str(order.order_id)})
    _compare(_ours(SPOT[symbol], order_type, **kwargs), venue)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    order_type=st.sampled_from(["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT_MARKET"]),
    price=decimals(0, 2_000_000, 3),
    trigger=decimals(1, 2_000_000, 3),
    quantity=decimals(0, 2_000, 4),
    reduce_only=st.booleans(),
)
def test_futures_check_refuses_exactly_what_the_mock_refuses(
    symbol: str,
    order_type: str,
    price: Decimal,
    trigger: Decimal,
    quantity: Decimal,
    reduce_only: bool,
) -> None:
    params = {"symbol": symbol, "side": "BUY", "type": order_type, "quantity": str(quantity)}
    kwargs: dict[str, Any] = {"quantity": quantity, "reduce_only": reduce_only}
    if reduce_only:
        params["reduceOnly"] = "true"
    if order_type in ("LIMIT", "STOP"):
        params["price"] = str(price)
        params["timeInForce"] = "GTC"
        kwargs["price"] = price
    algo = order_type not in ("LIMIT", "MARKET")
    if algo:
        params["algoType"] = "CONDITIONAL"
        params["triggerPrice"] = str(trigger)
        kwargs["stop_price"] = trigger
    kwargs["last_price"] = MOCK.futures.engine.last_price(symbol)
    call = MOCK.futures.new_algo_order if algo else MOCK.futures.new_order
    venue = _mock_answer(call, params)
    if venue[0] == 0:
        for order in MOCK.futures.engine.open_orders(symbol):
            MOCK.futures.engine.cancel(order, 1_700_000_000_000)
    _compare(_ours(FUTURES[symbol], order_type, **kwargs), venue)


def test_violation_names_filter_field_and_code() -> None:
    with pytest.raises(FilterViolation) as tick:
        check_order(SPOT["BTCUSDT"], "LIMIT", Decimal("0.01"), price=Decimal("40000.005"))
    assert (tick.value.filter, tick.value.field, tick.value.venue_code) == (
        "PRICE_FILTER",
        "price",
        -1013,
    )
    with pytest.raises(FilterViolation) as precision:
        check_order(SPOT["BTCUSDT"], "LIMIT", Decimal("0.000000001"), price=Decimal("40000"))
    assert (precision.value.filter, precision.value.venue_code) == ("PRECISION", -1111)
    with pytest.raises(FilterViolation, match=r"BTCUSDT: notional 4 fails MIN_NOTIONAL"):
        check_order(SPOT["BTCUSDT"], "LIMIT", Decimal("0.0001"), price=Decimal("40000"))
    with pytest.raises(FilterViolation) as futures:
        check_order(FUTURES["BTCUSDT"], "LIMIT", Decimal("0.001"), price=Decimal("40000.05"))
    assert (futures.value.filter, futures.value.venue_code) == ("PRICE_FILTER", -4014)
    # Reduce-only orders are exempt from the futures minimum notional.
    check_order(
        FUTURES["BTCUSDT"], "LIMIT", Decimal("0.001"), price=Decimal("402.0"), reduce_only=True
    )
    with pytest.raises(FilterViolation, match="MAX_NUM_ORDERS"):
        check_order(
            SPOT["BTCUSDT"], "LIMIT", Decimal("0.01"), price=Decimal("40000"), open_orders=200
        )


def test_spot_and_futures_notional_keys_become_min_notional() -> None:
    spot = to_instrument(SPOT["BTCUSDT"], 1)
    assert (spot.venue, spot.kind, spot.currency, spot.base_currency) == (
        Venue.BINANCE,
        InstrumentKind.SPOT,
        "USDT",
        "BTC",
    )
    assert (spot.tick_size, spot.lot_size, spot.min_notional) == (
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("10"),
    )
    assert (spot.price_precision, spot.size_precision) == (2, 5)
    perp = to_instrument(FUTURES["BTCUSDT"], 2)
    assert (perp.venue, perp.kind, perp.expiry) == (Venue.BINANCE_USDM, InstrumentKind.PERPETUAL, 0)
    assert (perp.tick_size, perp.lot_size, perp.min_notional) == (
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("10"),
    )
    assert perp.price_precision == 2  # pricePrecision 2 exceeds the 0.1 tick's one decimal
    quarterly = to_instrument(FUTURES["BTCUSDT_220325"], 3)
    assert quarterly.kind is InstrumentKind.FUTURE
    assert quarterly.expiry == 1_648_195_200_000 * 1_000_000
    current = dict(MOCK.spot_info["symbols"][0])
    current["filters"] = [f for f in current["filters"] if f["filterType"] != "MIN_NOTIONAL"] + [
        {"filterType": "NOTIONAL", "minNotional": "5", "maxNotional": "1000000"}
    ]
    f = SymbolFilters.from_entry("spot", current)
    assert to_instrument(f, 1).min_notional == Decimal("5")
    with pytest.raises(FilterViolation, match="NOTIONAL"):
        check_order(f, "LIMIT", Decimal("1"), price=Decimal("1"))
    with pytest.raises(
        FilterViolation, match=r"notional 4000000 fails NOTIONAL \(outside 5\.\.1000000\)"
    ):
        check_order(f, "LIMIT", Decimal("100"), price=Decimal("40000"))
    check_order(f, "MARKET", Decimal("100"), last_price=Decimal("40000"))  # max not for MARKET


def test_registry_refresh_age_and_lookups() -> None:
    now = [0]
    registry = SymbolRegistry("spot", now_ns=lambda: now[0])
    assert registry.is_stale()
    registry.load(MOCK.spot_info)
    assert not registry.is_stale()
    now[0] += 86_401 * 1_000_000_000
    assert registry.is_stale()
    instruments = registry.instruments()
    assert [i.symbol for i in instruments] == ["BTCUSDT", "ETHUSDT"]  # ETHBTC has no filters
    for instrument in instruments:
        registry.add_instrument(instrument)
    assert registry.instrument(2).symbol == "ETHUSDT"
    assert registry.by_symbol("ETHUSDT").instrument_id == 2
    with pytest.raises(KeyError, match="no spot Binance instrument 'ETHBTC'"):
        registry.by_symbol("ETHBTC")
    with pytest.raises(KeyError, match="instrument 9"):
        registry.instrument(9)
    with pytest.raises(KeyError, match="'XRPUSDT' is not in the spot exchangeInfo"):
        registry.filters("XRPUSDT")
    with pytest.raises(ValueError, match="BINANCE_USDM, not BINANCE"):
        registry.add_instrument(to_instrument(FUTURES["BTCUSDT"], 5))


def test_bad_exchange_info_names_symbol_and_key() -> None:
    with pytest.raises(InstrumentInfoError, match="no 'symbols' list"):
        filters_from_exchange_info("spot", {})
    entry = dict(MOCK.spot_info["symbols"][0])
    del entry["baseAssetPrecision"]
    with pytest.raises(InstrumentInfoError, match=r"'BTCUSDT'.*baseAssetPrecision"):
        SymbolFilters.from_entry("spot", entry)
    entry = dict(MOCK.futures_info["symbols"][0])
    entry["filters"] = [{"filterType": "PRICE_FILTER", "minPrice": "x", "tickSize": "0.1"}]
    with pytest.raises(InstrumentInfoError, match=r"PRICE_FILTER\.minPrice"):
        SymbolFilters.from_entry("futures", entry)
    with pytest.raises(InstrumentInfoError, match="needs PRICE_FILTER"):
        to_instrument(filters_from_exchange_info("spot", MOCK.spot_info)["ETHBTC"], 1)
