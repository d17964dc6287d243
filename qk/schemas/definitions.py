"""The one definition of every record layout.

Everything else is generated from this list: the numpy dtypes (``records.py``), the C structs and
layout table (``cext/records.h``), the Cython probe (``cext/layout.pyx``) and ``docs/schemas.md``.
After editing, run ``python -m qk.schemas.generate`` and bump the record's ``version``.

Fixed-point scales used in the field descriptions (see ``qk.schemas.fixed``):

- *price*: the instrument's ``price_precision`` decimals;
- *qty*: the instrument's ``size_precision`` decimals;
- *avg price*: ``price_precision + AVERAGE_PRICE_EXTRA_PRECISION`` decimals;
- *money*: ``MONEY_PRECISION`` decimals of the named currency.
"""

from __future__ import annotations

from qk.schemas.enums import (
    AckResult,
    AggressorSide,
    AssetClass,
    BarAggregation,
    BarFlag,
    BarSource,
    ComponentState,
    ControlCommandKind,
    DepthFlag,
    DepthUpdateKind,
    InstrumentKind,
    LiquiditySide,
    OptionType,
    OrderAction,
    OrderEventKind,
    OrderFlag,
    OrderStatus,
    OrderType,
    Product,
    RecordType,
    RejectReason,
    RiskAction,
    RiskReason,
    Severity,
    Side,
    TimeInForce,
    Venue,
)
from qk.schemas.layout import FieldDef, RecordDef

F = FieldDef

DEPTH_LEVELS = 10
"""Book levels per side in one DepthEvent (Binance partial depth and Nautilus use 10; Kite 5)."""

HEADER_SIZE = 40
"""Size of the common header that starts every record."""

HEADER = RecordDef(
    name="Header",
    type_id=0,
    version=1,
    doc="The common header: the first 40 bytes of every record.",
    fields=(
        F("type", "u16", "record type id", RecordType),
        F("version", "u8", "layout version of this type"),
        F("flags", "u8", "per-type flag bits (see the record's flags enum)"),
        F("size", "u16", "record size in bytes"),
        F("source", "u16", "producing component / stream id"),
        F("seq", "u64", "producer sequence number"),
        F("ts_event", "i64", "venue/market time, ns since epoch UTC"),
        F("ts_recv", "i64", "local wall time when the record was made, ns since epoch UTC"),
        F("corr_id", "u64", "correlation id of the tick that caused this record"),
    ),
)

_STRATEGY = F("strategy_id", "u32", "strategy id (0 = none / account level)")
_INSTRUMENT = F("instrument_id", "u32", "instrument master id (0 = none)")
_CLIENT_ORDER_ID = F(
    "client_order_id", "u64", "deterministic client order id (strategy id + sequence)"
)
_VENUE_ORDER_ID = F(
    "venue_order_id", "char[40]", "venue's order id, ASCII, NUL-padded (empty until acked)"
)

