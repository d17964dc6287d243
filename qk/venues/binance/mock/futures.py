"""USD-M futures order entry, algo (conditional) orders, positions and user events (``/fapi``).

Shapes follow the fixtures: order (``futures/http_json/order_response.json``), positionRisk
(``position_risk.json``), account v2 (``account_info_v2.json``), balance (``balance.json``), algo
orders (``open_algo_orders.json``), userTrades (``http_futures_account_trades.json``), and the
``ORDER_TRADE_UPDATE`` / ``ACCOUNT_UPDATE`` / ``ALGO_UPDATE`` events in ``futures/user_data_json``.
Since 2025-12-09 conditional types go through ``/fapi/v1/algoOrder``; ``/fapi/v1/order`` answers
-4120 for them (VENUES.md §4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qk.venues.binance.mock import errors
from qk.venues.binance.mock.accounts import FuturesAccount, Position
from qk.venues.binance.mock.matching import CONDITIONAL_TYPES, Execution, MatchingEngine, Order
from qk.venues.binance.mock.params import flag, optional_int, required, required_decimal
from qk.venues.binance.mock.rules import SymbolRules
from qk.venues.binance.mock.userstream import UserStreamHub

ZERO = Decimal(0)
MAX_NOTIONAL = "250000"


@dataclass(frozen=True)
class FuturesTrade:
    """One of the account's fills, as userTrades reports it."""

    symbol: str
    trade_id: int
    order_id: int
    side: str
    price: Decimal
    qty: Decimal
    realized: Decimal
    commission: Decimal
    time_ms: int
    position_side: str
    maker: bool


