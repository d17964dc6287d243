"""The shipped fee models: each component against hand-computed values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qk.fees import FeeComponentKind, FeeInputError, UnknownFeeModelError, default_fee_models
from qk.fees.model import FeeModel
from qk.schemas.enums import InstrumentKind, LiquiditySide, Product, Side, Venue

from .conftest import crypto, equity, fill, future, option

K = FeeComponentKind


def model(name: str) -> FeeModel:
    return default_fee_models()[name]


def values(breakdown: object) -> dict[FeeComponentKind, Decimal]:
    from qk.fees import FeeBreakdown

    assert isinstance(breakdown, FeeBreakdown)
    return {c.kind: c.value for c in breakdown.components}


def test_fee_when_intraday_order_above_cap_then_brokerage_is_twenty_rupees() -> None:
    # 100 x 1500 = 150000; 0.03% = 45 > 20.
    b = model("zerodha.equity.intraday").fee(
        fill(equity(), Side.BUY, "1500", "100", product=Product.INTRADAY)
    )
    v = values(b)
    assert v[K.BROKERAGE] == Decimal(20)
    assert v[K.TRANSACTION_TAX] == 0  # intraday STT is on the sell side only
    assert v[K.EXCHANGE_TRANSACTION] == Decimal("4.455")  # 0.00297% of 150000
    assert v[K.SEBI_TURNOVER] == Decimal("0.15")  # ₹10/crore
    assert v[K.STAMP_DUTY] == Decimal("4.5")  # 0.003% of 150000, buy side
    assert v[K.GST] == Decimal("0.18") * (Decimal(20) + Decimal("4.455") + Decimal("0.15"))
    assert b.total_value == sum(v.values())
    assert b.currency == "INR"


def test_fee_when_intraday_order_below_cap_then_brokerage_is_three_basis_points() -> None:
    b = model("zerodha.equity.intraday").fee(
        fill(equity(), Side.SELL, "1500", "10", product=Product.INTRADAY)
    )
    assert b.value(K.BROKERAGE) == Decimal("4.5")
    assert b.value(K.TRANSACTION_TAX) == Decimal("3.75")  # 0.025% of 15000 on the sell
    assert b.value(K.STAMP_DUTY) == 0


def test_fee_when_order_fills_in_parts_then_brokerage_cap_applies_to_the_whole_order() -> None:
    intraday = model("zerodha.equity.intraday")
    first = intraday.fee(fill(equity(), Side.BUY, "1000", "50", product=Product.INTRADAY))
    second = intraday.fee(
        fill(
            equity(),
            Side.BUY,
            "1000",
            "50",
            product=Product.INTRADAY,
            order_filled_notional="50000",
        )
    )
    third = intraday.fee(
        fill(
            equity(),
            Side.BUY,
            "1000",
            "50",
            product=Product.INTRADAY,
            order_filled_notional="100000",
        )
    )
    assert first.value(K.BROKERAGE) == Decimal(15)
    assert second.value(K.BROKERAGE) == Decimal(5)
    assert third.value(K.BROKERAGE) == 0


def test_fee_when_delivery_then_zero_brokerage_and_stt_on_both_sides() -> None:
    delivery = model("zerodha.equity.delivery")
    buy = delivery.fee(fill(equity(), Side.BUY, "2000", "10", product=Product.DELIVERY))
    sell = delivery.fee(fill(equity(), Side.SELL, "2000", "10", product=Product.DELIVERY))
    assert buy.value(K.BROKERAGE) == sell.value(K.BROKERAGE) == 0
    assert buy.value(K.TRANSACTION_TAX) == sell.value(K.TRANSACTION_TAX) == Decimal(20)
    assert buy.value(K.STAMP_DUTY) == Decimal(3)  # 0.015% of 20000
    assert sell.value(K.STAMP_DUTY) == 0


def test_fee_when_futures_sell_then_stt_is_charged_and_buy_pays_stamp_duty() -> None:
    futures = model("zerodha.fno.futures")
    nifty = future()
    sell = futures.fee(fill(nifty, Side.SELL, "24000", "75", product=Product.CARRY))
    buy = futures.fee(fill(nifty, Side.BUY, "24000", "75", product=Product.CARRY))
    # turnover 1_800_000
    assert sell.value(K.BROKERAGE) == Decimal(20)
    assert sell.value(K.TRANSACTION_TAX) == Decimal(360)  # 0.02%
    assert buy.value(K.TRANSACTION_TAX) == 0
    assert sell.value(K.EXCHANGE_TRANSACTION) == Decimal("31.14")  # 0.00173%
    assert buy.value(K.STAMP_DUTY) == Decimal(36)  # 0.002%
    assert sell.value(K.STAMP_DUTY) == 0


def test_fee_when_option_order_fills_twice_then_flat_brokerage_is_charged_once() -> None:
    options = model("zerodha.fno.options")
    first = options.fee(fill(option(), Side.SELL, "100", "75", product=Product.INTRADAY))
    second = options.fee(
        fill(
            option(),
            Side.SELL,
            "100",
            "75",
            product=Product.INTRADAY,
            order_filled_notional="7500",
        )
    )
    assert first.value(K.BROKERAGE) == Decimal(20)
    assert second.value(K.BROKERAGE) == 0
    assert first.value(K.TRANSACTION_TAX) == Decimal("7.5")  # 0.1% of premium 7500
    assert first.value(K.EXCHANGE_TRANSACTION) == Decimal("2.62725")  # 0.03503%


def test_fee_when_amount_has_more_than_eight_decimals_then_it_rounds_half_up() -> None:
    # Premium 0.05 x 3 = 0.15; exchange charge 0.15 x 0.03503% = 0.000052545 exactly, which
    # half up makes 0.00005255 (half even would make 0.00005254).
    b = model("zerodha.fno.options").fee(
        fill(option(), Side.BUY, "0.05", "3", product=Product.CARRY)
    )
    assert b.value(K.EXCHANGE_TRANSACTION) == Decimal("0.00005255")
    # GST is computed on the rounded components, then rounded itself.
    base = b.value(K.BROKERAGE) + b.value(K.EXCHANGE_TRANSACTION) + b.value(K.SEBI_TURNOVER)
    assert b.value(K.GST) == (Decimal("0.18") * base).quantize(
        Decimal("1E-8"), rounding="ROUND_HALF_UP"
    )


@pytest.mark.parametrize(
    ("name", "liquidity", "expected"),
    [
        ("binance.spot", LiquiditySide.MAKER, "30.00006"),
        ("binance.spot", LiquiditySide.TAKER, "30.00006"),
        ("binance.spot.bnb", LiquiditySide.TAKER, "22.500045"),
        ("binance.usdm", LiquiditySide.MAKER, "6.000012"),
        ("binance.usdm", LiquiditySide.TAKER, "15.00003"),
        ("binance.usdm", LiquiditySide.NONE, "15.00003"),  # unknown liquidity: the taker rate
        ("binance.usdm.bnb", LiquiditySide.MAKER, "5.4000108"),
    ],
)
def test_fee_when_binance_fill_then_maker_or_taker_rate_applies(
    name: str, liquidity: LiquiditySide, expected: str
) -> None:
    venue = Venue.BINANCE if name.startswith("binance.spot") else Venue.BINANCE_USDM
    kind = InstrumentKind.SPOT if venue is Venue.BINANCE else InstrumentKind.PERPETUAL
    btc = crypto(venue=venue, kind=kind)
    # 0.5 x 60000.12 = 30000.06
    b = model(name).fee(fill(btc, Side.BUY, "60000.12", "0.5", liquidity=liquidity))
    assert b.total_value == Decimal(expected)
    assert b.currency == "USDT"


def test_fee_when_instrument_has_multiplier_then_turnover_includes_it() -> None:
    # An MCX-style contract quoted per unit with a 1000 multiplier: 161.05 x 1 x 1000.
    lead = future("LEADMINI", Venue.NFO, multiplier="1000")
    b = model("zerodha.fno.futures").fee(
        fill(lead, Side.SELL, "161.05", "1", product=Product.CARRY)
    )
    assert b.value(K.TRANSACTION_TAX) == Decimal("32.21")  # 0.02% of 161050


def test_fee_when_coindcx_inr_then_gst_is_on_the_trading_fee() -> None:
    usdtinr = crypto("USDTINR", Venue.COINDCX, "INR", InstrumentKind.SPOT, 2, 2)
    b = model("coindcx.spot.inr").fee(fill(usdtinr, Side.SELL, "90", "100"))
    assert b.value(K.TRADING_FEE) == Decimal(45)
    assert b.value(K.GST) == Decimal("8.1")


def test_fee_when_unknown_model_name_then_error_lists_known_names() -> None:
    with pytest.raises(
        UnknownFeeModelError, match=r"no fee model named 'zerodha\.equity'.*binance\.spot"
    ):
        default_fee_models()["zerodha.equity"]


@pytest.mark.parametrize(
    ("price", "quantity"), [("100", "0"), ("100", "-1"), ("0", "1"), ("-5", "1")]
)
def test_fee_when_quantity_or_price_not_positive_then_fee_input_error(
    price: str, quantity: str
) -> None:
    with pytest.raises(FeeInputError, match="must be > 0"):
        model("zerodha.equity.delivery").fee(
            fill(equity(), Side.BUY, price, quantity, product=Product.DELIVERY)
        )


def test_fee_when_wrong_venue_kind_product_or_currency_then_fee_input_error() -> None:
    delivery = model("zerodha.equity.delivery")
    with pytest.raises(FeeInputError, match="venue BSE"):
        delivery.fee(fill(equity(venue=Venue.BSE), Side.BUY, "1", "1", product=Product.DELIVERY))
    with pytest.raises(FeeInputError, match="product INTRADAY"):
        delivery.fee(fill(equity(), Side.BUY, "1", "1", product=Product.INTRADAY))
    with pytest.raises(FeeInputError, match="instrument kind OPTION"):
        model("zerodha.fno.futures").fee(fill(option(), Side.BUY, "1", "1", product=Product.CARRY))
    with pytest.raises(FeeInputError, match="currency USDT"):
        model("coindcx.spot.inr").fee(fill(crypto(venue=Venue.COINDCX), Side.BUY, "1", "1"))


def test_default_models_when_loaded_then_every_component_has_a_source_and_unverified_ones_say_verify() -> (
    None
):
    for name, fee_model in default_fee_models().items():
        for spec in fee_model.components:
            assert spec.source, f"{name} {spec.kind.name} has no source"
            if not spec.verified:
                assert "verify" in (spec.source + spec.note).lower(), (name, spec.kind.name)