RECORDS: tuple[RecordDef, ...] = (
    RecordDef(
        "TickEvent",
        RecordType.TICK_EVENT,
        1,
        "A venue ticker snapshot (Kite quote/full tick, Binance 24h ticker): last trade, best "
        "bid/ask and session totals. Written by a feed, read by the aggregator and strategies.",
        (
            _INSTRUMENT,
            F("reserved0", "char[4]", "zero"),
            F("last_price", "i64", "last traded price (price)"),
            F("last_quantity", "i64", "last traded quantity (qty)"),
            F("bid_price", "i64", "best bid price (price), 0 if none"),
            F("bid_size", "i64", "best bid size (qty)"),
            F("ask_price", "i64", "best ask price (price), 0 if none"),
            F("ask_size", "i64", "best ask size (qty)"),
            F("volume", "i64", "session traded volume so far (qty)"),
            F("open_interest", "i64", "open interest (qty), 0 where not applicable"),
            F("ts_last_trade", "i64", "venue time of the last trade, ns since epoch UTC"),
        ),
    ),
    RecordDef(
        "TradeEvent",
        RecordType.TRADE_EVENT,
        1,
        "One trade printed by the venue. Written by a feed; the aggregator builds bars from it.",
        (
            _INSTRUMENT,
            F("aggressor", "u8", "side that took liquidity", AggressorSide),
            F("reserved0", "char[3]", "zero"),
            F("price", "i64", "trade price (price)"),
            F("quantity", "i64", "trade quantity (qty)"),
            F("venue_trade_id", "u64", "venue trade id, for de-duplication and gap detection"),
        ),
    ),
    RecordDef(
        "QuoteEvent",
        RecordType.QUOTE_EVENT,
        1,
        "Top of book (Binance bookTicker). Written by a feed.",
        (
            _INSTRUMENT,
            F("reserved0", "char[4]", "zero"),
            F("bid_price", "i64", "best bid price (price), 0 if none"),
            F("bid_size", "i64", "best bid size (qty)"),
            F("ask_price", "i64", "best ask price (price), 0 if none"),
            F("ask_size", "i64", "best ask size (qty)"),
            F("venue_update_id", "u64", "venue book update id (0 if the venue has none)"),
        ),
    ),
    RecordDef(
        "DepthEvent",
        RecordType.DEPTH_EVENT,
        1,
        f"Up to {DEPTH_LEVELS} book levels per side. A snapshot replaces the book; a diff patches "
        "it (size 0 deletes a level). A venue update with more levels spans several records; the "
        "last one carries the LAST flag. Level arrays are best first for snapshots; unused slots "
        "are zero.",
        (
            _INSTRUMENT,
            F("update_kind", "u8", "snapshot or diff", DepthUpdateKind),
            F("bid_levels", "u8", f"number of valid bid levels (0..{DEPTH_LEVELS})"),
            F("ask_levels", "u8", f"number of valid ask levels (0..{DEPTH_LEVELS})"),
            F("reserved0", "char[1]", "zero"),
            F("first_update_id", "u64", "first venue update id covered (Binance U)"),
            F("last_update_id", "u64", "last venue update id covered (Binance u)"),
            F(
                "prev_update_id",
                "u64",
                "venue's previous last update id (Binance futures pu), 0 if none",
            ),
            F("bid_price", f"i64[{DEPTH_LEVELS}]", "bid prices (price)"),
            F("bid_size", f"i64[{DEPTH_LEVELS}]", "bid sizes (qty)"),
            F("ask_price", f"i64[{DEPTH_LEVELS}]", "ask prices (price)"),
            F("ask_size", f"i64[{DEPTH_LEVELS}]", "ask sizes (qty)"),
            F("bid_orders", f"u32[{DEPTH_LEVELS}]", "orders at each bid level (0 if unknown)"),
            F("ask_orders", f"u32[{DEPTH_LEVELS}]", "orders at each ask level (0 if unknown)"),
        ),
        flags=DepthFlag,
    ),
    RecordDef(
        "BarEvent",
        RecordType.BAR_EVENT,
        2,
        "One OHLCV bar. ts_event is the close time of the bar; ts_recv and corr_id are those of "
        "the tick (or the flush) that published it. A revision of a published bar repeats it with "
        "REVISED set and a higher revision; the last publication of a bar is its final state.",
        (
            _INSTRUMENT,
            F("bar_source", "u8", "what the bar was built from", BarSource),
            F("aggregation", "u8", "time, tick-count or volume bar", BarAggregation),
            F("revision", "u16", "0 for the first publication, +1 per revision"),
            F(
                "timeframe_ns",
                "i64",
                "bar size: the duration in ns for TIME bars, the trade count N for TICK bars, "
                "the quantity N (qty) for VOLUME bars",
            ),
            F("open_time", "i64", "interval start (inclusive), ns since epoch UTC"),
            F(
                "close_time",
                "i64",
                "interval end (exclusive), ns since epoch UTC; for TICK/VOLUME bars the event "
                "time of the last trade",
            ),
            F("open", "i64", "open (price)"),
            F("high", "i64", "high (price)"),
            F("low", "i64", "low (price)"),
            F("close", "i64", "close (price)"),
            F("volume", "i64", "traded volume (qty); 0 for quote bars"),
            F("vwap", "i64", "volume-weighted average price (avg price), 0 if no volume"),
            F("trade_count", "u64", "number of trades (quote updates for quote bars)"),
        ),
        flags=BarFlag,
    ),
    RecordDef(
        "OrderIntent",
        RecordType.ORDER_INTENT,
        1,
        "A strategy's request: a new order, a cancel or a modify. Written by a strategy into "
        "its own ring; risk approves or denies it.",
        (
            _STRATEGY,
            _INSTRUMENT,
            _CLIENT_ORDER_ID,
            F("action", "u8", "new, cancel, modify or cancel-all", OrderAction),
            F("side", "u8", "order side", Side),
            F("order_type", "u8", "order type", OrderType),
            F("time_in_force", "u8", "time in force", TimeInForce),
            F("product", "u8", "broker product (Indian venues)", Product),
            F("reserved0", "char[1]", "zero"),
            F("order_flags", "u16", "order property bits", OrderFlag),
            F("price", "i64", "limit price (price), 0 for market orders"),
            F("trigger_price", "i64", "stop/take-profit trigger (price), 0 if none"),
            F("quantity", "i64", "order quantity (qty)"),
            F("display_quantity", "i64", "iceberg/disclosed quantity (qty), 0 = all"),
            F("expire_time", "i64", "GTD expiry, ns since epoch UTC, 0 if none"),
        ),
    ),
    RecordDef(
        "OrderAck",
        RecordType.ORDER_ACK,
        1,
        "The venue's (or simulator's) answer to a new/cancel/modify request. Written by the "
        "gateway.",
        (
            _STRATEGY,
            _INSTRUMENT,
            _CLIENT_ORDER_ID,
            _VENUE_ORDER_ID,
            F("action", "u8", "the request answered", OrderAction),
            F("result", "u8", "accepted or rejected", AckResult),
            F("reject_reason", "u16", "why it was rejected", RejectReason),
            F("venue_error_code", "i32", "raw venue error code (e.g. Binance -2010), 0 if none"),
        ),
    ),
    RecordDef(
        "OrderUpdate",
        RecordType.ORDER_UPDATE,
        1,
        "The full state of an order after one lifecycle transition. Written by the OMS; the "
        "order book is rebuilt from these on recovery.",
        (
            _STRATEGY,
            _INSTRUMENT,
            _CLIENT_ORDER_ID,
            _VENUE_ORDER_ID,
            F("event", "u8", "the transition that happened", OrderEventKind),
            F("status", "u8", "status after the transition", OrderStatus),
            F("side", "u8", "order side", Side),
            F("order_type", "u8", "order type", OrderType),
            F("time_in_force", "u8", "time in force", TimeInForce),
            F("product", "u8", "broker product (Indian venues)", Product),
            F("order_flags", "u16", "order property bits", OrderFlag),
            F("reject_reason", "u16", "reason for a reject/deny, else NONE", RejectReason),
            F("reserved0", "char[2]", "zero"),
            F("venue_error_code", "i32", "raw venue error code, 0 if none"),
            F("revision", "u32", "number of transitions applied to this order so far"),
            F("reserved1", "char[4]", "zero"),
            F("price", "i64", "limit price (price), 0 for market orders"),
            F("trigger_price", "i64", "trigger (price), 0 if none"),
            F("quantity", "i64", "order quantity (qty)"),
            F("filled_quantity", "i64", "cumulative filled quantity (qty)"),
            F(
                "leaves_quantity",
                "i64",
                "quantity - filled_quantity (qty); working only while the status is open",
            ),
            F("avg_price", "i64", "average fill price (avg price), 0 if nothing filled"),
            F("expire_time", "i64", "GTD expiry, ns since epoch UTC, 0 if none"),
        ),
    ),
    RecordDef(
        "FillEvent",
        RecordType.FILL_EVENT,
        1,
        "One execution against an order. Written by the gateway (or the fill simulator).",
        (
            _STRATEGY,
            _INSTRUMENT,
            _CLIENT_ORDER_ID,
            _VENUE_ORDER_ID,
            F(
                "trade_id",
                "u64",
                "venue trade/fill id (de-duplication key with the instrument)",
            ),
            F("side", "u8", "order side", Side),
            F("liquidity", "u8", "maker or taker", LiquiditySide),
            F("reserved0", "char[6]", "zero"),
            F("price", "i64", "fill price (price)"),
            F("quantity", "i64", "fill quantity (qty)"),
            F("filled_quantity", "i64", "order's cumulative filled quantity after this fill (qty)"),
            F("leaves_quantity", "i64", "order's remaining quantity after this fill (qty)"),
            F("fee", "i64", "fee charged (money, in fee_currency); negative for a rebate"),
            F("fee_currency", "char[8]", "currency of the fee, ASCII"),
        ),
    ),
    RecordDef(
        "PositionUpdate",
        RecordType.POSITION_UPDATE,
        1,
        "A position per strategy and instrument after a fill or a mark. Written by the portfolio.",
        (
            _STRATEGY,
            _INSTRUMENT,
            F("quantity", "i64", "signed net position (qty): > 0 long, < 0 short"),
            F("avg_price", "i64", "average entry price of the open position (avg price)"),
            F("realized_pnl", "i64", "realised PnL (money)"),
            F("unrealized_pnl", "i64", "unrealised PnL at mark_price (money)"),
            F("fees", "i64", "cumulative fees (money)"),
            F("mark_price", "i64", "price used for unrealised PnL (price)"),
            F("margin_used", "i64", "margin blocked by this position (money)"),
            F("currency", "char[8]", "currency of the money fields, ASCII"),
            F("client_order_id", "u64", "order whose fill changed the position, 0 for a mark"),
        ),
    ),
    RecordDef(
        "PortfolioSnapshot",
        RecordType.PORTFOLIO_SNAPSHOT,
        1,
        "Totals of an account or strategy at one instant. Written by the portfolio.",
        (
            _STRATEGY,
            F("venue", "u16", "venue the totals cover (0 = all venues)", Venue),
            F("reserved0", "char[2]", "zero"),
            F("currency", "char[8]", "currency of the money fields, ASCII"),
            F("equity", "i64", "cash + unrealised PnL (money)"),
            F("cash", "i64", "cash balance (money)"),
            F("realized_pnl", "i64", "realised PnL (money)"),
            F("unrealized_pnl", "i64", "unrealised PnL (money)"),
            F("fees", "i64", "cumulative fees (money)"),
            F("margin_used", "i64", "margin in use (money)"),
            F("margin_available", "i64", "margin still available (money)"),
            F("gross_exposure", "i64", "sum of |position notional| (money)"),
            F("net_exposure", "i64", "sum of signed position notional (money)"),
            F("day_pnl", "i64", "PnL since the start of the trading day (money)"),
            F("peak_equity", "i64", "highest equity seen, for drawdown (money)"),
            F("position_count", "u32", "open positions"),
            F("open_order_count", "u32", "working orders"),
        ),
    ),
    RecordDef(
        "RiskEvent",
        RecordType.RISK_EVENT,
        1,
        "A risk check fired. limit_value and observed_value are in the unit of the check: qty, "
        "price, money or a plain count.",
        (
            _STRATEGY,
            _INSTRUMENT,
            F("client_order_id", "u64", "order concerned, 0 if none"),
            F("reason", "u16", "which check fired", RiskReason),
            F("action", "u8", "what risk did", RiskAction),
            F("severity", "u8", "severity", Severity),
            F("reserved0", "char[4]", "zero"),
            F("limit_value", "i64", "the configured limit"),
            F("observed_value", "i64", "the value that breached it"),
            F("detail", "char[40]", "short ASCII detail for humans"),
        ),
    ),
    RecordDef(
        "SystemHealthEvent",
        RecordType.SYSTEM_HEALTH_EVENT,
        1,
        "Heartbeat and health of one component. Written by every process and the supervisor.",
        (
            F("component_id", "u16", "component the event is about"),
            F("state", "u8", "lifecycle state", ComponentState),
            F("severity", "u8", "severity", Severity),
            F("pid", "u32", "OS process id"),
            F("cpu", "i32", "CPU core the process is pinned to, -1 if not pinned"),
            F("restarts", "u32", "restarts by the supervisor so far"),
            F("heartbeat_seq", "u64", "heartbeat counter"),
            F("ts_monotonic", "i64", "CLOCK_MONOTONIC when made, ns (for latency, not wall time)"),
            F("cpu_usage_bp", "u32", "CPU usage in basis points of one core (10000 = 100%)"),
            F("reserved0", "char[4]", "zero"),
            F("rss_bytes", "u64", "resident memory, bytes"),
            F("max_ring_lag", "u64", "largest consumer lag over the component's rings, records"),
            F("records_dropped", "u64", "records skipped by lossy consumers so far"),
            F("detail", "char[40]", "short ASCII detail for humans"),
        ),
    ),
    RecordDef(
        "ControlCommand",
        RecordType.CONTROL_COMMAND,
        1,
        "An operator or supervisor command, from the control plane. command_id makes it "
        "idempotent.",
        (
            F("command", "u16", "what to do", ControlCommandKind),
            F("target_component", "u16", "component addressed, 0 = all"),
            F("strategy_id", "u32", "strategy addressed, 0 = all"),
            F("instrument_id", "u32", "instrument addressed, 0 = all"),
            F("operator_id", "u32", "authenticated operator who issued it (0 = supervisor)"),
            F("command_id", "u64", "unique id; a repeated command_id is ignored"),
            F("limit", "u16", "for SET_LIMIT: the RiskReason code of the limit", RiskReason),
            F("reserved0", "char[6]", "zero"),
            F("value", "i64", "for SET_LIMIT: the new limit, in the unit of the check"),
            F("detail", "char[40]", "short ASCII note (reason given by the operator)"),
        ),
    ),
    RecordDef(
        "TimerEvent",
        RecordType.TIMER_EVENT,
        1,
        "A timer fired on the clock of the mode (simulated or live). ts_event is the firing "
        "time on that clock.",
        (
            _STRATEGY,
            F("reserved0", "char[4]", "zero"),
            F("timer_id", "u64", "timer id, unique per strategy"),
            F("ts_scheduled", "i64", "time it was due, ns since epoch UTC"),
            F("interval_ns", "i64", "repeat interval, ns (0 = one-shot)"),
            F("fire_count", "u64", "times this timer has fired, this one included"),
            F("timer_name", "char[24]", "name given when scheduled, ASCII"),
        ),
    ),
    RecordDef(
        "Instrument",
        RecordType.INSTRUMENT,
        1,
        "One instrument of the instrument master. Prices here are at this instrument's "
        "price_precision, quantities at its size_precision.",
        (
            _INSTRUMENT,
            F("venue", "u16", "venue", Venue),
            F("asset_class", "u8", "asset class", AssetClass),
            F("kind", "u8", "contract form", InstrumentKind),
            F("option_type", "u8", "call/put, NONE if not an option", OptionType),
            F("price_precision", "u8", "decimals of prices of this instrument (0..18)"),
            F("size_precision", "u8", "decimals of quantities of this instrument (0..18)"),
            F("reserved0", "char[5]", "zero"),
            F("venue_token", "u64", "venue's numeric id (Kite instrument_token), 0 if none"),
            F("tick_size", "i64", "minimum price increment (price)"),
            F("lot_size", "i64", "quantity step (qty); an order is a multiple of it"),
            F("min_quantity", "i64", "minimum order quantity (qty)"),
            F("max_quantity", "i64", "maximum order quantity (qty), 0 = no limit"),
            F("min_notional", "i64", "minimum order value (money, in currency), 0 = none"),
            F("multiplier", "i64", "contract multiplier (MULTIPLIER_PRECISION decimals)"),
            F("expiry", "i64", "expiry, ns since epoch UTC, 0 if none"),
            F("strike", "i64", "option strike (price), 0 if not an option"),
            F("symbol", "char[32]", "venue symbol (tradingsymbol), ASCII"),
            F("underlying", "char[32]", "underlying symbol, ASCII (empty for spot)"),
            F("currency", "char[8]", "quote / settlement currency, ASCII"),
            F("base_currency", "char[8]", "base asset for crypto pairs, ASCII (else empty)"),
        ),
    ),
)
