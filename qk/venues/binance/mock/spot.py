"""Spot order entry, queries, balances and executionReport events (``/api/v3``).

Response and event shapes are those of the fixtures in ``tests/fixtures/venues/binance``:
new order ACK/RESULT/FULL (``rest_new_order_*.json``), query (``rest_query_order.json``), cancel
(``rest_cancel_order.json``), account (``rest_account.json``), myTrades (``rest_my_trades.json``),
``executionReport`` / ``outboundAccountPosition`` / ``balanceUpdate`` (``uds_*.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qk.venues.binance.mock import errors
from qk.venues.binance.mock.accounts import SpotAccount
from qk.venues.binance.mock.matching import CONDITIONAL_TYPES, Execution, MatchingEngine, Order
from qk.venues.binance.mock.params import optional_decimal, optional_int, required, required_decimal
from qk.venues.binance.mock.rules import SymbolRules
from qk.venues.binance.mock.userstream import UserStreamHub

ZERO = Decimal(0)
SPOT_TYPES = (
    "LIMIT",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
    "LIMIT_MAKER",
)
NEEDS_PRICE = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"})
NEEDS_TIF = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
MARKET_LIKE = frozenset({"MARKET", "STOP_LOSS", "TAKE_PROFIT"})
UNSUPPORTED_MSG = {
    "MARKET": "Market orders are not supported for this symbol.",
    "STOP_LOSS": "Stop loss orders are not supported for this symbol.",
    "STOP_LOSS_LIMIT": "Stop loss limit orders are not supported for this symbol.",
    "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
    "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
}


@dataclass
class _Book:
    """What the venue keeps beside the engine's order: locks, fills, the cancel's client id."""

    lock_asset: str
    lock_price: Decimal
    lock_remaining: Decimal
    fills: list[dict[str, Any]] = field(default_factory=list)
    cancel_client_id: str = ""


@dataclass(frozen=True)
class SpotTrade:
    """One of the account's fills, as myTrades reports it."""

    symbol: str
    trade_id: int
    order_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool


class SpotVenue:
    """The spot exchange: symbols, one matching engine, one account, user events."""

    def __init__(
        self,
        rules: Mapping[str, SymbolRules],
        balances: Mapping[str, Decimal],
        commission_rate: Decimal,
        hub: UserStreamHub,
        clock: Callable[[], int],
    ) -> None:
        self.rules = dict(rules)
        self.account = SpotAccount(balances)
        self.commission_rate = commission_rate
        self.hub = hub
        self.clock = clock
        self.engine = MatchingEngine("spot", self._on_execution)
        self.orders: dict[int, Order] = {}
        self._books: dict[int, _Book] = {}
        self.trades: list[SpotTrade] = []
        self._next_order_id = 1
        self._next_execution_id = 1
        self._cancel_counter = 0

    # -- helpers ----------------------------------------------------------------------------------

    def symbol_rules(self, params: Mapping[str, str]) -> SymbolRules:
        """The rules of the request's ``symbol``; -1102 when missing, -1121 when unknown."""
        symbol = required(params, "symbol")
        rules = self.rules.get(symbol)
        if rules is None:
            raise errors.bad_symbol()
        return rules

    def find_order(
        self, params: Mapping[str, str], symbol: str, missing: Callable[[], errors.BinanceApiError]
    ) -> Order:
        """The order named by ``orderId`` or ``origClientOrderId``."""
        order_id = optional_int(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise errors.either_param("origClientOrderId", "orderId")
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is None or order.symbol != symbol:
                raise missing()
            if client_id is not None and order.client_order_id != client_id:
                raise missing()
            return order
        matches = [
            o for o in self.orders.values() if o.symbol == symbol and o.client_order_id == client_id
        ]
        if not matches:
            raise missing()
        return matches[-1]

    def _client_id(self, order_id: int) -> str:
        return f"mockspot{order_id:014d}"

    # -- new order --------------------------------------------------------------------------------

    def new_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Place an order; returns the ACK, RESULT or FULL body."""
        rules = self.symbol_rules(params)
        side = required(params, "side")
        if side not in ("BUY", "SELL"):
            raise errors.invalid_side()
        order_type = required(params, "type")
        if order_type not in SPOT_TYPES:
            raise errors.invalid_order_type()
        if order_type not in rules.order_types:
            raise errors.new_order_rejected(
                UNSUPPORTED_MSG.get(order_type, "Unsupported order combination")
            )
        if rules.status != "TRADING":
            raise errors.new_order_rejected("Market is closed.")
        resp_type = params.get("newOrderRespType") or (
            "FULL" if order_type in ("MARKET", "LIMIT") else "ACK"
        )
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise errors.invalid_parameter("newOrderRespType")
        tif = ""
        if order_type in NEEDS_TIF:
            tif = required(params, "timeInForce")
            if tif not in rules.time_in_force:
                raise errors.invalid_tif()
        elif params.get("timeInForce"):
            raise errors.BinanceApiError(-1106, "Parameter 'timeInForce' sent when not required.")
        quantity = self._quantity(params, rules, order_type)
        price = required_decimal(params, "price") if order_type in NEEDS_PRICE else ZERO
        stop_price = (
            required_decimal(params, "stopPrice")
            if order_type in CONDITIONAL_TYPES["spot"]
            else ZERO
        )
        if order_type in NEEDS_PRICE:
            rules.check_price(price)
        if stop_price:
            rules.check_price(stop_price, "stopPrice")
        rules.check_quantity(quantity, order_type in MARKET_LIKE)
        last = self.engine.last_price(rules.symbol)
        reference = price if order_type in NEEDS_PRICE else (stop_price if stop_price else last)
        if reference is not None:
            rules.check_notional(reference * quantity, order_type in MARKET_LIKE)
        max_orders = rules.max_num_orders
        if max_orders is not None and len(self.engine.open_orders(rules.symbol)) >= max_orders:
            raise errors.filter_failure("MAX_NUM_ORDERS")
        client_id = params.get("newClientOrderId") or ""
        if client_id and any(
            o.client_order_id == client_id and o.is_open for o in self.orders.values()
        ):
            raise errors.new_order_rejected("Duplicate order sent.")
        order_id = self._next_order_id
        now = self.clock()
        order = Order(
            market="spot",
            symbol=rules.symbol,
            order_id=order_id,
            client_order_id=client_id or self._client_id(order_id),
            side=side,
            order_type=order_type,
            time_in_force=tif or "GTC",
            quantity=quantity,
            price=price,
            stop_price=stop_price,
            created_ms=now,
        )
        lock_price = reference if reference is not None else ZERO
        if side == "BUY":
            book = _Book(rules.quote_asset, lock_price, quantity * lock_price)
        else:
            book = _Book(rules.base_asset, Decimal(1), quantity)
        self.account.lock(book.lock_asset, book.lock_remaining)
        self._books[order_id] = book
        self.orders[order_id] = order
        try:
            self.engine.submit(order, now)
        except errors.BinanceApiError:
            del self.orders[order_id]
            del self._books[order_id]
            self.account.release(book.lock_asset, book.lock_remaining)
            raise
        self._next_order_id += 1
        return self.order_response(order, resp_type, now)

    def _quantity(self, params: Mapping[str, str], rules: SymbolRules, order_type: str) -> Decimal:
        quote_qty = optional_decimal(params, "quoteOrderQty")
        if order_type == "MARKET" and quote_qty is not None and not params.get("quantity"):
            last = self.engine.last_price(rules.symbol)
            if last is None:
                raise errors.new_order_rejected(
                    "Order book liquidity is less than symbol minimum quantity."
                )
            step = rules.filters.get("LOT_SIZE", {}).get("stepSize", "0")
            raw = quote_qty / last
            step_dec = Decimal(str(step))
            return (raw // step_dec) * step_dec if step_dec else raw
        if order_type == "MARKET" and not params.get("quantity"):
            raise errors.either_param("quantity", "quoteOrderQty")
        return required_decimal(params, "quantity")

    # -- responses --------------------------------------------------------------------------------

    def order_response(self, order: Order, resp_type: str, transact_ms: int) -> dict[str, Any]:
        """ACK, RESULT or FULL body of a new order."""
        rules = self.rules[order.symbol]
        out: dict[str, Any] = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "transactTime": transact_ms,
        }
        if resp_type == "ACK":
            return out
        out.update(
            {
                "price": rules.format_price(order.price),
                "origQty": rules.format_qty(order.quantity),
                "executedQty": rules.format_qty(order.executed_qty),
                "origQuoteOrderQty": rules.format_price(ZERO),
                "cummulativeQuoteQty": rules.format_price(order.cum_quote),
                "status": order.status,
                "timeInForce": order.time_in_force,
                "type": order.order_type,
                "side": order.side,
            }
        )
        if order.stop_price:
            out["stopPrice"] = rules.format_price(order.stop_price)
        out["workingTime"] = order.working_ms
        out["selfTradePreventionMode"] = "NONE"
        if resp_type == "FULL":
            out["fills"] = list(self._books[order.order_id].fills)
        return out

    def query_shape(self, order: Order) -> dict[str, Any]:
        """An order as GET /api/v3/order, openOrders and allOrders report it."""
        rules = self.rules[order.symbol]
        return {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "price": rules.format_price(order.price),
            "origQty": rules.format_qty(order.quantity),
            "executedQty": rules.format_qty(order.executed_qty),
            "cummulativeQuoteQty": rules.format_price(order.cum_quote),
            "status": order.status,
            "timeInForce": order.time_in_force,
            "type": order.order_type,
            "side": order.side,
            "stopPrice": rules.format_price(order.stop_price),
            "icebergQty": rules.format_qty(ZERO),
            "time": order.created_ms,
            "updateTime": order.update_ms,
            "isWorking": order.triggered,
            "workingTime": order.working_ms,
            "origQuoteOrderQty": rules.format_price(ZERO),
            "selfTradePreventionMode": "NONE",
        }

    def cancel_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """DELETE /api/v3/order; -2011 "Unknown order sent." for an unknown or closed order."""
        rules = self.symbol_rules(params)
        order = self.find_order(
            params, rules.symbol, lambda: errors.cancel_rejected("Unknown order sent.")
        )
        self._cancel_counter += 1
        cancel_id = params.get("newClientOrderId") or f"mockcancel{self._cancel_counter:012d}"
        self._books[order.order_id].cancel_client_id = cancel_id
        now = self.clock()
        self.engine.cancel(order, now)
        return {
            "symbol": order.symbol,
            "origClientOrderId": order.client_order_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_id,
            "transactTime": now,
            "price": rules.format_price(order.price),
            "origQty": rules.format_qty(order.quantity),
            "executedQty": rules.format_qty(order.executed_qty),
            "origQuoteOrderQty": rules.format_price(ZERO),
            "cummulativeQuoteQty": rules.format_price(order.cum_quote),
            "status": order.status,
            "timeInForce": order.time_in_force,
            "type": order.order_type,
            "side": order.side,
            "selfTradePreventionMode": "NONE",
        }

    def cancel_replace(self, params: Mapping[str, str]) -> dict[str, Any]:
        """POST /api/v3/order/cancelReplace (STOP_ON_FAILURE and ALLOW_FAILURE)."""
        mode = required(params, "cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise errors.invalid_parameter("cancelReplaceMode")
        cancel_params = {"symbol": required(params, "symbol")}
        if params.get("cancelOrderId"):
            cancel_params["orderId"] = params["cancelOrderId"]
        if params.get("cancelOrigClientOrderId"):
            cancel_params["origClientOrderId"] = params["cancelOrigClientOrderId"]
        if params.get("cancelNewClientOrderId"):
            cancel_params["newClientOrderId"] = params["cancelNewClientOrderId"]
        if "orderId" not in cancel_params and "origClientOrderId" not in cancel_params:
            raise errors.either_param("cancelOrderId", "cancelOrigClientOrderId")
        new_params = {
            k: v
            for k, v in params.items()
            if not k.startswith("cancel") and k not in ("timestamp", "recvWindow", "signature")
        }
        try:
            cancel_response: dict[str, Any] = self.cancel_order(cancel_params)
            cancel_ok = True
        except errors.BinanceApiError as exc:
            cancel_response = {"code": exc.code, "msg": exc.msg}
            cancel_ok = False
        if not cancel_ok and mode == "STOP_ON_FAILURE":
            raise errors.BinanceApiError(
                -2022,
                "Order cancel-replace failed.",
                400,
                {
                    "cancelResult": "FAILURE",
                    "newOrderResult": "NOT_ATTEMPTED",
                    "cancelResponse": cancel_response,
                    "newOrderResponse": None,
                },
            )
        try:
            new_response: dict[str, Any] = self.new_order(new_params)
            new_ok = True
        except errors.BinanceApiError as exc:
            new_response = {"code": exc.code, "msg": exc.msg}
            new_ok = False
        data = {
            "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
            "newOrderResult": "SUCCESS" if new_ok else "FAILURE",
            "cancelResponse": cancel_response,
            "newOrderResponse": new_response,
        }
        if cancel_ok and new_ok:
            return data
        if cancel_ok or new_ok:
            raise errors.BinanceApiError(-2021, "Order cancel-replace partially failed.", 409, data)
        raise errors.BinanceApiError(-2022, "Order cancel-replace failed.", 400, data)

    def account_shape(self) -> dict[str, Any]:
        """GET /api/v3/account."""
        rate = f"{self.commission_rate:.8f}"
        bps = int(self.commission_rate * 10000)
        return {
            "makerCommission": bps,
            "takerCommission": bps,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": rate,
                "taker": rate,
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.account.update_ms,
            "accountType": "SPOT",
            "balances": [
                {"asset": asset, "free": f"{bal.free:.8f}", "locked": f"{bal.locked:.8f}"}
                for asset, bal in sorted(self.account.balances.items())
            ],
            "permissions": ["SPOT"],
            "uid": 1,
        }

    def trade_shape(self, trade: SpotTrade) -> dict[str, Any]:
        """One myTrades element."""
        rules = self.rules[trade.symbol]
        return {
            "symbol": trade.symbol,
            "id": trade.trade_id,
            "orderId": trade.order_id,
            "orderListId": -1,
            "price": rules.format_price(trade.price),
            "qty": rules.format_qty(trade.qty),
            "quoteQty": rules.format_price(trade.price * trade.qty),
            "commission": f"{trade.commission:.8f}",
            "commissionAsset": trade.commission_asset,
            "time": trade.time_ms,
            "isBuyer": trade.is_buyer,
            "isMaker": trade.is_maker,
            "isBestMatch": True,
        }

    def deposit(self, asset: str, delta: Decimal) -> None:
        """Change a free balance from outside trading; sends ``balanceUpdate``."""
        now = self.clock()
        self.account.credit(asset, delta)
        self.account.update_ms = now
        self.hub.publish(
            "spot", {"e": "balanceUpdate", "E": now, "a": asset, "d": f"{delta:.8f}", "T": now}
        )
        self._publish_position(now, [asset])

    # -- executions -------------------------------------------------------------------------------

    def _on_execution(self, ex: Execution) -> None:
        order = ex.order
        if ex.exec_type == "TRIGGERED":
            return
        rules = self.rules[order.symbol]
        book = self._books[order.order_id]
        commission = ZERO
        commission_asset: str | None = None
        changed: list[str] = []
        if ex.exec_type == "TRADE":
            if order.side == "BUY":
                locked_part = min(ex.last_qty * book.lock_price, book.lock_remaining)
                self.account.spend_locked(
                    rules.quote_asset, locked_part, ex.last_qty * ex.last_price
                )
                book.lock_remaining -= locked_part
                commission = ex.last_qty * self.commission_rate
                commission_asset = rules.base_asset
                self.account.credit(rules.base_asset, ex.last_qty - commission)
            else:
                self.account.spend_locked(rules.base_asset, ex.last_qty, ex.last_qty)
                book.lock_remaining -= ex.last_qty
                proceeds = ex.last_qty * ex.last_price
                commission = proceeds * self.commission_rate
                commission_asset = rules.quote_asset
                self.account.credit(rules.quote_asset, proceeds - commission)
            changed = [rules.base_asset, rules.quote_asset]
            book.fills.append(
                {
                    "price": rules.format_price(ex.last_price),
                    "qty": rules.format_qty(ex.last_qty),
                    "commission": f"{commission:.8f}",
                    "commissionAsset": commission_asset,
                    "tradeId": ex.trade_id,
                }
            )
            self.trades.append(
                SpotTrade(
                    order.symbol,
                    ex.trade_id,
                    order.order_id,
                    ex.last_price,
                    ex.last_qty,
                    commission,
                    commission_asset,
                    ex.ts_ms,
                    order.side == "BUY",
                    ex.maker,
                )
            )
        if ex.status in ("FILLED", "CANCELED", "EXPIRED") and book.lock_remaining > ZERO:
            self.account.release(book.lock_asset, book.lock_remaining)
            book.lock_remaining = ZERO
            changed = sorted({*changed, book.lock_asset})
        if ex.exec_type == "NEW":
            changed = [book.lock_asset]
        self.account.update_ms = ex.ts_ms
        self.hub.publish(
            "spot", self._execution_report(ex, rules, commission, commission_asset, book)
        )
        if changed:
            self._publish_position(ex.ts_ms, changed)

    def _execution_report(
        self,
        ex: Execution,
        rules: SymbolRules,
        commission: Decimal,
        commission_asset: str | None,
        book: _Book,
    ) -> dict[str, Any]:
        order = ex.order
        execution_id = self._next_execution_id
        self._next_execution_id += 1
        canceled = ex.exec_type == "CANCELED"
        return {
            "e": "executionReport",
            "E": ex.ts_ms,
            "s": order.symbol,
            "c": book.cancel_client_id if canceled else order.client_order_id,
            "S": order.side,
            "o": order.order_type,
            "f": order.time_in_force,
            "q": rules.format_qty(order.quantity),
            "p": rules.format_price(order.price),
            "P": rules.format_price(order.stop_price),
            "F": rules.format_qty(ZERO),
            "g": -1,
            "C": order.client_order_id if canceled else "",
            "x": ex.exec_type,
            "X": ex.status,
            "r": "NONE",
            "i": order.order_id,
            "l": rules.format_qty(ex.last_qty),
            "z": rules.format_qty(ex.cum_qty),
            "L": rules.format_price(ex.last_price),
            "n": f"{commission:.8f}" if commission_asset else "0",
            "N": commission_asset,
            "T": ex.ts_ms,
            "t": ex.trade_id,
            "I": execution_id,
            "w": order.is_open and order.triggered,
            "m": ex.maker,
            "M": False,
            "O": order.created_ms,
            "Z": rules.format_price(ex.cum_quote),
            "Y": rules.format_price(ex.last_qty * ex.last_price),
            "Q": rules.format_price(ZERO),
            "W": order.working_ms if order.working_ms >= 0 else order.created_ms,
            "V": "NONE",
        }

    def _publish_position(self, now: int, assets: list[str]) -> None:
        self.hub.publish(
            "spot",
            {
                "e": "outboundAccountPosition",
                "E": now,
                "u": now,
                "B": [
                    {
                        "a": a,
                        "f": f"{self.account.balance(a).free:.8f}",
                        "l": f"{self.account.balance(a).locked:.8f}",
                    }
                    for a in assets
                ],
            },
        )

    def on_trade(self, symbol: str, price: Decimal, qty: Decimal, ts_ms: int) -> None:
        """Feed a market trade to the engine (ignored for symbols this venue does not list)."""
        if symbol in self.rules:
            self.engine.on_trade(symbol, price, qty, ts_ms)
