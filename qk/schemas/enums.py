"""Enumerations stored in records.

Every value here is written into shared memory, the WAL and Parquet exports, so values are stable
forever: add new members with new values, never renumber or reuse one. Zero is kept free (``NONE``
or invalid) wherever a zeroed record must not look like a meaningful value.

Member docstrings are picked up by ``python -m qk.schemas.generate`` for ``docs/schemas.md``.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class RecordType(IntEnum):
    """Record type id (``u16`` header field ``type``), grouped in ranges by concern."""

    TICK_EVENT = 1
    """Venue ticker snapshot: last trade, best bid/ask, session volume, open interest."""
    TRADE_EVENT = 2
    """One trade printed by the venue."""
    QUOTE_EVENT = 3
    """Top of book: best bid and ask with sizes."""
    DEPTH_EVENT = 4
    """A fixed number of book levels per side, as a snapshot or a diff."""
    BAR_EVENT = 5
    """One OHLCV bar of a timeframe."""
    ORDER_INTENT = 16
    """A strategy asks for a new order, a cancel or a modify; risk decides."""
    ORDER_ACK = 17
    """The venue (or the simulator) accepted or rejected a request."""
    ORDER_UPDATE = 18
    """The full state of an order after one lifecycle transition."""
    FILL_EVENT = 19
    """One execution against an order."""
    POSITION_UPDATE = 32
    """A position after it changed."""
    PORTFOLIO_SNAPSHOT = 33
    """Account/strategy totals at one instant."""
    RISK_EVENT = 48
    """A risk check fired: denial, warning, halt."""
    SYSTEM_HEALTH_EVENT = 49
    """Heartbeat and health of one component."""
    CONTROL_COMMAND = 64
    """An operator or supervisor command."""
    TIMER_EVENT = 65
    """A timer fired on the clock of the mode."""
    INSTRUMENT = 80
    """One row of the instrument master."""


class Venue(IntEnum):
    """Where an instrument trades: an exchange segment or a crypto venue's market.

    Indian segments use the exchange codes Kite uses (``NSE``, ``NFO``...) because the broker
    (Zerodha today) is a deployment choice, not part of an instrument's identity.
    """

    SIM = 1
    """The simulated / loopback venue."""
    BINANCE = 2
    """Binance spot."""
    BINANCE_USDM = 3
    """Binance USD-M perpetual and delivery futures."""
    NSE = 4
    """National Stock Exchange of India, cash equity segment."""
    NFO = 5
    """NSE futures and options segment."""
    BSE = 6
    """BSE cash equity segment."""
    BFO = 7
    """BSE futures and options segment."""
    MCX = 8
    """Multi Commodity Exchange of India."""
    COINDCX = 9
    """CoinDCX spot."""
    COINDCX_FUTURES = 10
    """CoinDCX futures."""


class AssetClass(IntEnum):
    """What the instrument is ultimately exposed to."""

    EQUITY = 1
    """Shares of a company (or an ETF)."""
    INDEX = 2
    """A stock index (index futures and options)."""
    CRYPTO = 3
    """A crypto asset."""
    COMMODITY = 4
    """A physical commodity."""
    CURRENCY = 5
    """Fiat currency pair."""


class InstrumentKind(IntEnum):
    """The contract form of an instrument."""

    SPOT = 1
    """Cash / spot: you own the asset."""
    FUTURE = 2
    """Dated future with an expiry."""
    OPTION = 3
    """Option with strike, expiry and type."""
    PERPETUAL = 4
    """Perpetual swap (no expiry, funding)."""


class OptionType(IntEnum):
    """Option right; NONE for anything that is not an option."""

    NONE = 0
    """Not an option."""
    CALL = 1
    """Call (Kite ``CE``)."""
    PUT = 2
    """Put (Kite ``PE``)."""


class Side(IntEnum):
    """Order side. Zero is invalid so a zeroed intent can never be sent."""

    BUY = 1
    """Buy."""
    SELL = 2
    """Sell."""


class AggressorSide(IntEnum):
    """Which side took liquidity in a trade."""

    NONE = 0
    """Unknown (the venue does not say, or an auction)."""
    BUYER = 1
    """The buyer was the taker."""
    SELLER = 2
    """The seller was the taker (Binance ``m=true``: buyer is maker)."""


class OrderType(IntEnum):
    """Order type; venue types map into these (Kite ``SL`` is STOP_LIMIT, ``SL-M`` STOP_MARKET)."""

    MARKET = 1
    """Execute at the best available price."""
    LIMIT = 2
    """Execute at the price or better (LIMIT_MAKER is LIMIT + POST_ONLY)."""
    STOP_MARKET = 3
    """Becomes MARKET when the trigger price trades."""
    STOP_LIMIT = 4
    """Becomes LIMIT when the trigger price trades."""
    TAKE_PROFIT_MARKET = 5
    """Becomes MARKET when the trigger price trades, on the profit side."""
    TAKE_PROFIT_LIMIT = 6
    """Becomes LIMIT when the trigger price trades, on the profit side."""


class TimeInForce(IntEnum):
    """How long an order stays working."""

    GTC = 1
    """Good till cancelled."""
    IOC = 2
    """Immediate or cancel."""
    FOK = 3
    """Fill or kill."""
    DAY = 4
    """Until the end of the venue's session."""
    GTD = 5
    """Good till the order's ``expire_time``."""


