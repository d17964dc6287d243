"""The Binance execution gateway: our orders onto spot or USD-M, venue answers back into records.

One gateway serves one market (``spot`` or ``futures``) through a
:class:`~qk.venues.binance.rest.BinanceRestClient`. It keeps the :class:`~qk.orders.Order` of every
order it sent and moves it only through the transition table; every event it applies produces
an OrderUpdate record and every fill a FillEvent record (``qk.orders.records``), with the venue's
time as ``ts_event`` and ours as ``ts_recv``.

- **Mapping** (VENUES.md §3.3, §4): MARKET, LIMIT (post-only → spot ``LIMIT_MAKER``, USD-M
  ``timeInForce=GTX``), stop and take-profit (spot ``STOP_LOSS(_LIMIT)``/``TAKE_PROFIT(_LIMIT)``;
  USD-M through ``/fapi/v1/algoOrder`` as ``STOP_MARKET``/``STOP``/``TAKE_PROFIT_MARKET``/
  ``TAKE_PROFIT``); GTC/IOC/FOK; reduce-only and hedge-mode position sides on USD-M.
  ``newClientOrderId`` (``clientAlgoId``) is our deterministic client order id string.
- **Before sending**: the symbol's filters (``instruments.check_order``); a breach is DENIED with
  the filter named, and nothing leaves.
- **Unknown outcomes**: a 5XX, a timeout or a dropped connection on submit moves the order to
  UNKNOWN. It is settled only by querying ``origClientOrderId``: found → whatever the venue says
  (with its fills); -2013 "Order does not exist." → still unknown until ``unknown_grace_s`` after
  the submit (the order may be in flight inside the venue), then REJECTED with reason
  UNKNOWN_ORDER ("never arrived", the table's UNKNOWN → REJECTED row). The order is never sent
  again.
- **User data** (:mod:`qk.venues.binance.userdata`): :meth:`BinanceGateway.on_user_update`
  applies execution reports; fills are de-duplicated by trade id (``Order.apply_fill``), and a
  status event that the order has already passed (a duplicate, or one overtaken by a later
  event) is skipped, so duplicated and reordered streams give the same records.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from qk.instruments import Instrument
from qk.orders import Fill, Order, OrderError, OrderEventKind, OrderStatus, transition_of
from qk.orders.records import fill_record, update_record
from qk.orders.transitions import TERMINAL_STATUSES
from qk.orders.venue_status import (
    BINANCE_FUTURES_EXECUTION_TYPES,
    BINANCE_FUTURES_ORDER_STATUSES,
    BINANCE_SPOT_EXECUTION_TYPES,
    BINANCE_SPOT_ORDER_STATUSES,
    UnknownVenueStatus,
    VenueStatus,
    lookup,
)
from qk.schemas.enums import LiquiditySide, OrderType, RejectReason, Side, TimeInForce
from qk.schemas.fixed import MONEY_PRECISION, from_raw, to_raw
from qk.venues.binance.instruments import (
    FilterViolation,
    SymbolFilters,
    SymbolRegistry,
    check_order,
)
from qk.venues.binance.ratelimit import limits_from_exchange_info
from qk.venues.binance.rest import (
    BinanceBanned,
    BinanceConnectError,
    BinanceError,
    BinanceOutcomeUnknown,
    BinanceRateLimited,
    BinanceRejected,
    BinanceRestClient,
)
from qk.venues.binance.userdata import AlgoUpdate, UserUpdate

__all__ = [
    "BINANCE_ALGO_STATUSES",
    "BinanceGateway",
    "Outcome",
    "UnsupportedOrder",
    "reject_reason_of",
]

_log = logging.getLogger(__name__)
E = OrderEventKind
Records = list[npt.NDArray[np.void]]
_NS_PER_MS: Final = 1_000_000
_NOT_FOUND: Final = -2013
_NO_MARGIN_CHANGE: Final = -4046
_NO_POSITION_MODE_CHANGE: Final = -4059

BINANCE_ALGO_STATUSES: Final[Mapping[str, VenueStatus]] = {
    "NEW": VenueStatus("NEW", E.ACCEPTED),
    "TRIGGERED": VenueStatus("TRIGGERED", E.TRIGGERED, note="released a regular order (ai)"),
    "FINISHED": VenueStatus(
        "FINISHED", None, note="the released order's own status decides (ORDER_TRADE_UPDATE)"
    ),
    "CANCELED": VenueStatus("CANCELED", E.CANCELED, True),
    "EXPIRED": VenueStatus("EXPIRED", E.EXPIRED, True),
    "REJECTED": VenueStatus("REJECTED", E.REJECTED, True),
}
"""USD-M algo order ``algoStatus`` / ALGO_UPDATE ``X`` (not in qk.orders.venue_status yet)."""

_SPOT_TYPES: Final = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
    OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT",
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT",
}
_SPOT_NEEDS_TIF: Final = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_FUTURES_ALGO_TYPES: Final = {
    OrderType.STOP_MARKET: "STOP_MARKET",
    OrderType.STOP_LIMIT: "STOP",
    OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    OrderType.TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
}
_TIF: Final = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_FILTER_REASONS: Final = {
    "PRICE_FILTER": RejectReason.INVALID_PRICE,
    "LOT_SIZE": RejectReason.INVALID_QUANTITY,
    "MARKET_LOT_SIZE": RejectReason.INVALID_QUANTITY,
    "MIN_NOTIONAL": RejectReason.MIN_NOTIONAL,
    "NOTIONAL": RejectReason.MIN_NOTIONAL,
}
_CODE_REASONS: Final = {
    -1003: RejectReason.RATE_LIMITED,
    -1015: RejectReason.RATE_LIMITED,
    -2013: RejectReason.UNKNOWN_ORDER,
    -2011: RejectReason.UNKNOWN_ORDER,
    -2019: RejectReason.INSUFFICIENT_FUNDS,
    -2022: RejectReason.REDUCE_ONLY_WOULD_INCREASE,
    -4003: RejectReason.INVALID_QUANTITY,
    -4004: RejectReason.INVALID_QUANTITY,
    -4005: RejectReason.INVALID_QUANTITY,
    -4023: RejectReason.INVALID_QUANTITY,
    -4013: RejectReason.INVALID_PRICE,
    -4014: RejectReason.INVALID_PRICE,
    -4016: RejectReason.INVALID_PRICE,
    -4164: RejectReason.MIN_NOTIONAL,
    -4116: RejectReason.DUPLICATE_CLIENT_ORDER_ID,
    -5022: RejectReason.POST_ONLY_WOULD_TAKE,
}


def reject_reason_of(code: int, msg: str) -> RejectReason:
    """Our typed reason for a Binance error code and message."""
    if code == -1013:
        name = msg.rpartition(":")[2].strip()
        return _FILTER_REASONS.get(name, RejectReason.VENUE)
    if code == -1111:
        return (
            RejectReason.INVALID_PRICE if "price" in msg.lower() else RejectReason.INVALID_QUANTITY
        )
    if code == -2010:
        text = msg.lower()
        if "duplicate" in text:
            return RejectReason.DUPLICATE_CLIENT_ORDER_ID
        if "insufficient balance" in text:
            return RejectReason.INSUFFICIENT_FUNDS
        if "immediately match" in text:
            return RejectReason.POST_ONLY_WOULD_TAKE
        if "market is closed" in text:
            return RejectReason.MARKET_CLOSED
    return _CODE_REASONS.get(code, RejectReason.VENUE)


class UnsupportedOrder(ValueError):
    """An order Binance cannot express for this symbol (a time in force, a type, a flag).

    Attributes:
        reason: The typed reason the DENIED event carries.
    """

    def __init__(self, message: str, reason: RejectReason = RejectReason.VENUE) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Outcome:
    """What a gateway call did.

    Attributes:
        records: OrderUpdate / FillEvent records it produced, in order.
        error: The refusal or failure behind a DENIED/REJECTED/UNKNOWN outcome, if any.
    """

    records: Records = field(default_factory=list)
    error: Exception | None = None


@dataclass
class _Tracked:
    order: Order
    instrument: Instrument
    algo: bool
    submitted_ns: int = 0
    child_order_id: int = 0


class BinanceGateway:
    """Place, cancel, query and cancel-replace orders on one Binance market.

    Args:
        rest: An open REST client.
        registry: The market's symbol filters and instruments (``registry.market`` picks the API).
        now_ns: Local wall clock (``ts_recv`` of records; tests pass their own).
        sleep: Awaitable sleep for the unknown-order polling.
        unknown_grace_s: How long after a submit a -2013 answer still means "maybe in flight".
        poll_interval_s: Time between queries of an unknown order inside the grace.
        auto_resolve: Resolve an unknown submit before :meth:`place` returns.
        hedge_mode: USD-M dual-side position mode (positionSide LONG/SHORT instead of BOTH and
            reduceOnly); match the account's setting (:meth:`set_position_mode`).
        sink: Receives every record as it is made (the gateway process writes them to its ring).
        source: The ``source`` header field of the records.
    """

    def __init__(
        self,
        rest: BinanceRestClient,
        registry: SymbolRegistry,
        *,
        now_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Any] = asyncio.sleep,
        unknown_grace_s: float = 5.0,
        poll_interval_s: float = 0.25,
        auto_resolve: bool = True,
        hedge_mode: bool = False,
        sink: Callable[[npt.NDArray[np.void]], object] | None = None,
        source: int = 0,
    ) -> None:
        self.rest = rest
        self.registry = registry
        self.market: Literal["spot", "futures"] = registry.market
        self._now_ns = now_ns
        self._sleep = sleep
        self.unknown_grace_s = unknown_grace_s
        self.poll_interval_s = poll_interval_s
        self.auto_resolve = auto_resolve
        self.hedge_mode = hedge_mode
        self._sink = sink
        self.source = source
        self._orders: dict[str, _Tracked] = {}
        self._by_venue_id: dict[int, _Tracked] = {}
        self._open: dict[str, set[str]] = {}  # symbol -> client ids not yet terminal
        self.last_prices: dict[str, Decimal] = {}
        """Last trade price per symbol: the reference of the MARKET notional check."""
        self.errors: list[str] = []
        """Venue reports that could not be applied (logged; for alerts and tests)."""
        spot = self.market == "spot"
        self._status_table = BINANCE_SPOT_ORDER_STATUSES if spot else BINANCE_FUTURES_ORDER_STATUSES
        self._exec_table = BINANCE_SPOT_EXECUTION_TYPES if spot else BINANCE_FUTURES_EXECUTION_TYPES
        self._order_path = "/api/v3/order" if spot else "/fapi/v1/order"
        self._trades_path = "/api/v3/myTrades" if spot else "/fapi/v1/userTrades"

    # ------------------------------------------------------------------------- lookups
    def order(self, client_order_id: str) -> Order:
        """A tracked order by its client order id string.

        Raises:
            KeyError: Not an order of this gateway.
        """
        return self._orders[client_order_id].order

    def orders(self) -> list[Order]:
        """Every tracked order, in submission order."""
        return [t.order for t in self._orders.values()]

    def on_trade(self, symbol: str, price: Decimal) -> None:
        """Note a market trade price (the reference for MARKET order notional checks)."""
        self.last_prices[symbol] = price

    # ------------------------------------------------------------------------- records
    def _register(self, tr: _Tracked) -> None:
        key = tr.order.client_order_id.to_text()
        self._orders[key] = tr
        self._open.setdefault(tr.instrument.symbol, set()).add(key)

    def _settle(self, tr: _Tracked) -> None:
        if tr.order.is_terminal:
            self._open.get(tr.instrument.symbol, set()).discard(tr.order.client_order_id.to_text())

    def forget_finished(self) -> int:
        """Stop tracking orders in a terminal status (late fills for them are then ignored);
        returns how many. The runtime calls it once their records are safely in the WAL."""
        done = [key for key, tr in self._orders.items() if tr.order.is_terminal]
        for key in done:
            tr = self._orders.pop(key)
            for venue_id in [v for v, t in self._by_venue_id.items() if t.order is tr.order]:
                del self._by_venue_id[venue_id]
        return len(done)

    def _emit(self, out: Records, record: npt.NDArray[np.void]) -> None:
        out.append(record)
        if self._sink is not None:
            self._sink(record)

    def _apply(
        self,
        tr: _Tracked,
        kind: OrderEventKind,
        ts_ms: int,
        out: Records,
        *,
        reconciliation: bool = False,
        venue_order_id: str | None = None,
        reason: RejectReason = RejectReason.NONE,
        code: int = 0,
        repeat: bool = False,
    ) -> bool:
        order = tr.order
        target = transition_of(order.status, kind)
        if target is None or (target is order.status and not repeat):
            # No row: an event the order has moved past (late or reordered). A self-loop: the
            # same news again (REST answer and stream, a duplicated event). Neither is new.
            return False
        order.apply(
            kind,
            ts_event=max(ts_ms, 0) * _NS_PER_MS,
            ts_init=self._now_ns(),
            venue_order_id=venue_order_id,
            reject_reason=reason,
            venue_error_code=code,
            reconciliation=reconciliation,
        )
        self._emit(out, update_record(order, source=self.source))
        self._settle(tr)
        return True

    def _accept(
        self, tr: _Tracked, venue_id: int | str, ts_ms: int, out: Records, rec: bool
    ) -> None:
        if venue_id and not tr.algo:
            self._by_venue_id[int(venue_id)] = tr
        if tr.order.status in (OrderStatus.SUBMITTED, OrderStatus.UNKNOWN):
            self._apply(
                tr, E.ACCEPTED, ts_ms, out, reconciliation=rec, venue_order_id=str(venue_id)
            )

    def _fill(self, tr: _Tracked, fill: Fill | None, out: Records, rec: bool) -> None:
        order = tr.order
        if fill is None:
            return
        try:
            event = order.apply_fill(fill, reconciliation=rec)
        except OrderError as exc:
            self._error(f"{order.client_order_id}: fill {fill.trade_id} refused: {exc}")
            return
        if event is not None:
            self._emit(out, fill_record(order, fill, source=self.source))
            self._emit(out, update_record(order, source=self.source))
            self._settle(tr)

    def _error(self, text: str) -> None:
        _log.warning("binance gateway: %s", text)
        self.errors.append(text)

    def _raw_price(self, tr: _Tracked, value: Any) -> int:
        return to_raw(Decimal(str(value)), tr.instrument.price_precision)

    def _raw_qty(self, tr: _Tracked, value: Any) -> int:
        return to_raw(Decimal(str(value)), tr.instrument.size_precision)

    def _make_fill(
        self,
        tr: _Tracked,
        trade_id: Any,
        price: Any,
        qty: Any,
        commission: Any,
        asset: Any,
        maker: bool | None,
        ts_ms: int,
    ) -> Fill | None:
        """A Fill from the venue's fields; None (logged in :attr:`errors`) when they do not
        make one, e.g. a price finer than the instrument's precision."""
        liquidity = (
            LiquiditySide.NONE
            if maker is None
            else (LiquiditySide.MAKER if maker else LiquiditySide.TAKER)
        )
        try:
            return Fill(
                trade_id=int(trade_id),
                price=self._raw_price(tr, price),
                quantity=self._raw_qty(tr, qty),
                fee=to_raw(Decimal(str(commission or "0")), MONEY_PRECISION),
                fee_currency=str(asset or ""),
                liquidity=liquidity,
                ts_event=ts_ms * _NS_PER_MS,
                ts_init=self._now_ns(),
            )
        except (ValueError, TypeError, ArithmeticError) as exc:
            self._error(
                f"{tr.order.client_order_id}: trade {trade_id!r} (price {price!r}, qty {qty!r}) "
                f"cannot be booked: {exc}"
            )
            return None

    # ------------------------------------------------------------------------- mapping
    def _params(
        self, order: Order, inst: Instrument, f: SymbolFilters
    ) -> tuple[dict[str, Any], str, bool]:
        """Binance parameters for a new order, its Binance type, and whether it is an algo order."""
        if f.status != "TRADING":
            raise UnsupportedOrder(
                f"{f.symbol} is {f.status}, not TRADING", RejectReason.MARKET_CLOSED
            )
        tif = _TIF.get(order.time_in_force)
        if tif is None:
            raise UnsupportedOrder(
                f"time in force {order.time_in_force.name} has no Binance equivalent (GTC/IOC/FOK)"
            )
        side = "BUY" if order.side is Side.BUY else "SELL"
        qty = from_raw(order.quantity, inst.size_precision)
        price = from_raw(order.price, inst.price_precision) if order.price else None
        trigger = (
            from_raw(order.trigger_price, inst.price_precision) if order.trigger_price else None
        )
        client_id = order.client_order_id.to_text()
        params: dict[str, Any] = {"symbol": f.symbol, "side": side}
        if self.market == "spot":
            if order.reduce_only:
                raise UnsupportedOrder("spot orders cannot be reduce-only")
            venue_type = _SPOT_TYPES[order.order_type]
            if order.post_only:
                if order.order_type is not OrderType.LIMIT or tif != "GTC":
                    raise UnsupportedOrder("post-only needs a GTC LIMIT order (LIMIT_MAKER)")
                venue_type = "LIMIT_MAKER"
            if venue_type not in f.order_types:
                raise UnsupportedOrder(f"{f.symbol} does not accept {venue_type} orders")
            if venue_type not in _SPOT_NEEDS_TIF and tif == "FOK":
                raise UnsupportedOrder(
                    f"{venue_type} orders take no time in force; FOK cannot apply"
                )
            params["type"] = venue_type
            if venue_type in _SPOT_NEEDS_TIF:
                params["timeInForce"] = tif
            params["quantity"] = qty
            if price is not None:
                params["price"] = price
            if trigger is not None:
                params["stopPrice"] = trigger
            params["newClientOrderId"] = client_id
            params["newOrderRespType"] = "FULL"
            return params, venue_type, False
        algo = order.order_type in _FUTURES_ALGO_TYPES
        if algo:
            venue_type = _FUTURES_ALGO_TYPES[order.order_type]
            params = {"algoType": "CONDITIONAL", **params}
        else:
            venue_type = "MARKET" if order.order_type is OrderType.MARKET else "LIMIT"
        if venue_type not in f.order_types:
            raise UnsupportedOrder(f"{f.symbol} does not accept {venue_type} orders")
        params["type"] = venue_type
        if order.post_only:
            if venue_type not in ("LIMIT", "STOP", "TAKE_PROFIT") or tif != "GTC":
                raise UnsupportedOrder("post-only needs a GTC limit order (timeInForce GTX)")
            tif = "GTX"
        if price is not None:
            if tif not in f.time_in_force:
                raise UnsupportedOrder(f"{f.symbol} does not accept timeInForce {tif}")
            params["timeInForce"] = tif
        elif tif == "FOK":
            raise UnsupportedOrder(f"{venue_type} orders take no time in force; FOK cannot apply")
        params["quantity"] = qty
        if price is not None:
            params["price"] = price
        if algo:
            params["triggerPrice"] = trigger
            params["clientAlgoId"] = client_id
        else:
            params["newClientOrderId"] = client_id
            params["newOrderRespType"] = "RESULT"
        if self.hedge_mode:
            long = (order.side is Side.BUY) != order.reduce_only
            params["positionSide"] = "LONG" if long else "SHORT"
        elif order.reduce_only:
            params["reduceOnly"] = True
        return params, venue_type, algo

    def _precheck(
        self, order: Order, replacing: Order | None = None
    ) -> tuple[_Tracked, dict[str, Any]]:
        inst = self.registry.instrument(order.instrument_id)
        f = self.registry.filters(inst.symbol)
        params, venue_type, algo = self._params(order, inst, f)
        # The order a cancel-replace cancels first no longer counts when the new one arrives.
        open_keys = self._open.get(inst.symbol, set())
        open_orders = len(open_keys) - (
            replacing is not None and replacing.client_order_id.to_text() in open_keys
        )
        check_order(
            f,
            venue_type,
            params["quantity"],
            price=params.get("price"),
            stop_price=params.get("stopPrice", params.get("triggerPrice")),
            last_price=self.last_prices.get(inst.symbol),
            reduce_only=order.reduce_only,
            open_orders=open_orders,
        )
        return _Tracked(order, inst, algo), params

    def _deny(self, order: Order, exc: Exception, out: Records) -> None:
        if isinstance(exc, FilterViolation):
            if exc.filter == "PRECISION":
                reason = (
                    RejectReason.INVALID_QUANTITY
                    if exc.field == "quantity"
                    else RejectReason.INVALID_PRICE
                )
            else:
                reason = _FILTER_REASONS.get(exc.filter, RejectReason.VENUE)
            code = exc.venue_code
        elif isinstance(exc, UnsupportedOrder):
            reason, code = exc.reason, 0
        else:
            reason, code = RejectReason.INTERNAL, 0
        now = self._now_ns()
        order.apply(
            E.DENIED, ts_event=now, ts_init=now, reject_reason=reason, venue_error_code=code
        )
        self._emit(out, update_record(order, source=self.source))

    # ------------------------------------------------------------------------- place
    async def place(self, order: Order) -> Outcome:
        """Send a new order (status INITIALIZED).

        Returns:
            The records made: DENIED (filters, unsupported fields); SUBMITTED then ACCEPTED /
            fills / EXPIRED... from the answer; REJECTED with the venue's code; or UNKNOWN and
            then, with ``auto_resolve``, whatever the query found.
        """
        out = Outcome()
        if order.status is not OrderStatus.INITIALIZED:
            raise ValueError(f"{order!r}: only an INITIALIZED order can be placed")
        key = order.client_order_id.to_text()
        if key in self._orders:
            raise ValueError(f"client order id {key} was already sent by this gateway")
        try:
            tr, params = self._precheck(order)
        except (FilterViolation, UnsupportedOrder, KeyError) as exc:
            self._deny(order, exc, out.records)
            out.error = exc
            return out
        self._register(tr)
        tr.submitted_ns = self._now_ns()
        self._apply(tr, E.SUBMITTED, tr.submitted_ns // _NS_PER_MS, out.records)
        path = "/fapi/v1/algoOrder" if tr.algo else self._order_path
        try:
            body = await self.rest.request(
                self.market, "POST", path, params, security="SIGNED", weight=self._weight("new"),
                is_order=True,
            )  # fmt: skip
        except BinanceOutcomeUnknown as exc:
            out.error = exc
            self._apply(tr, E.STATUS_UNKNOWN, tr.submitted_ns // _NS_PER_MS, out.records)
            if self.auto_resolve:
                resolved = await self.resolve_unknown(order)
                out.records += resolved.records
            return out
        except BinanceRejected as exc:
            out.error = exc
            self._apply(
                tr, E.REJECTED, self._server_ms(), out.records,
                reason=reject_reason_of(exc.code, exc.msg), code=exc.code,
            )  # fmt: skip
            return out
        except (BinanceRateLimited, BinanceBanned, BinanceConnectError) as exc:
            # Nothing reached the matching engine: a 429/418 is refused before it, a connect
            # error never sent the request.
            out.error = exc
            reason = (
                RejectReason.CONNECTION_LOST
                if isinstance(exc, BinanceConnectError)
                else RejectReason.RATE_LIMITED
            )
            self._apply(
                tr, E.REJECTED, self._server_ms(), out.records, reason=reason, code=exc.code
            )
            return out
        await self._apply_view(tr, body, out.records, reconciliation=False)
        return out

    def _weight(self, what: str) -> int:
        spot = {"new": 1, "query": 4, "cancel": 1, "trades": 20}
        futures = {"new": 0, "query": 1, "cancel": 1, "trades": 5}
        return (spot if self.market == "spot" else futures)[what]

    def _server_ms(self) -> int:
        return self.rest.clocks[self.market].server_now_ms()

    # ------------------------------------------------------------------------- venue views
    async def _apply_view(
        self, tr: _Tracked, view: Mapping[str, Any], out: Records, *, reconciliation: bool
    ) -> None:
        """Apply an order as the venue reports it (new-order, query or cancel answer)."""
        if tr.algo and "algoStatus" in view:
            await self._apply_algo_view(tr, view, out, reconciliation)
            return
        try:
            row = lookup(self._status_table, str(view["status"]))
            venue_id = int(view["orderId"])
            executed = self._raw_qty(tr, view.get("executedQty", "0"))
        except (KeyError, ValueError, UnknownVenueStatus) as exc:
            self._error(f"{tr.order.client_order_id}: unreadable order answer {view!r}: {exc}")
            return
        ts_ms = int(view.get("updateTime") or view.get("transactTime") or self._server_ms())
        if row.event is E.REJECTED:
            self._apply(tr, E.REJECTED, ts_ms, out, reconciliation=reconciliation,
                        reason=RejectReason.VENUE)  # fmt: skip
            return
        if row.event is None:
            return
        self._accept(tr, venue_id, ts_ms, out, reconciliation)
        if executed > tr.order.filled_quantity:
            for fill in view.get("fills") or ():
                self._fill(
                    tr,
                    self._make_fill(
                        tr, fill.get("tradeId"), fill.get("price"), fill.get("qty"), fill.get("commission"),
                        fill.get("commissionAsset"), False, ts_ms,
                    ),
                    out,
                    reconciliation,
                )  # fmt: skip
        if executed > tr.order.filled_quantity:
            await self._fetch_fills(tr, venue_id, out, reconciliation)
        if row.event in (E.CANCELED, E.EXPIRED):
            self._apply(tr, row.event, ts_ms, out, reconciliation=reconciliation)

    async def _fetch_fills(self, tr: _Tracked, venue_id: int, out: Records, rec: bool) -> None:
        params: dict[str, Any] = {"symbol": tr.instrument.symbol, "orderId": venue_id}
        try:
            trades = await self.rest.request(
                self.market, "GET", self._trades_path, params, security="SIGNED",
                weight=self._weight("trades"),
            )  # fmt: skip
        except BinanceError as exc:
            self._error(f"{tr.order.client_order_id}: fills not fetched: {exc}")
            return
        if not isinstance(trades, list):
            self._error(f"{tr.order.client_order_id}: trades answer is not a list: {trades!r}")
            return
        for trade in trades:
            if not isinstance(trade, dict) or trade.get("orderId") != venue_id:
                continue
            maker = trade.get("isMaker", trade.get("maker"))
            self._fill(
                tr,
                self._make_fill(
                    tr, trade.get("id"), trade.get("price"), trade.get("qty"), trade.get("commission"),
                    trade.get("commissionAsset"), bool(maker) if maker is not None else None,
                    int(trade.get("time") or 0),
                ),
                out,
                rec,
            )  # fmt: skip

    async def _apply_algo_view(
        self, tr: _Tracked, view: Mapping[str, Any], out: Records, rec: bool
    ) -> None:
        status = str(view.get("algoStatus"))
        row = BINANCE_ALGO_STATUSES.get(status)
        if row is None:
            self._error(f"{tr.order.client_order_id}: unknown algoStatus {status!r}")
            return
        ts_ms = int(view.get("updateTime") or view.get("createTime") or self._server_ms())
        algo_id = str(view.get("algoId", ""))
        if row.event is E.REJECTED:
            self._apply(tr, E.REJECTED, ts_ms, out, reconciliation=rec, reason=RejectReason.VENUE)
            return
        self._accept(tr, algo_id, ts_ms, out, rec)
        if status in ("TRIGGERED", "FINISHED"):
            self._apply(tr, E.TRIGGERED, ts_ms, out, reconciliation=rec)
            if tr.child_order_id:
                await self._query_child(tr, out, rec)
        elif row.event is not None and row.event is not E.ACCEPTED:
            self._apply(tr, row.event, ts_ms, out, reconciliation=rec)

    async def _query_child(self, tr: _Tracked, out: Records, rec: bool) -> None:
        params: dict[str, Any] = {"symbol": tr.instrument.symbol, "orderId": tr.child_order_id}
        try:
            view = await self.rest.request(
                self.market, "GET", self._order_path, params, security="SIGNED",
                weight=self._weight("query"),
            )  # fmt: skip
        except BinanceError as exc:
            self._error(f"{tr.order.client_order_id}: triggered order not queried: {exc}")
            return
        regular = _Tracked(tr.order, tr.instrument, algo=False)
        await self._apply_view(regular, view, out, reconciliation=rec)

    # ------------------------------------------------------------------------- unknown
    async def resolve_unknown(self, order: Order) -> Outcome:
        """Settle an UNKNOWN order by querying its client order id (never by resending).

        Found: the venue's status and fills are applied. -2013 within ``unknown_grace_s`` of the
        submit: queried again every ``poll_interval_s``; after it: REJECTED (UNKNOWN_ORDER,
        -2013), the order never arrived. A query that itself gets no answer records
        STATUS_UNKNOWN again and returns; call again later.
        """
        out = Outcome()
        tr = self._orders[order.client_order_id.to_text()]
        while tr.order.status is OrderStatus.UNKNOWN:
            try:
                view = await self._query_view(tr)
            except BinanceRejected as exc:
                if exc.code != _NOT_FOUND:
                    out.error = exc
                    self._error(f"{order.client_order_id}: query refused: {exc}")
                    return out
                waited_s = (self._now_ns() - tr.submitted_ns) / 1e9
                if waited_s >= self.unknown_grace_s:
                    self._apply(
                        tr, E.REJECTED, self._server_ms(), out.records, reconciliation=True,
                        reason=RejectReason.UNKNOWN_ORDER, code=_NOT_FOUND,
                    )  # fmt: skip
                    return out
                await self._sleep(self.poll_interval_s)
                continue
            except BinanceError as exc:
                out.error = exc
                self._apply(
                    tr, E.STATUS_UNKNOWN, self._server_ms(), out.records, reconciliation=True,
                    repeat=True,
                )  # fmt: skip
                return out
            await self._apply_view(tr, view, out.records, reconciliation=True)
        return out

    async def _query_view(self, tr: _Tracked) -> Any:
        key = tr.order.client_order_id.to_text()
        if tr.algo:
            return await self.rest.request(
                self.market, "GET", "/fapi/v1/algoOrder", {"clientAlgoId": key},
                security="SIGNED", weight=1,
            )  # fmt: skip
        params = {"symbol": tr.instrument.symbol, "origClientOrderId": key}
        return await self.rest.request(
            self.market, "GET", self._order_path, params, security="SIGNED",
            weight=self._weight("query"),
        )  # fmt: skip

    async def query(self, order: Order) -> Outcome:
        """Ask the venue for an order's state and apply it (reconciliation)."""
        tr = self._orders[order.client_order_id.to_text()]
        if tr.order.status is OrderStatus.UNKNOWN:
            return await self.resolve_unknown(order)
        out = Outcome()
        try:
            view = await self._query_view(tr)
        except BinanceError as exc:
            out.error = exc
            return out
        await self._apply_view(tr, view, out.records, reconciliation=True)
        return out

    async def reconcile(self) -> Outcome:
        """Query every order not known to be finished (after a user-data reconnect)."""
        out = Outcome()
        for tr in list(self._orders.values()):
            if tr.order.status not in TERMINAL_STATUSES:
                result = await self.query(tr.order)
                out.records += result.records
                out.error = out.error or result.error
        return out

    # ------------------------------------------------------------------------- cancel
    async def cancel(self, order: Order) -> Outcome:
        """Cancel a working order by its client order id.

        CANCEL_PENDING first; the answer applies CANCELED (after any fills it reports); a
        refusal applies CANCEL_REJECTED and then queries the order, which may have filled.
        No answer leaves it PENDING_CANCEL for :meth:`query` to settle.
        """
        out = Outcome()
        tr = self._orders[order.client_order_id.to_text()]
        if not self._apply(tr, E.CANCEL_PENDING, self._server_ms(), out.records):
            out.error = ValueError(f"{order!r} cannot be cancelled in status {order.status.name}")
            return out
        key = order.client_order_id.to_text()
        if tr.algo and not tr.child_order_id:
            path, params = "/fapi/v1/algoOrder", {"clientAlgoId": key}
        elif tr.algo:
            path = self._order_path
            params = {"symbol": tr.instrument.symbol, "orderId": str(tr.child_order_id)}
        else:
            path, params = (
                self._order_path,
                {"symbol": tr.instrument.symbol, "origClientOrderId": key},
            )
        try:
            body = await self.rest.request(
                self.market,
                "DELETE",
                path,
                params,
                security="SIGNED",
                weight=self._weight("cancel"),
            )
        except BinanceRejected as exc:
            out.error = exc
            self._apply(
                tr, E.CANCEL_REJECTED, self._server_ms(), out.records,
                reason=reject_reason_of(exc.code, exc.msg), code=exc.code,
            )  # fmt: skip
            out.records += (await self.query(order)).records
            return out
        except BinanceError as exc:
            out.error = exc
            return out
        if "status" in body or "algoStatus" in body:
            regular = _Tracked(tr.order, tr.instrument, algo=False) if tr.child_order_id else tr
            await self._apply_view(regular, body, out.records, reconciliation=False)
        else:
            self._apply(tr, E.CANCELED, self._server_ms(), out.records)
        return out

    async def cancel_replace(self, old: Order, new: Order) -> Outcome:
        """Replace ``old`` by ``new`` (a new client order id).

        Spot: one ``POST /api/v3/order/cancelReplace`` with STOP_ON_FAILURE, so the new order is
        placed only if the cancel succeeded. USD-M has no such endpoint: cancel, then place if
        the cancel took effect (otherwise the new order is DENIED and nothing is sent).
        """
        out = Outcome()
        if self.market == "futures":
            cancelled = await self.cancel(old)
            out.records += cancelled.records
            if old.status is not OrderStatus.CANCELED:
                out.error = cancelled.error or ValueError(f"{old!r} was not cancelled")
                self._deny(
                    new, UnsupportedOrder("the order to replace was not cancelled"), out.records
                )
                return out
            placed = await self.place(new)
            out.records += placed.records
            out.error = placed.error
            return out
        old_tr = self._orders[old.client_order_id.to_text()]
        try:
            new_tr, params = self._precheck(new, replacing=old)
        except (FilterViolation, UnsupportedOrder, KeyError) as exc:
            self._deny(new, exc, out.records)
            out.error = exc
            return out
        if not self._apply(old_tr, E.CANCEL_PENDING, self._server_ms(), out.records):
            out.error = ValueError(f"{old!r} cannot be cancelled in status {old.status.name}")
            self._deny(new, UnsupportedOrder("the order to replace is not working"), out.records)
            return out
        self._register(new_tr)
        new_tr.submitted_ns = self._now_ns()
        self._apply(new_tr, E.SUBMITTED, new_tr.submitted_ns // _NS_PER_MS, out.records)
        params = {
            **params,
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrigClientOrderId": old.client_order_id.to_text(),
        }
        try:
            data = await self.rest.request(
                "spot", "POST", "/api/v3/order/cancelReplace", params, security="SIGNED",
                weight=1, is_order=True,
            )  # fmt: skip
        except BinanceOutcomeUnknown as exc:
            out.error = exc
            self._apply(new_tr, E.STATUS_UNKNOWN, self._server_ms(), out.records)
            if self.auto_resolve:
                out.records += (await self.resolve_unknown(new)).records
            out.records += (await self.query(old)).records
            return out
        except BinanceRejected as exc:
            out.error = exc
            if not isinstance(exc.data, Mapping):
                self._apply(old_tr, E.CANCEL_REJECTED, self._server_ms(), out.records,
                            reason=reject_reason_of(exc.code, exc.msg), code=exc.code)  # fmt: skip
                self._apply(new_tr, E.REJECTED, self._server_ms(), out.records,
                            reason=reject_reason_of(exc.code, exc.msg), code=exc.code)  # fmt: skip
                return out
            data = exc.data
        except BinanceError as exc:
            out.error = exc
            self._apply(new_tr, E.REJECTED, self._server_ms(), out.records,
                        reason=RejectReason.RATE_LIMITED, code=exc.code)  # fmt: skip
            self._apply(old_tr, E.CANCEL_REJECTED, self._server_ms(), out.records)
            return out
        await self._apply_half(old_tr, data, "cancel", out.records)
        await self._apply_half(new_tr, data, "newOrder", out.records)
        if old.status is not OrderStatus.CANCELED:
            # The cancel failed: the old order may have filled or gone; ask what it is now.
            out.records += (await self.query(old)).records
        return out

    async def _apply_half(
        self, tr: _Tracked, data: Mapping[str, Any], half: str, out: Records
    ) -> None:
        result = data.get(f"{half}Result")
        response = data.get(f"{half}Response")
        if result == "SUCCESS" and isinstance(response, Mapping):
            await self._apply_view(tr, response, out, reconciliation=False)
            return
        code = int(response.get("code", 0)) if isinstance(response, Mapping) else -2022
        msg = str(response.get("msg", "")) if isinstance(response, Mapping) else str(result)
        kind = E.CANCEL_REJECTED if half == "cancel" else E.REJECTED
        self._apply(tr, kind, self._server_ms(), out, reason=reject_reason_of(code, msg), code=code)

    # ------------------------------------------------------------------------- user data
    def on_user_update(self, update: UserUpdate) -> Records:
        """Apply one user-data event; returns the records it made (none for an order that is
        not ours, a duplicate, or news the order has already passed)."""
        out: Records = []
        if isinstance(update, AlgoUpdate):
            self._on_algo(update, out)
            return out
        tr = self._orders.get(update.client_order_id) or self._by_venue_id.get(
            update.venue_order_id
        )
        if tr is None:
            return out
        try:
            row = lookup(self._exec_table, update.exec_type)
        except UnknownVenueStatus as exc:
            self._error(str(exc))
            return out
        ts_ms = update.transact_ms
        if row.derive_fills and update.trade_id > 0 and update.last_qty > 0:
            self._accept(tr, update.venue_order_id, ts_ms, out, False)
            fill = self._make_fill(
                tr, update.trade_id, update.last_price, update.last_qty, update.commission,
                update.commission_asset, update.maker, ts_ms,
            )  # fmt: skip
            self._fill(tr, fill, out, False)
            return out
        if row.event is E.REJECTED:
            self._apply(tr, E.REJECTED, ts_ms, out, reason=RejectReason.VENUE)
        elif row.event is E.ACCEPTED:
            self._accept(tr, update.venue_order_id, ts_ms, out, False)
        elif row.event in (E.CANCELED, E.EXPIRED):
            self._accept(tr, update.venue_order_id, ts_ms, out, False)
            self._apply(tr, row.event, ts_ms, out)
        return out

    def _on_algo(self, update: AlgoUpdate, out: Records) -> None:
        tr = self._orders.get(update.client_algo_id)
        if tr is None:
            return
        if update.actual_order_id:
            tr.child_order_id = update.actual_order_id
            self._by_venue_id[update.actual_order_id] = tr
        row = BINANCE_ALGO_STATUSES.get(update.status)
        if row is None:
            self._error(f"{update.client_algo_id}: unknown ALGO_UPDATE status {update.status!r}")
            return
        ts_ms = update.transact_ms
        if row.event is E.REJECTED:
            self._apply(tr, E.REJECTED, ts_ms, out, reason=RejectReason.VENUE)
            return
        if row.event is None:
            return
        self._accept(tr, update.algo_id, ts_ms, out, False)
        if row.event is not E.ACCEPTED:
            self._apply(tr, row.event, ts_ms, out)

    # ------------------------------------------------------------------------- futures settings
    async def set_leverage(self, symbol: str, leverage: int) -> int:
        """``POST /fapi/v1/leverage``; returns the leverage the venue set."""
        self._require_futures("leverage")
        body = await self.rest.request(
            "futures", "POST", "/fapi/v1/leverage", {"symbol": symbol, "leverage": leverage},
            security="SIGNED",
        )  # fmt: skip
        return int(body["leverage"])

    async def set_margin_type(
        self, symbol: str, margin_type: Literal["ISOLATED", "CROSSED"]
    ) -> bool:
        """``POST /fapi/v1/marginType``; False when it already was that (-4046)."""
        self._require_futures("margin type")
        try:
            await self.rest.request(
                "futures", "POST", "/fapi/v1/marginType",
                {"symbol": symbol, "marginType": margin_type}, security="SIGNED",
            )  # fmt: skip
        except BinanceRejected as exc:
            if exc.code == _NO_MARGIN_CHANGE:
                return False
            raise
        return True

    async def set_position_mode(self, dual_side: bool) -> bool:
        """``POST /fapi/v1/positionSide/dual``; False when it already was that (-4059).
        Sets :attr:`hedge_mode` to match."""
        self._require_futures("position mode")
        try:
            await self.rest.request(
                "futures", "POST", "/fapi/v1/positionSide/dual",
                {"dualSidePosition": dual_side}, security="SIGNED",
            )  # fmt: skip
        except BinanceRejected as exc:
            if exc.code != _NO_POSITION_MODE_CHANGE:
                raise
            self.hedge_mode = dual_side
            return False
        self.hedge_mode = dual_side
        return True

    def _require_futures(self, what: str) -> None:
        if self.market != "futures":
            raise ValueError(f"{what} is a USD-M futures setting; this gateway trades spot")

    async def refresh_if_stale(self, max_age_s: float = 86_400.0) -> bool:
        """Refresh the symbol rules when older than ``max_age_s`` (the runtime calls this
        daily and before trading); True when it fetched."""
        if not self.registry.is_stale(max_age_s):
            return False
        await self.refresh_instruments()
        return True

    async def refresh_instruments(self) -> Sequence[str]:
        """Fetch exchangeInfo, replace the symbol filters and the rate limits it states.

        Returns:
            The symbols loaded.
        """
        path = "/api/v3/exchangeInfo" if self.market == "spot" else "/fapi/v1/exchangeInfo"
        info = await self.rest.request(
            self.market, "GET", path, weight=20 if self.market == "spot" else 1
        )
        self.registry.load(info)
        try:
            reserve = self.rest.limits[self.market].limits.weight_reserve
            self.rest.set_limits(self.market, limits_from_exchange_info(info, reserve))
        except ValueError as exc:
            self._error(f"exchangeInfo rate limits not used: {exc}")
        return self.registry.symbols()