@dataclass
class _Meta:
    ack: dict[str, Any] | None = None
    realized: Decimal = ZERO
    algo_status: str = "NEW"
    client_algo_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class FuturesVenue:
    """The USD-M futures exchange: symbols, engine, wallet and positions, user events."""

    def __init__(
        self,
        rules: Mapping[str, SymbolRules],
        wallet: Decimal,
        maker_rate: Decimal,
        taker_rate: Decimal,
        hub: UserStreamHub,
        clock: Callable[[], int],
    ) -> None:
        self.rules = dict(rules)
        self.account = FuturesAccount(asset="USDT", wallet=wallet)
        self.maker_rate = maker_rate
        self.taker_rate = taker_rate
        self.hub = hub
        self.clock = clock
        self.engine = MatchingEngine("futures", self._on_execution)
        self.orders: dict[int, Order] = {}
        self.algo_orders: dict[int, Order] = {}
        self._meta: dict[int, _Meta] = {}
        self.trades: list[FuturesTrade] = []
        self._next_order_id = 1
        self._next_algo_id = 1

    # -- helpers ----------------------------------------------------------------------------------

    def symbol_rules(self, params: Mapping[str, str]) -> SymbolRules:
        """Rules of the request's ``symbol``; -1102 / -1121."""
        symbol = required(params, "symbol")
        rules = self.rules.get(symbol)
        if rules is None:
            raise errors.bad_symbol()
        return rules

    def _marks(self) -> dict[str, Decimal]:
        return {s: p for s in self.rules if (p := self.engine.last_price(s)) is not None}

    def available_balance(self) -> Decimal:
        """Wallet + unrealised PnL - position margin - open-order margin."""
        open_margin = ZERO
        for order in self.engine.open_orders():
            ref = order.price or order.stop_price
            open_margin += order.remaining * ref / self.account.config(order.symbol).leverage
        marks = self._marks()
        return (
            self.account.wallet
            + self.account.unrealized(marks)
            - self.account.used_margin(marks)
            - open_margin
        )

    def _position_side(self, params: Mapping[str, str]) -> str:
        side = params.get("positionSide") or "BOTH"
        if side not in ("BOTH", "LONG", "SHORT"):
            raise errors.invalid_parameter("positionSide")
        if self.account.dual_side == (side == "BOTH"):
            raise errors.futures_invalid_position_side()
        return side

    def _common(self, params: Mapping[str, str]) -> tuple[SymbolRules, str, str, bool]:
        rules = self.symbol_rules(params)
        side = required(params, "side")
        if side not in ("BUY", "SELL"):
            raise errors.invalid_side()
        position_side = self._position_side(params)
        reduce_only = flag(params, "reduceOnly")
        if reduce_only and self.account.dual_side:
            raise errors.BinanceApiError(-1106, "Parameter 'reduceOnly' sent when not required.")
        return rules, side, position_side, reduce_only

    def _check_reduce_and_margin(
        self,
        rules: SymbolRules,
        side: str,
        position_side: str,
        qty: Decimal,
        ref: Decimal | None,
        reduce_only: bool,
    ) -> None:
        pos = self.account.position(rules.symbol, position_side)
        if reduce_only:
            reduces = (pos.amount > 0 and side == "SELL") or (pos.amount < 0 and side == "BUY")
            if not reduces or qty > abs(pos.amount):
                raise errors.futures_reduce_only_rejected()
            return
        closing = position_side != "BOTH" and (
            (position_side == "LONG" and side == "SELL")
            or (position_side == "SHORT" and side == "BUY")
        )
        if ref is not None and not closing:
            needed = qty * ref / self.account.config(rules.symbol).leverage
            if needed > self.available_balance():
                raise errors.futures_margin_insufficient()

    # -- orders -----------------------------------------------------------------------------------

    def new_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """POST /fapi/v1/order (LIMIT and MARKET; conditional types answer -4120)."""
        rules, side, position_side, reduce_only = self._common(params)
        order_type = required(params, "type")
        if order_type in CONDITIONAL_TYPES["futures"] or order_type == "TRAILING_STOP_MARKET":
            raise errors.futures_use_algo_endpoint()
        if order_type not in ("LIMIT", "MARKET"):
            raise errors.invalid_order_type()
        resp_type = params.get("newOrderRespType") or "ACK"
        if resp_type not in ("ACK", "RESULT"):
            raise errors.invalid_parameter("newOrderRespType")
        quantity = required_decimal(params, "quantity")
        rules.check_quantity(quantity, order_type == "MARKET")
        tif = "GTC"
        price = ZERO
        if order_type == "LIMIT":
            tif = required(params, "timeInForce")
            if tif not in rules.time_in_force:
                raise errors.invalid_tif()
            price = required_decimal(params, "price")
            rules.check_price(price)
        ref = price if order_type == "LIMIT" else self.engine.last_price(rules.symbol)
        if ref is not None:
            rules.check_notional(ref * quantity, order_type == "MARKET", reduce_only)
        self._check_reduce_and_margin(rules, side, position_side, quantity, ref, reduce_only)
        order = self._make_order(
            rules, params, side, order_type, tif, quantity, price, ZERO, position_side, reduce_only
        )
        self._submit(order)
        meta = self._meta[order.order_id]
        if resp_type == "ACK" and meta.ack is not None:
            return meta.ack
        return self.order_shape(order)

    def _make_order(
        self,
        rules: SymbolRules,
        params: Mapping[str, str],
        side: str,
        order_type: str,
        tif: str,
        quantity: Decimal,
        price: Decimal,
        stop_price: Decimal,
        position_side: str,
        reduce_only: bool,
    ) -> Order:
        client_id = params.get("newClientOrderId") or ""
        if client_id and any(
            o.client_order_id == client_id and o.is_open for o in self.orders.values()
        ):
            raise errors.BinanceApiError(-4116, "ClientOrderId is duplicated.")
        order_id = self._next_order_id
        return Order(
            market="futures",
            symbol=rules.symbol,
            order_id=order_id,
            client_order_id=client_id or f"mockfut{order_id:015d}",
            side=side,
            order_type=order_type,
            time_in_force=tif,
            quantity=quantity,
            price=price,
            stop_price=stop_price,
            created_ms=self.clock(),
            reduce_only=reduce_only,
            position_side=position_side,
        )

    def _submit(self, order: Order, client_algo_id: str = "") -> None:
        self._meta[order.order_id] = _Meta(client_algo_id=client_algo_id)
        self.orders[order.order_id] = order
        try:
            self.engine.submit(order, order.created_ms)
        except errors.BinanceApiError:
            del self.orders[order.order_id]
            del self._meta[order.order_id]
            raise
        self._next_order_id += 1

    def find_order(
        self, params: Mapping[str, str], symbol: str, missing: Callable[[], errors.BinanceApiError]
    ) -> Order:
        """The order named by ``orderId`` or ``origClientOrderId``."""
        order_id = optional_int(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise errors.either_param("orderId", "origClientOrderId")
        # A conditional order becomes a regular order once triggered (the algo's actualOrderId).
        candidates = [
            o
            for o in self.orders.values()
            if o.symbol == symbol and (o.algo_id is None or o.triggered)
        ]
        if order_id is not None:
            candidates = [o for o in candidates if o.order_id == order_id]
        if client_id is not None:
            candidates = [o for o in candidates if o.client_order_id == client_id]
        if not candidates:
            raise missing()
        return candidates[-1]

    def cancel_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """DELETE /fapi/v1/order."""
        rules = self.symbol_rules(params)
        order = self.find_order(
            params, rules.symbol, lambda: errors.cancel_rejected("Unknown order sent.")
        )
        self.engine.cancel(order, self.clock())
        return self.order_shape(order)

    def order_shape(self, order: Order) -> dict[str, Any]:
        """An order as the futures order endpoints report it."""
        rules = self.rules[order.symbol]
        return {
            "orderId": order.order_id,
            "symbol": order.symbol,
            "status": order.status,
            "clientOrderId": order.client_order_id,
            "price": rules.format_price(order.price),
            "avgPrice": rules.format_price(order.avg_price),
            "origQty": rules.format_qty(order.quantity),
            "executedQty": rules.format_qty(order.executed_qty),
            "cumQty": rules.format_qty(order.executed_qty),
            "cumQuote": f"{order.cum_quote:.5f}",
            "timeInForce": order.time_in_force,
            "type": order.working_type or order.order_type,
            "reduceOnly": order.reduce_only,
            "closePosition": order.close_position,
            "side": order.side,
            "positionSide": order.position_side,
            "stopPrice": rules.format_price(order.stop_price),
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": order.order_type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "time": order.created_ms,
            "updateTime": order.update_ms,
        }

    # -- algo orders ------------------------------------------------------------------------------

    def new_algo_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """POST /fapi/v1/algoOrder for STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET."""
        if required(params, "algoType") != "CONDITIONAL":
            raise errors.invalid_parameter("algoType")
        rules, side, position_side, reduce_only = self._common(params)
        order_type = required(params, "type")
        if order_type not in CONDITIONAL_TYPES["futures"]:
            raise errors.invalid_order_type()
        trigger = required_decimal(params, "triggerPrice")
        rules.check_price(trigger, "triggerPrice")
        close_position = flag(params, "closePosition")
        if close_position:
            quantity = abs(self.account.position(rules.symbol, position_side).amount)
        else:
            quantity = required_decimal(params, "quantity")
            rules.check_quantity(quantity, order_type.endswith("_MARKET"))
        price = ZERO
        tif = params.get("timeInForce") or "GTC"
        if tif not in rules.time_in_force:
            raise errors.invalid_tif()
        if order_type in ("STOP", "TAKE_PROFIT"):
            price = required_decimal(params, "price")
            rules.check_price(price)
        if quantity:
            rules.check_notional(
                (price or trigger) * quantity, not price, reduce_only or close_position
            )
            self._check_reduce_and_margin(
                rules, side, position_side, quantity, price or trigger, reduce_only
            )
        client_algo_id = params.get("clientAlgoId") or f"mockalgo{self._next_algo_id:014d}"
        if any(
            self._meta[o.order_id].client_algo_id == client_algo_id and o.is_open
            for o in self.algo_orders.values()
        ):
            raise errors.BinanceApiError(-4116, "ClientOrderId is duplicated.")
        order = self._make_order(
            rules, {}, side, order_type, tif, quantity, price, trigger, position_side, reduce_only
        )
        order.close_position = close_position
        order.algo_id = self._next_algo_id
        self._submit(order, client_algo_id)
        self._next_algo_id += 1
        self.algo_orders[order.algo_id] = order
        return self.algo_shape(order)

    def find_algo(self, params: Mapping[str, str]) -> Order:
        """The algo order named by ``algoId`` or ``clientAlgoId``; -2013 when unknown."""
        algo_id = optional_int(params, "algoId")
        client_algo_id = params.get("clientAlgoId") or None
        if algo_id is None and client_algo_id is None:
            raise errors.either_param("algoId", "clientAlgoId")
        for order in reversed(list(self.algo_orders.values())):
            meta = self._meta[order.order_id]
            if (algo_id is None or order.algo_id == algo_id) and (
                client_algo_id is None or meta.client_algo_id == client_algo_id
            ):
                return order
        raise errors.no_such_order()

    def cancel_algo(self, params: Mapping[str, str]) -> dict[str, Any]:
        """DELETE /fapi/v1/algoOrder: cancel an untriggered conditional order."""
        order = self.find_algo(params)
        if not order.is_open or order.triggered:
            raise errors.cancel_rejected("Unknown order sent.")
        self.engine.cancel(order, self.clock())
        meta = self._meta[order.order_id]
        return {
            "algoId": order.algo_id,
            "clientAlgoId": meta.client_algo_id,
            "code": "200",
            "msg": "success",
        }

    def algo_shape(self, order: Order) -> dict[str, Any]:
        """An algo order as ``open_algo_orders.json`` shows it (plus ``price`` for limit variants)."""
        rules = self.rules[order.symbol]
        meta = self._meta[order.order_id]
        return {
            "algoId": order.algo_id,
            "clientAlgoId": meta.client_algo_id,
            "algoType": "CONDITIONAL",
            "type": order.order_type,
            "symbol": order.symbol,
            "side": order.side,
            "positionSide": order.position_side,
            "timeInForce": order.time_in_force,
            "quantity": rules.format_qty(order.quantity),
            "algoStatus": meta.algo_status,
            "triggerPrice": rules.format_price(order.stop_price),
            "price": rules.format_price(order.price),
            "workingType": "CONTRACT_PRICE",
            "reduceOnly": order.reduce_only,
            "createTime": order.created_ms,
            "updateTime": order.update_ms,
        }

    # -- settings ---------------------------------------------------------------------------------

    def change_leverage(self, params: Mapping[str, str]) -> dict[str, Any]:
        """POST /fapi/v1/leverage."""
        rules = self.symbol_rules(params)
        leverage = optional_int(params, "leverage")
        if leverage is None:
            raise errors.mandatory_param("leverage")
        if not 1 <= leverage <= 125:
            raise errors.futures_invalid_leverage()
        self.account.config(rules.symbol).leverage = leverage
        return {"leverage": leverage, "maxNotionalValue": MAX_NOTIONAL, "symbol": rules.symbol}

    def change_margin_type(self, params: Mapping[str, str]) -> dict[str, Any]:
        """POST /fapi/v1/marginType (ISOLATED or CROSSED)."""
        rules = self.symbol_rules(params)
        wanted = required(params, "marginType")
        names = {"ISOLATED": "isolated", "CROSSED": "cross"}
        if wanted not in names:
            raise errors.invalid_parameter("marginType")
        cfg = self.account.config(rules.symbol)
        if cfg.margin_type == names[wanted]:
            raise errors.futures_no_margin_type_change()
        cfg.margin_type = names[wanted]
        return {"code": 200, "msg": "success"}

    def change_position_mode(self, params: Mapping[str, str]) -> dict[str, Any]:
        """POST /fapi/v1/positionSide/dual."""
        required(params, "dualSidePosition")
        dual = flag(params, "dualSidePosition")
        if dual == self.account.dual_side:
            raise errors.futures_no_position_side_change()
        if any(p.amount for p in self.account.positions.values()):
            raise errors.futures_position_side_blocked_by_position()
        if self.engine.open_orders():
            raise errors.futures_position_side_blocked_by_orders()
        self.account.dual_side = dual
        self.account.positions.clear()
        return {"code": 200, "msg": "success"}

    # -- account views ----------------------------------------------------------------------------

    def _positions_for(self, symbol: str | None) -> list[Position]:
        sides = ("LONG", "SHORT") if self.account.dual_side else ("BOTH",)
        symbols = [symbol] if symbol else sorted({s for s, _ in self.account.positions})
        return [self.account.position(s, side) for s in symbols for side in sides]

    def position_risk(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """GET /fapi/v2|v3/positionRisk."""
        symbol = params.get("symbol") or None
        if symbol is not None and symbol not in self.rules:
            raise errors.bad_symbol()
        out = []
        for pos in self._positions_for(symbol):
            rules = self.rules[pos.symbol]
            mark = self.engine.last_price(pos.symbol) or pos.entry_price
            cfg = self.account.config(pos.symbol)
            out.append(
                {
                    "symbol": pos.symbol,
                    "positionAmt": rules.format_qty(pos.amount),
                    "entryPrice": rules.format_price(pos.entry_price),
                    "markPrice": rules.format_price(mark),
                    "unRealizedProfit": f"{(mark - pos.entry_price) * pos.amount:.8f}",
                    "liquidationPrice": "0",
                    "leverage": str(cfg.leverage),
                    "maxNotionalValue": MAX_NOTIONAL,
                    "marginType": cfg.margin_type,
                    "isolatedMargin": "0.00000000",
                    "isAutoAddMargin": "false",
                    "positionSide": pos.position_side,
                    "notional": rules.format_price(mark * pos.amount),
                    "isolatedWallet": "0",
                    "updateTime": pos.update_ms,
                    "breakEvenPrice": rules.format_price(pos.entry_price),
                }
            )
        return out

    def balance_shape(self) -> list[dict[str, Any]]:
        """GET /fapi/v2|v3/balance."""
        available = f"{self.available_balance():.8f}"
        wallet = f"{self.account.wallet:.8f}"
        return [
            {
                "accountAlias": "mock",
                "asset": self.account.asset,
                "balance": wallet,
                "crossWalletBalance": wallet,
                "crossUnPnl": f"{self.account.unrealized(self._marks()):.8f}",
                "availableBalance": available,
                "maxWithdrawAmount": available,
                "marginAvailable": True,
                "updateTime": self.account.update_ms,
            }
        ]

    def account_shape(self) -> dict[str, Any]:
        """GET /fapi/v2|v3/account."""
        marks = self._marks()
        wallet = self.account.wallet
        unrealized = self.account.unrealized(marks)
        margin = self.account.used_margin(marks)
        available = self.available_balance()
        fmt = "{:.8f}".format
        positions = []
        for pos in self._positions_for(None):
            cfg = self.account.config(pos.symbol)
            rules = self.rules[pos.symbol]
            mark = marks.get(pos.symbol, pos.entry_price)
            positions.append(
                {
                    "symbol": pos.symbol,
                    "initialMargin": fmt(abs(pos.amount) * pos.entry_price / cfg.leverage),
                    "maintMargin": "0",
                    "unrealizedProfit": fmt((mark - pos.entry_price) * pos.amount),
                    "positionInitialMargin": fmt(abs(pos.amount) * pos.entry_price / cfg.leverage),
                    "openOrderInitialMargin": "0",
                    "leverage": str(cfg.leverage),
                    "isolated": cfg.margin_type == "isolated",
                    "entryPrice": rules.format_price(pos.entry_price),
                    "maxNotional": MAX_NOTIONAL,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "positionSide": pos.position_side,
                    "positionAmt": rules.format_qty(pos.amount),
                    "updateTime": pos.update_ms,
                }
            )
        return {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            "totalInitialMargin": fmt(margin),
            "totalMaintMargin": "0.00000000",
            "totalWalletBalance": fmt(wallet),
            "totalUnrealizedProfit": fmt(unrealized),
            "totalMarginBalance": fmt(wallet + unrealized),
            "totalPositionInitialMargin": fmt(margin),
            "totalOpenOrderInitialMargin": "0.00000000",
            "totalCrossWalletBalance": fmt(wallet),
            "totalCrossUnPnl": fmt(unrealized),
            "availableBalance": fmt(available),
            "maxWithdrawAmount": fmt(available),
            "assets": [
                {
                    "asset": self.account.asset,
                    "walletBalance": fmt(wallet),
                    "unrealizedProfit": fmt(unrealized),
                    "marginBalance": fmt(wallet + unrealized),
                    "maintMargin": "0.00000000",
                    "initialMargin": fmt(margin),
                    "positionInitialMargin": fmt(margin),
                    "openOrderInitialMargin": "0.00000000",
                    "crossWalletBalance": fmt(wallet),
                    "crossUnPnl": fmt(unrealized),
                    "availableBalance": fmt(available),
                    "maxWithdrawAmount": fmt(available),
                    "marginAvailable": True,
                    "updateTime": self.account.update_ms,
                }
            ],
            "positions": positions,
        }

    def trade_shape(self, trade: FuturesTrade) -> dict[str, Any]:
        """One userTrades element."""
        rules = self.rules[trade.symbol]
        return {
            "symbol": trade.symbol,
            "id": trade.trade_id,
            "orderId": trade.order_id,
            "side": trade.side,
            "price": rules.format_price(trade.price),
            "qty": rules.format_qty(trade.qty),
            "realizedPnl": f"{trade.realized:.8f}",
            "marginAsset": self.account.asset,
            "quoteQty": f"{trade.price * trade.qty:.5f}",
            "commission": f"{trade.commission:.8f}",
            "commissionAsset": self.account.asset,
            "time": trade.time_ms,
            "positionSide": trade.position_side,
            "buyer": trade.side == "BUY",
            "maker": trade.maker,
        }

    # -- executions -------------------------------------------------------------------------------

    def _on_execution(self, ex: Execution) -> None:
        order = ex.order
        meta = self._meta[order.order_id]
        rules = self.rules[order.symbol]
        is_algo = bool(meta.client_algo_id)
        if is_algo and not order.triggered:
            meta.algo_status = {"NEW": "NEW", "CANCELED": "CANCELED"}.get(
                ex.exec_type, meta.algo_status
            )
            self.hub.publish("futures", self._algo_update(order, ex.ts_ms))
            return
        if ex.exec_type == "TRIGGERED":
            meta.algo_status = "TRIGGERED"
            self.hub.publish("futures", self._algo_update(order, ex.ts_ms))
            self.hub.publish("futures", self._order_update(ex, rules, "NEW", ZERO, ZERO))
            return
        commission = ZERO
        realized = ZERO
        if ex.exec_type == "TRADE":
            notional = ex.last_qty * ex.last_price
            commission = notional * (self.maker_rate if ex.maker else self.taker_rate)
            _position, realized = self.account.apply_fill(
                order.symbol, order.position_side, order.side, ex.last_qty, ex.last_price, ex.ts_ms
            )
            self.account.wallet -= commission
            meta.realized += realized
            self.trades.append(
                FuturesTrade(
                    order.symbol,
                    ex.trade_id,
                    order.order_id,
                    order.side,
                    ex.last_price,
                    ex.last_qty,
                    realized,
                    commission,
                    ex.ts_ms,
                    order.position_side,
                    ex.maker,
                )
            )
        update = self._order_update(ex, rules, ex.exec_type, commission, realized)
        if ex.exec_type == "NEW":
            meta.ack = self.order_shape(order)
        self.hub.publish("futures", update)
        if ex.exec_type == "TRADE":
            self.hub.publish(
                "futures", self._account_update(order.symbol, order.position_side, ex.ts_ms)
            )
        if is_algo and not order.is_open:
            meta.algo_status = "FINISHED"
            self.hub.publish("futures", self._algo_update(order, ex.ts_ms))

    def _order_update(
        self,
        ex: Execution,
        rules: SymbolRules,
        exec_type: str,
        commission: Decimal,
        realized: Decimal,
    ) -> dict[str, Any]:
        order = ex.order
        working = order.working_type if order.triggered else order.order_type
        return {
            "e": "ORDER_TRADE_UPDATE",
            "T": ex.ts_ms,
            "E": ex.ts_ms,
            "o": {
                "s": order.symbol,
                "c": order.client_order_id,
                "S": order.side,
                "o": working,
                "f": order.time_in_force,
                "q": rules.format_qty(order.quantity),
                "p": rules.format_price(order.price),
                "ap": rules.format_price(order.avg_price),
                "sp": rules.format_price(order.stop_price),
                "x": exec_type,
                "X": ex.status,
                "i": order.order_id,
                "l": rules.format_qty(ex.last_qty),
                "z": rules.format_qty(ex.cum_qty),
                "L": rules.format_price(ex.last_price),
                "N": self.account.asset,
                "n": f"{commission:.8f}",
                "T": ex.ts_ms,
                "t": ex.trade_id if ex.trade_id > 0 else 0,
                "b": "0",
                "a": "0",
                "m": ex.maker,
                "R": order.reduce_only,
                "wt": "CONTRACT_PRICE",
                "ot": order.order_type,
                "ps": order.position_side,
                "cp": order.close_position,
                "AP": "0",
                "cr": "0",
                "pP": False,
                "si": 0,
                "ss": 0,
                "rp": f"{realized:.8f}",
                "V": "NONE",
            },
        }

    def _account_update(self, symbol: str, position_side: str, ts_ms: int) -> dict[str, Any]:
        pos = self.account.position(symbol, position_side)
        rules = self.rules[symbol]
        cfg = self.account.config(symbol)
        mark = self.engine.last_price(symbol) or pos.entry_price
        wallet = f"{self.account.wallet:.8f}"
        return {
            "e": "ACCOUNT_UPDATE",
            "T": ts_ms,
            "E": ts_ms,
            "a": {
                "m": "ORDER",
                "B": [{"a": self.account.asset, "wb": wallet, "cw": wallet, "bc": "0"}],
                "P": [
                    {
                        "s": symbol,
                        "pa": rules.format_qty(pos.amount),
                        "ep": rules.format_price(pos.entry_price),
                        "bep": rules.format_price(pos.entry_price),
                        "cr": f"{self._meta_realized_total(symbol):.8f}",
                        "up": f"{(mark - pos.entry_price) * pos.amount:.8f}",
                        "mt": cfg.margin_type,
                        "iw": "0",
                        "ps": position_side,
                    }
                ],
            },
        }

    def _meta_realized_total(self, symbol: str) -> Decimal:
        return sum((t.realized for t in self.trades if t.symbol == symbol), ZERO)

    def _algo_update(self, order: Order, ts_ms: int) -> dict[str, Any]:
        rules = self.rules[order.symbol]
        meta = self._meta[order.order_id]
        return {
            "e": "ALGO_UPDATE",
            "T": ts_ms,
            "E": ts_ms,
            "o": {
                "caid": meta.client_algo_id,
                "aid": order.algo_id,
                "at": "CONDITIONAL",
                "o": order.order_type,
                "s": order.symbol,
                "S": order.side,
                "ps": order.position_side,
                "f": order.time_in_force,
                "q": rules.format_qty(order.quantity),
                "X": meta.algo_status,
                "ai": str(order.order_id) if order.triggered else "",
                "ap": rules.format_price(order.avg_price),
                "aq": rules.format_qty(order.executed_qty),
                "act": "0",
                "tp": rules.format_price(order.stop_price),
                "p": rules.format_price(order.price),
                "V": "NONE",
                "wt": "CONTRACT_PRICE",
                "pm": "NONE",
                "cp": order.close_position,
                "pP": False,
                "R": order.reduce_only,
                "tt": 0,
                "gtd": 0,
                "rm": "",
            },
        }

    def on_trade(self, symbol: str, price: Decimal, qty: Decimal, ts_ms: int) -> None:
        """Feed a market trade to the engine (ignored for symbols this venue does not list)."""
        if symbol in self.rules:
            self.engine.on_trade(symbol, price, qty, ts_ms)