class Product(IntEnum):
    """Indian broker product (margin treatment); NONE on venues without the concept."""

    NONE = 0
    """Not applicable (crypto venues)."""
    DELIVERY = 1
    """Cash delivery (Kite ``CNC``)."""
    INTRADAY = 2
    """Intraday margin, squared off by the broker (Kite ``MIS``)."""
    CARRY = 3
    """Carry-forward derivatives / normal margin (Kite ``NRML``)."""


class OrderFlag(IntFlag):
    """Order property bits (``order_flags``)."""

    REDUCE_ONLY = 1
    """May only reduce an existing position."""
    POST_ONLY = 2
    """Must rest on the book; rejected if it would take."""


class OrderAction(IntEnum):
    """What an intent asks for."""

    NEW = 1
    """Place a new order."""
    CANCEL = 2
    """Cancel the order named by ``client_order_id``."""
    MODIFY = 3
    """Change price/trigger/quantity of the order named by ``client_order_id``."""
    CANCEL_ALL = 4
    """Cancel every open order of the strategy on the instrument (0 = all instruments)."""


class AckResult(IntEnum):
    """Outcome of a request."""

    ACCEPTED = 1
    """The venue accepted the request."""
    REJECTED = 2
    """The venue (or gateway) refused the request; see ``reject_reason``."""


class OrderStatus(IntEnum):
    """Order state; the order state machine is the only place that changes it."""

    INITIALIZED = 1
    """Created by the OMS, not yet sent."""
    DENIED = 2
    """Refused by pre-trade risk; never sent."""
    SUBMITTED = 3
    """Sent to the venue, no answer yet."""
    ACCEPTED = 4
    """Working at the venue."""
    REJECTED = 5
    """Refused by the venue."""
    TRIGGERED = 6
    """A stop/take-profit order whose trigger traded."""
    PENDING_MODIFY = 7
    """A modify was sent, no answer yet."""
    PENDING_CANCEL = 8
    """A cancel was sent, no answer yet."""
    PARTIALLY_FILLED = 9
    """Some quantity filled, the rest working."""
    FILLED = 10
    """Completely filled."""
    CANCELED = 11
    """Cancelled (possibly after partial fills)."""
    EXPIRED = 12
    """Expired by time in force."""
    UNKNOWN = 13
    """The outcome of the submit is not known (timeout, 5XX); reconciliation settles it."""


class OrderEventKind(IntEnum):
    """The lifecycle event an OrderUpdate records (past tense: it happened)."""

    INITIALIZED = 1
    """The OMS created the order from an approved intent."""
    DENIED = 2
    """Pre-trade risk refused it."""
    SUBMITTED = 3
    """Sent to the venue."""
    ACCEPTED = 4
    """The venue accepted it."""
    REJECTED = 5
    """The venue rejected it."""
    TRIGGERED = 6
    """Its trigger price traded."""
    MODIFY_PENDING = 7
    """A modify request was sent."""
    MODIFIED = 8
    """The venue applied a modify."""
    MODIFY_REJECTED = 9
    """The venue refused a modify; the order is unchanged."""
    CANCEL_PENDING = 10
    """A cancel request was sent."""
    CANCELED = 11
    """The venue cancelled it."""
    CANCEL_REJECTED = 12
    """The venue refused a cancel (e.g. already filled)."""
    FILLED = 13
    """A fill completed the order's quantity."""
    EXPIRED = 14
    """It expired."""
    STATUS_UNKNOWN = 15
    """A submit timed out or failed with 5XX: the venue may or may not have the order."""
    PARTIALLY_FILLED = 16
    """A fill that leaves quantity unfilled."""


