"""Binance user data: order events from the venue, parsed and delivered to the gateway.

- Spot (VENUES.md §3.9): the WebSocket API at ``/ws-api/v3``; ``userDataStream.subscribe.signature``
  with ``{apiKey, timestamp, signature[, recvWindow]}`` signed over the params sorted by name; events
  come wrapped as ``{"subscriptionId": N, "event": {...}}``.
- USD-M (VENUES.md §4): ``POST /fapi/v1/listenKey``, then ``/ws/<listenKey>``; the key lives 60
  minutes and is extended with ``PUT`` (every 30 minutes here, configurable); -1125 means it is
  gone, so a new one is made and the socket reopened. Events come unwrapped.

``executionReport`` and ``ORDER_TRADE_UPDATE`` become :class:`ExecutionUpdate`, ``ALGO_UPDATE``
becomes :class:`AlgoUpdate`; other events (balances, positions) are handed to ``on_other`` as
dicts; ``eventStreamTerminated`` and ``listenKeyExpired`` reopen the stream. Duplicates and reordering are the gateway's to absorb (by trade id and order status);
after every reconnect ``on_reconnect`` runs so that the gateway can query what it may have
missed while the socket was down.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal
from urllib.parse import urlencode

import orjson
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from qk.venues.binance.rest import BinanceError, BinanceRejected, BinanceRestClient, sign

__all__ = [
    "AlgoUpdate",
    "ExecutionUpdate",
    "FuturesUserStream",
    "SpotUserStream",
    "UserDataError",
    "UserUpdate",
    "parse_algo_update",
    "parse_execution_report",
    "parse_order_trade_update",
    "parse_user_message",
]

_log = logging.getLogger(__name__)
Market = Literal["spot", "futures"]
_LISTEN_KEY_GONE: Final = -1125
_STREAM_ENDED: Final = frozenset({"eventStreamTerminated", "listenKeyExpired"})
"""Events after which no more events come on this subscription (VENUES.md §3.9, §4)."""


class UserDataError(ValueError):
    """A user-data message that cannot be read (the message names the event and field)."""


@dataclass(frozen=True, slots=True)
class ExecutionUpdate:
    """One order execution event, spot ``executionReport`` or USD-M ``ORDER_TRADE_UPDATE``.

    Attributes:
        market: ``spot`` or ``futures``.
        symbol: Venue symbol.
        client_order_id: The order's own client id (spot cancels carry it in ``C``).
        venue_order_id: Binance ``orderId``.
        exec_type: ``x``: NEW, TRADE, CANCELED, EXPIRED, REJECTED, CALCULATED...
        status: ``X``: the order status after the event.
        order_type: ``o``.
        side: ``S``.
        last_qty: ``l``, the fill's quantity (0 if no fill).
        last_price: ``L``.
        cum_qty: ``z``.
        trade_id: ``t`` (> 0 for a fill).
        commission: ``n``.
        commission_asset: ``N`` ("" if none).
        maker: ``m``.
        event_ms: ``E``.
        transact_ms: ``T``, the execution's time.
        reject_reason: ``r`` on spot, "" elsewhere.
    """

    market: Market
    symbol: str
    client_order_id: str
    venue_order_id: int
    exec_type: str
    status: str
    order_type: str
    side: str
    last_qty: Decimal
    last_price: Decimal
    cum_qty: Decimal
    trade_id: int
    commission: Decimal
    commission_asset: str
    maker: bool
    event_ms: int
    transact_ms: int
    reject_reason: str = ""


@dataclass(frozen=True, slots=True)
class AlgoUpdate:
    """A USD-M ``ALGO_UPDATE``: a conditional order's own status.

    Attributes:
        symbol: Venue symbol.
        client_algo_id: ``caid`` (our client order id).
        algo_id: ``aid``.
        status: ``X``: NEW, TRIGGERED, FINISHED, CANCELED, REJECTED, EXPIRED.
        actual_order_id: ``ai``, the regular order the trigger released (0 before).
        event_ms: ``E``.
        transact_ms: ``T``.
        reason: ``rm`` (a reject reason), "" if none.
    """

    symbol: str
    client_algo_id: str
    algo_id: int
    status: str
    actual_order_id: int
    event_ms: int
    transact_ms: int
    reason: str = ""


UserUpdate = ExecutionUpdate | AlgoUpdate


def _get(event: Mapping[str, Any], key: str, name: str) -> Any:
    try:
        return event[key]
    except KeyError:
        raise UserDataError(f"{name}: missing field {key!r}") from None


def _dec(event: Mapping[str, Any], key: str, name: str) -> Decimal:
    value = _get(event, key, name)
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise UserDataError(f"{name}: field {key!r} = {value!r} is not a decimal") from None
    if not out.is_finite():
        raise UserDataError(f"{name}: field {key!r} = {value!r} is not finite")
    return out


def _int(event: Mapping[str, Any], key: str, name: str) -> int:
    value = _get(event, key, name)
    if isinstance(value, bool):
        raise UserDataError(f"{name}: field {key!r} = {value!r} is not an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserDataError(f"{name}: field {key!r} = {value!r} is not an integer") from None


def parse_execution_report(event: Mapping[str, Any]) -> ExecutionUpdate:
    """A spot ``executionReport`` (unwrapped).

    Raises:
        UserDataError: A missing or malformed field, named.
    """
    name = "executionReport"
    exec_type = str(_get(event, "x", name))
    original = event.get("C") or ""
    # On a cancel `c` is the cancel request's id and `C` the order's own (VENUES.md §3.9).
    client_id = (
        str(original) if exec_type == "CANCELED" and original else str(_get(event, "c", name))
    )
    return ExecutionUpdate(
        market="spot",
        symbol=str(_get(event, "s", name)),
        client_order_id=client_id,
        venue_order_id=_int(event, "i", name),
        exec_type=exec_type,
        status=str(_get(event, "X", name)),
        order_type=str(_get(event, "o", name)),
        side=str(_get(event, "S", name)),
        last_qty=_dec(event, "l", name),
        last_price=_dec(event, "L", name),
        cum_qty=_dec(event, "z", name),
        trade_id=_int(event, "t", name),
        commission=_dec(event, "n", name),
        commission_asset=str(event.get("N") or ""),
        maker=bool(event.get("m", False)),
        event_ms=_int(event, "E", name),
        transact_ms=_int(event, "T", name),
        reject_reason=str(event.get("r") or ""),
    )


def parse_order_trade_update(event: Mapping[str, Any]) -> ExecutionUpdate:
    """A USD-M ``ORDER_TRADE_UPDATE``.

    Raises:
        UserDataError: A missing or malformed field, named.
    """
    name = "ORDER_TRADE_UPDATE"
    order = _get(event, "o", name)
    if not isinstance(order, Mapping):
        raise UserDataError(f"{name}: field 'o' is not an object")
    return ExecutionUpdate(
        market="futures",
        symbol=str(_get(order, "s", name)),
        client_order_id=str(_get(order, "c", name)),
        venue_order_id=_int(order, "i", name),
        exec_type=str(_get(order, "x", name)),
        status=str(_get(order, "X", name)),
        order_type=str(_get(order, "o", name)),
        side=str(_get(order, "S", name)),
        last_qty=_dec(order, "l", name),
        last_price=_dec(order, "L", name),
        cum_qty=_dec(order, "z", name),
        trade_id=_int(order, "t", name),
        commission=_dec(order, "n", name) if "n" in order else Decimal(0),
        commission_asset=str(order.get("N") or ""),
        maker=bool(order.get("m", False)),
        event_ms=_int(event, "E", name),
        transact_ms=_int(order, "T", name) if "T" in order else _int(event, "T", name),
    )


def parse_algo_update(event: Mapping[str, Any]) -> AlgoUpdate:
    """A USD-M ``ALGO_UPDATE``.

    Raises:
        UserDataError: A missing or malformed field, named.
    """
    name = "ALGO_UPDATE"
    order = _get(event, "o", name)
    if not isinstance(order, Mapping):
        raise UserDataError(f"{name}: field 'o' is not an object")
    actual = str(order.get("ai") or "0")
    if not actual.isdigit():
        raise UserDataError(f"{name}: field 'ai' = {actual!r} is not an order id")
    return AlgoUpdate(
        symbol=str(_get(order, "s", name)),
        client_algo_id=str(_get(order, "caid", name)),
        algo_id=_int(order, "aid", name),
        status=str(_get(order, "X", name)),
        actual_order_id=int(actual),
        event_ms=_int(event, "E", name),
        transact_ms=_int(event, "T", name),
        reason=str(order.get("rm") or ""),
    )


def parse_user_message(data: bytes | str | Mapping[str, Any]) -> UserUpdate | Mapping[str, Any]:
    """One user-data message → an update, or the event dict for events that are not orders.

    Accepts the WebSocket API wrapper ``{"subscriptionId", "event"}`` and unwrapped events.

    Raises:
        UserDataError: Not JSON, not an object, or an order event with a bad field.
    """
    if isinstance(data, bytes | str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UserDataError(f"user data: not valid JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise UserDataError(f"user data: expected an object, got {type(data).__name__}")
    event = data.get("event", data) if "subscriptionId" in data else data
    if not isinstance(event, Mapping):
        raise UserDataError("user data: 'event' is not an object")
    kind = event.get("e")
    if kind == "executionReport":
        return parse_execution_report(event)
    if kind == "ORDER_TRADE_UPDATE":
        return parse_order_trade_update(event)
    if kind == "ALGO_UPDATE":
        return parse_algo_update(event)
    return event


# ------------------------------------------------------------------------------ streams
OnUpdate = Callable[[UserUpdate], object]
OnOther = Callable[[Mapping[str, Any]], object]
OnReconnect = Callable[[], Awaitable[object]]


class _Stream(abc.ABC):
    """Connection loop shared by both streams: connect, read, reconnect with back-off."""

    def __init__(
        self,
        on_update: OnUpdate,
        *,
        on_other: OnOther | None = None,
        on_reconnect: OnReconnect | None = None,
        reconnect_delay_s: float = 0.5,
        max_reconnect_delay_s: float = 30.0,
    ) -> None:
        self._on_update = on_update
        self._on_other = on_other
        self._on_reconnect = on_reconnect
        self._delay = reconnect_delay_s
        self._max_delay = max_reconnect_delay_s
        self._stop = asyncio.Event()
        self.connected = asyncio.Event()
        self.connections = 0
        """Successful connections (the first one included)."""
        self.bad_messages = 0
        """Messages that could not be parsed (logged and skipped)."""

    @abc.abstractmethod
    async def _open(self) -> tuple[str, dict[str, Any] | None]:
        """The URL to connect to and the request to send first (None: none)."""

    def _accept_reply(self, reply: Mapping[str, Any]) -> None:
        """Check the answer to the first request; a refusal raises BinanceRejected."""
        if reply.get("status") != 200:
            error = reply.get("error") or {}
            raise BinanceRejected(
                "spot",
                "/ws-api/v3",
                int(reply.get("status") or 0),
                int(error.get("code") or 0),
                str(error.get("msg") or reply),
            )

    async def _while_connected(self) -> None:
        await self._stop.wait()

    async def run(self) -> None:
        """Connect and deliver events until :meth:`stop`; reconnects after every drop."""
        delay = self._delay
        while not self._stop.is_set():
            try:
                url, subscribe = await self._open()
                async with websockets.connect(
                    url, ping_interval=None, compression=None, close_timeout=1.0
                ) as ws:
                    if subscribe is not None:
                        await ws.send(orjson.dumps(subscribe).decode())
                        reply = orjson.loads(await ws.recv())
                        self._accept_reply(reply)
                    self.connections += 1
                    if self.connections > 1 and self._on_reconnect is not None:
                        await self._on_reconnect()
                    self.connected.set()
                    delay = self._delay
                    await self._read(ws)
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                _log.warning("binance user data connection lost: %s", exc)
            except (BinanceError, ValueError) as exc:  # ValueError: a bad reply (JSON, fields)
                _log.warning("binance user data: %s", exc)
            finally:
                self.connected.clear()
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(delay * 2, self._max_delay)

    async def _read(self, ws: Any) -> None:
        helper = asyncio.ensure_future(self._while_connected())
        try:
            while not self._stop.is_set():
                recv = asyncio.ensure_future(ws.recv(decode=False))
                stop = asyncio.ensure_future(self._stop.wait())
                done, _ = await asyncio.wait(
                    {recv, stop, helper}, return_when=asyncio.FIRST_COMPLETED
                )
                if recv not in done:
                    recv.cancel()
                    stop.cancel()
                    if helper in done:
                        helper.result()  # re-raises why the helper ended (e.g. key gone)
                    return
                stop.cancel()
                if not self._deliver(recv.result()):
                    return
        finally:
            helper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await helper

    def _deliver(self, raw: bytes) -> bool:
        """Hand one message on; False when the stream has ended and must be opened again."""
        try:
            update = parse_user_message(raw)
        except UserDataError as exc:
            self.bad_messages += 1
            _log.warning("binance user data: %s", exc)
            return True
        if isinstance(update, ExecutionUpdate | AlgoUpdate):
            self._on_update(update)
            return True
        if update.get("e") in _STREAM_ENDED:
            _log.warning("binance user data stream ended (%s); reopening", update.get("e"))
            return False
        if "subscriptionId" not in update and self._on_other is not None:
            self._on_other(update)
        return True

    async def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()


class SpotUserStream(_Stream):
    """Spot user data over the WebSocket API (``userDataStream.subscribe.signature``).

    Args:
        ws_api_url: ``wss://ws-api.binance.com:443/ws-api/v3`` (the mock's ``ws://.../ws-api/v3``).
        rest: The REST client: its keys and its spot server clock sign the subscription.
        on_update: Receives every ExecutionUpdate.
        on_other: Receives other events (balances).
        on_reconnect: Awaited after every reconnect, before events flow again.
    """

    def __init__(
        self,
        ws_api_url: str,
        rest: BinanceRestClient,
        on_update: OnUpdate,
        *,
        on_other: OnOther | None = None,
        on_reconnect: OnReconnect | None = None,
        reconnect_delay_s: float = 0.5,
    ) -> None:
        super().__init__(
            on_update,
            on_other=on_other,
            on_reconnect=on_reconnect,
            reconnect_delay_s=reconnect_delay_s,
        )
        self._url = ws_api_url
        self._rest = rest
        self._request_id = 0
        self.subscription_id: int | None = None

    async def _open(self) -> tuple[str, dict[str, Any] | None]:
        config = self._rest.config
        params: dict[str, Any] = {
            "apiKey": config.api_key,
            "recvWindow": config.recv_window_ms,
            "timestamp": self._rest.clocks["spot"].server_now_ms(),
        }
        payload = urlencode(sorted((k, str(v)) for k, v in params.items()))
        params["signature"] = sign(config.api_secret, payload)
        self._request_id += 1
        request = {
            "id": f"qk-sub-{self._request_id}",
            "method": "userDataStream.subscribe.signature",
            "params": params,
        }
        return self._url, request

    def _accept_reply(self, reply: Mapping[str, Any]) -> None:
        super()._accept_reply(reply)
        result = reply.get("result") or {}
        self.subscription_id = int(result.get("subscriptionId", 0))


class FuturesUserStream(_Stream):
    """USD-M user data over a listenKey stream, with the key kept alive.

    Args:
        ws_url: Stream root, ``wss://fstream.binance.com`` (the mock's ``ws://127.0.0.1:PORT``);
            ``/ws/<listenKey>`` is appended.
        rest: The REST client (``POST``/``PUT /fapi/v1/listenKey``).
        on_update: Receives every ExecutionUpdate and AlgoUpdate.
        keepalive_s: Time between ``PUT``s (Binance: the key lives 60 minutes; 30 is the advice).
        on_other: Receives other events (ACCOUNT_UPDATE...).
        on_reconnect: Awaited after every reconnect.
    """

    def __init__(
        self,
        ws_url: str,
        rest: BinanceRestClient,
        on_update: OnUpdate,
        *,
        keepalive_s: float = 1800.0,
        on_other: OnOther | None = None,
        on_reconnect: OnReconnect | None = None,
        reconnect_delay_s: float = 0.5,
    ) -> None:
        super().__init__(
            on_update,
            on_other=on_other,
            on_reconnect=on_reconnect,
            reconnect_delay_s=reconnect_delay_s,
        )
        if keepalive_s <= 0:
            raise ValueError(f"keepalive_s must be > 0, got {keepalive_s}")
        self._url = ws_url.rstrip("/")
        self._rest = rest
        self._keepalive_s = keepalive_s
        self.listen_key: str | None = None
        self.keepalives = 0
        """Successful keep-alive PUTs."""
        self.keepalive_times_ns: list[int] = []

    async def _open(self) -> tuple[str, dict[str, Any] | None]:
        body = await self._rest.request(
            "futures", "POST", "/fapi/v1/listenKey", security="USER_STREAM"
        )
        key = body.get("listenKey") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            raise UserDataError(f"POST /fapi/v1/listenKey: no listenKey in {body!r}")
        self.listen_key = key
        return f"{self._url}/ws/{key}", None

    async def _while_connected(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._keepalive_s)
            if self._stop.is_set():
                return
            try:
                await self._rest.request(
                    "futures",
                    "PUT",
                    "/fapi/v1/listenKey",
                    {"listenKey": self.listen_key or ""},
                    security="USER_STREAM",
                )
            except BinanceRejected as exc:
                if exc.code == _LISTEN_KEY_GONE:
                    # Ending here closes the socket; run() makes a new key and reconnects.
                    _log.warning("binance listenKey expired; making a new one")
                    return
                raise
            self.keepalives += 1
            self.keepalive_times_ns.append(time.monotonic_ns())