class RejectReason(IntEnum):
    """Why a request was rejected (``reject_reason``); the raw venue code is kept alongside."""

    NONE = 0
    """Not rejected."""
    VENUE = 1
    """Rejected by the venue for a reason with no better code here; see ``venue_error_code``."""
    INSUFFICIENT_FUNDS = 2
    """Not enough balance or margin."""
    INVALID_PRICE = 3
    """Price off the tick grid or outside the venue's band."""
    INVALID_QUANTITY = 4
    """Quantity off the lot grid or outside min/max."""
    MIN_NOTIONAL = 5
    """Order value below the venue minimum."""
    UNKNOWN_ORDER = 6
    """Cancel/modify of an order the venue does not know."""
    DUPLICATE_CLIENT_ORDER_ID = 7
    """The client order id was already used."""
    RATE_LIMITED = 8
    """The venue's rate limit was hit."""
    MARKET_CLOSED = 9
    """Outside trading hours or the instrument is halted."""
    POST_ONLY_WOULD_TAKE = 10
    """A post-only order would have crossed."""
    REDUCE_ONLY_WOULD_INCREASE = 11
    """A reduce-only order would have increased the position."""
    TIMEOUT = 12
    """No answer from the venue in time."""
    CONNECTION_LOST = 13
    """The gateway lost its connection while the request was in flight."""
    INTERNAL = 14
    """A bug or unexpected state in our own code."""


class LiquiditySide(IntEnum):
    """Whether a fill added or removed liquidity."""

    NONE = 0
    """Unknown (e.g. auction, or the venue does not say)."""
    MAKER = 1
    """The order rested and was hit."""
    TAKER = 2
    """The order crossed the spread."""


class RiskReason(IntEnum):
    """Typed reason of a RiskEvent; stable codes for dashboards and alerts."""

    MAX_ORDER_QUANTITY = 1
    """Order quantity above the per-order limit."""
    MAX_ORDER_NOTIONAL = 2
    """Order notional above the per-order limit."""
    MAX_POSITION = 3
    """The fill would take the position beyond its limit."""
    MAX_EXPOSURE = 4
    """Gross or net exposure beyond its limit."""
    MAX_LEVERAGE = 5
    """Leverage beyond its limit."""
    ORDER_RATE = 6
    """Too many orders in the rate window."""
    PRICE_BAND = 7
    """Limit price too far from the last price."""
    INSTRUMENT_NOT_PERMITTED = 8
    """The strategy may not trade this instrument."""
    VENUE_NOT_PERMITTED = 9
    """The strategy may not trade on this venue."""
    TICK_SIZE = 10
    """Price not a multiple of the tick size."""
    LOT_SIZE = 11
    """Quantity not a multiple of the lot size."""
    MIN_NOTIONAL = 12
    """Order value below the venue minimum."""
    MAX_DRAWDOWN = 13
    """Drawdown beyond its limit."""
    DAILY_LOSS = 14
    """Daily loss beyond its limit."""
    KILL_SWITCH = 15
    """The kill switch is engaged."""
    STRATEGY_HALTED = 16
    """The strategy is halted."""
    CIRCUIT_BREAKER = 17
    """A circuit breaker tripped."""
    NO_REFERENCE_PRICE = 18
    """No last price to check the order against."""
    UNKNOWN_INSTRUMENT = 19
    """The instrument id is not in the instrument master."""
    INSUFFICIENT_MARGIN = 20
    """Not enough margin for the order."""
    STALE_MARKET_DATA = 21
    """Market data older than allowed."""
    TRADING_REDUCING = 22
    """The strategy (or everything) is REDUCING and the order does not reduce a position."""
    MIN_QUANTITY = 23
    """Quantity below the venue minimum."""
    MAX_QUANTITY = 24
    """Quantity above the venue maximum."""
    REDUCE_ONLY_INCREASES = 25
    """A reduce-only order that would open or increase a position."""


class RiskAction(IntEnum):
    """What risk did about it."""

    DENY_ORDER = 1
    """The order was not sent."""
    WARN = 2
    """Logged only."""
    HALT_STRATEGY = 3
    """The strategy may send no new orders."""
    HALT_ALL = 4
    """Kill switch: no new orders anywhere."""
    CANCEL_OPEN_ORDERS = 5
    """Open orders are being cancelled."""
    FLATTEN = 6
    """Positions are being closed."""
    RESUME = 7
    """A halt was lifted."""
    REDUCE_ONLY = 8
    """Only position-reducing orders are allowed."""


class Severity(IntEnum):
    """Severity of a risk or health event."""

    INFO = 1
    """Informational."""
    WARNING = 2
    """Needs attention."""
    ERROR = 3
    """Something failed."""
    CRITICAL = 4
    """Trading is affected."""


class ComponentState(IntEnum):
    """Lifecycle state of a process/component."""

    STARTING = 1
    """Starting up or recovering."""
    RUNNING = 2
    """Healthy."""
    DEGRADED = 3
    """Running with a problem (lagging, reconnecting)."""
    STOPPING = 4
    """Shutting down cleanly."""
    STOPPED = 5
    """Stopped cleanly."""
    FAILED = 6
    """Crashed or gave up."""
    RESTARTING = 7
    """Being restarted by the supervisor."""


class ControlCommandKind(IntEnum):
    """Operator / supervisor command."""

    HALT_TRADING = 1
    """Block new orders (global or for ``strategy_id``)."""
    RESUME_TRADING = 2
    """Lift a halt."""
    KILL_SWITCH = 3
    """Block new orders and cancel all open orders."""
    CANCEL_ALL = 4
    """Cancel open orders (global, per strategy or per instrument)."""
    FLATTEN = 5
    """Close positions (global, per strategy or per instrument)."""
    SHUTDOWN = 6
    """Stop the target component cleanly."""
    RELOAD_CONFIG = 7
    """Re-read configuration."""
    START_STRATEGY = 8
    """Start ``strategy_id``."""
    STOP_STRATEGY = 9
    """Stop ``strategy_id``."""
    SET_LIMIT = 10
    """Set the risk limit named by ``limit`` (a RiskReason code) to ``value``."""


class DepthUpdateKind(IntEnum):
    """Whether depth levels replace the book or patch it."""

    SNAPSHOT = 1
    """The levels are the whole (top of the) book."""
    DIFF = 2
    """Changed levels only; size 0 deletes the level."""


class DepthFlag(IntFlag):
    """Header ``flags`` bits of DepthEvent."""

    LAST = 1
    """Last record of one venue update (an update with more levels spans several records)."""


class BarFlag(IntFlag):
    """Header ``flags`` bits of BarEvent.

    Value 8 was ``GAP`` in BarEvent layout v1; no writer ever set it and it is not reused.
    """

    REVISED = 1
    """A revision of a bar already published (a late tick within the allowed lateness)."""
    INCOMPLETE = 2
    """Trades may be missing: a venue sequence gap overlapped the interval (a resync was asked)."""
    EMPTY = 4
    """No trades in the interval; OHLC repeat the previous close, volume and count are 0."""
    FLUSHED = 16
    """Published by a wall-clock flush while the feed was quiet, before the event-time watermark
    passed the bar's end."""


class BarSource(IntEnum):
    """What a bar was built from."""

    VENUE = 1
    """Published by the venue (e.g. a kline)."""
    TRADES = 2
    """Aggregated locally from trades."""
    QUOTE_MID = 3
    """Aggregated locally from mid quotes ((bid + ask) // 2, rounded down to the price grid)."""
    QUOTE_BID = 4
    """Aggregated locally from best bid prices."""
    QUOTE_ASK = 5
    """Aggregated locally from best ask prices."""


class BarAggregation(IntEnum):
    """How a bar's interval is delimited (BarEvent ``aggregation``)."""

    TIME = 1
    """A fixed duration on the venue's session grid; ``timeframe_ns`` is the duration in ns."""
    TICK = 2
    """Every N trades (or quote updates); ``timeframe_ns`` holds N."""
    VOLUME = 3
    """Until the traded quantity reaches N; ``timeframe_ns`` holds N (qty, fixed point)."""
