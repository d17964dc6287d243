"""The aiohttp application: routes, security, rate limits and faults around the two venues.

``MockBinance`` holds the state (venues, limiters, user streams, faults, clock) and
``build_app`` exposes it over HTTP and WebSocket. ``MockBinanceServer`` runs the app on loopback,
either on the caller's event loop (``await start()``) or on its own thread (``start_in_thread()``)
for synchronous clients such as python-binance.

Security (binance-spot-api-docs rest-api.md, VENUES.md §3.2): SIGNED endpoints need the
``X-MBX-APIKEY`` header (-2014 missing/malformed, -2015 unknown), ``timestamp`` and ``signature``
(-1102), an HMAC-SHA256 over query string + body (-1022) and ``timestamp < serverTime + 1000`` and
``serverTime - timestamp <= recvWindow`` (-1021; recvWindow defaults to 5000, at most 60000).
USER_STREAM endpoints (listenKey) need only the key.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

import orjson
from aiohttp import WSMsgType, web

from qk.venues.binance.mock import errors
from qk.venues.binance.mock.data import load_exchange_info
from qk.venues.binance.mock.faults import Faults
from qk.venues.binance.mock.futures import FuturesVenue
from qk.venues.binance.mock.params import required
from qk.venues.binance.mock.ratelimit import RateLimiter, futures_limits, spot_limits
from qk.venues.binance.mock.rules import parse_decimal, rules_from_exchange_info
from qk.venues.binance.mock.signing import rest_payload, signature_matches, ws_api_payload
from qk.venues.binance.mock.spot import SpotVenue
from qk.venues.binance.mock.userstream import UserStreamHub

if TYPE_CHECKING:
    from qk.venues.binance.mock.market import MarketReplay

Api = Literal["spot", "futures"]
Security = Literal["NONE", "USER_STREAM", "SIGNED"]
Clock = Callable[[], int]

DEFAULT_API_KEY = "mockKey" + "0" * 57
DEFAULT_API_SECRET = "mockSecret" + "0" * 54
API_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
LISTEN_KEY_RE = re.compile(r"^[A-Za-z0-9]{60,64}$")
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000


def wall_clock_ms() -> int:
    """Milliseconds since the epoch from the system clock."""
    return time.time_ns() // 1_000_000


@dataclass
class MockConfig:
    """What the mock is started with."""

    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    data_dir: Path | None = None
    spot_balances: Mapping[str, Decimal] = field(
        default_factory=lambda: {"USDT": Decimal(100_000), "BTC": Decimal(10), "ETH": Decimal(100)}
    )
    futures_wallet: Decimal = Decimal(100_000)
    spot_commission: Decimal = Decimal("0.001")
    futures_maker: Decimal = Decimal("0.0002")
    futures_taker: Decimal = Decimal("0.0004")
    spot_weight_per_minute: int = 6000
    futures_weight_per_minute: int = 2400
    ban_after_429s: int = 3
    ban_ms: int = 120_000
    clock: Clock = wall_clock_ms
    faults: Faults = field(default_factory=Faults)


@dataclass(frozen=True)
class Endpoint:
    """One REST route: which API it belongs to, its weight, security and whether it places orders."""

    api: Api
    security: Security
    weight: Callable[[Mapping[str, str]], int]
    handler: Callable[[Mapping[str, str], str], Any]
    places_order: bool = False


def _w(n: int) -> Callable[[Mapping[str, str]], int]:
    return lambda _params: n


class MockBinance:
    """The whole mock exchange state, independent of HTTP."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.config = config or MockConfig()
        self.clock = self.config.clock
        self.faults = self.config.faults
        self.hub = UserStreamHub(self.faults, self.clock)
        spot_info, futures_info = load_exchange_info(self.config.data_dir)
        self.spot_info = spot_info
        self.futures_info = futures_info
        self.spot = SpotVenue(
            rules_from_exchange_info("spot", spot_info),
            self.config.spot_balances,
            self.config.spot_commission,
            self.hub,
            self.clock,
        )
        self.futures = FuturesVenue(
            rules_from_exchange_info("futures", futures_info),
            self.config.futures_wallet,
            self.config.futures_maker,
            self.config.futures_taker,
            self.hub,
            self.clock,
        )
        spot_cfg = spot_limits(self.config.spot_weight_per_minute)
        fut_cfg = futures_limits(self.config.futures_weight_per_minute)
        for cfg in (spot_cfg, fut_cfg):
            cfg.ban_after_429s = self.config.ban_after_429s
            cfg.ban_ms = self.config.ban_ms
        self.limiters: dict[Api, RateLimiter] = {
            "spot": RateLimiter(spot_cfg),
            "futures": RateLimiter(fut_cfg),
        }

    def on_trade(
        self, symbol: str, price: object, qty: object, ts_ms: int, trade_id: int = 0
    ) -> None:
        """Feed one market trade to both venues (the MarketReplay subscription signature)."""
        price_dec = price if isinstance(price, Decimal) else Decimal(str(price))
        qty_dec = qty if isinstance(qty, Decimal) else Decimal(str(qty))
        self.spot.on_trade(symbol, price_dec, qty_dec, ts_ms)
        self.futures.on_trade(symbol, price_dec, qty_dec, ts_ms)

    def authenticate_key(self, api_key: str | None) -> None:
        """-2014 for a missing or malformed key, -2015 for one the mock does not know."""
        if not api_key or not API_KEY_RE.match(api_key):
            raise errors.bad_api_key_format()
        if api_key != self.config.api_key:
            raise errors.rejected_api_key()

    def check_timestamp(self, params: Mapping[str, str]) -> None:
        """-1102 without timestamp; -1130 for a bad recvWindow; -1021 outside the window."""
        timestamp_text = required(params, "timestamp")
        try:
            timestamp = int(timestamp_text)
        except ValueError as exc:
            raise errors.invalid_parameter("timestamp") from exc
        if timestamp > 10**14:
            timestamp //= 1000  # microsecond timestamps are accepted as well
        window = Decimal(DEFAULT_RECV_WINDOW)
        if params.get("recvWindow"):
            window = parse_decimal(params["recvWindow"], "recvWindow")
            if window <= 0 or window > MAX_RECV_WINDOW:
                raise errors.invalid_parameter("recvWindow")
        now = self.clock()
        if timestamp >= now + 1000:
            raise errors.invalid_timestamp_ahead()
        if now - timestamp > window:
            raise errors.invalid_timestamp_window()

    def exchange_info(self, api: Api, params: Mapping[str, str]) -> dict[str, Any]:
        """exchangeInfo with the mock's own limits and server time."""
        base = self.spot_info if api == "spot" else self.futures_info
        limiter = self.limiters[api].config
        rate_limits = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": limiter.weight_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": limiter.orders_per_10s,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "DAY" if api == "spot" else "MINUTE",
                "intervalNum": 1,
                "limit": limiter.orders_long,
            },
        ]
        symbols = base["symbols"]
        wanted = params.get("symbol")
        if wanted:
            symbols = [s for s in symbols if s["symbol"] == wanted]
            if not symbols:
                raise errors.bad_symbol()
        return {**base, "serverTime": self.clock(), "rateLimits": rate_limits, "symbols": symbols}


# -- handlers ------------------------------------------------------------------------------------


def _spot_endpoints(mock: MockBinance) -> dict[tuple[str, str], Endpoint]:
    spot = mock.spot

    def open_orders(params: Mapping[str, str], _key: str) -> Any:
        symbol = params.get("symbol") or None
        if symbol is not None and symbol not in spot.rules:
            raise errors.bad_symbol()
        return [spot.query_shape(o) for o in spot.engine.open_orders(symbol)]

    def all_orders(params: Mapping[str, str], _key: str) -> Any:
        rules = spot.symbol_rules(params)
        return [spot.query_shape(o) for o in spot.orders.values() if o.symbol == rules.symbol]

    def cancel_all(params: Mapping[str, str], _key: str) -> Any:
        rules = spot.symbol_rules(params)
        orders = spot.engine.open_orders(rules.symbol)
        if not orders:
            raise errors.cancel_rejected("Unknown order sent.")
        return [
            spot.cancel_order({"symbol": rules.symbol, "orderId": str(o.order_id)}) for o in orders
        ]

    def my_trades(params: Mapping[str, str], _key: str) -> Any:
        rules = spot.symbol_rules(params)
        order_id = params.get("orderId")
        return [
            spot.trade_shape(t)
            for t in spot.trades
            if t.symbol == rules.symbol and (order_id is None or str(t.order_id) == order_id)
        ]

    def listen_key(method: str) -> Callable[[Mapping[str, str], str], Any]:
        def handler(params: Mapping[str, str], api_key: str) -> Any:
            if method == "POST":
                return {"listenKey": mock.hub.create_listen_key("spot", api_key)}
            key = required(params, "listenKey")
            if method == "PUT":
                mock.hub.keepalive(key)
            else:
                mock.hub.close_listen_key(key)
            return {}

        return handler

    return {
        ("GET", "/api/v3/ping"): Endpoint("spot", "NONE", _w(1), lambda p, k: {}),
        ("GET", "/api/v3/time"): Endpoint(
            "spot", "NONE", _w(1), lambda p, k: {"serverTime": mock.clock()}
        ),
        ("GET", "/api/v3/exchangeInfo"): Endpoint(
            "spot", "NONE", _w(20), lambda p, k: mock.exchange_info("spot", p)
        ),
        ("POST", "/api/v3/order"): Endpoint(
            "spot", "SIGNED", _w(1), lambda p, k: spot.new_order(p), True
        ),
        ("GET", "/api/v3/order"): Endpoint(
            "spot",
            "SIGNED",
            _w(4),
            lambda p, k: spot.query_shape(
                spot.find_order(p, spot.symbol_rules(p).symbol, errors.no_such_order)
            ),
        ),
        ("DELETE", "/api/v3/order"): Endpoint(
            "spot", "SIGNED", _w(1), lambda p, k: spot.cancel_order(p)
        ),
        ("DELETE", "/api/v3/openOrders"): Endpoint("spot", "SIGNED", _w(1), cancel_all),
        ("POST", "/api/v3/order/cancelReplace"): Endpoint(
            "spot", "SIGNED", _w(1), lambda p, k: spot.cancel_replace(p), True
        ),
        ("GET", "/api/v3/openOrders"): Endpoint(
            "spot", "SIGNED", lambda p: 6 if p.get("symbol") else 80, open_orders
        ),
        ("GET", "/api/v3/allOrders"): Endpoint("spot", "SIGNED", _w(20), all_orders),
        ("GET", "/api/v3/account"): Endpoint(
            "spot", "SIGNED", _w(20), lambda p, k: spot.account_shape()
        ),
        ("GET", "/api/v3/myTrades"): Endpoint("spot", "SIGNED", _w(20), my_trades),
        ("POST", "/api/v3/userDataStream"): Endpoint(
            "spot", "USER_STREAM", _w(2), listen_key("POST")
        ),
        ("PUT", "/api/v3/userDataStream"): Endpoint(
            "spot", "USER_STREAM", _w(2), listen_key("PUT")
        ),
        ("DELETE", "/api/v3/userDataStream"): Endpoint(
            "spot", "USER_STREAM", _w(2), listen_key("DELETE")
        ),
    }


def _futures_endpoints(mock: MockBinance) -> dict[tuple[str, str], Endpoint]:
    fut = mock.futures

    def get_order(params: Mapping[str, str], _key: str) -> Any:
        rules = fut.symbol_rules(params)
        return fut.order_shape(fut.find_order(params, rules.symbol, errors.no_such_order))

    def open_orders(params: Mapping[str, str], _key: str) -> Any:
        symbol = params.get("symbol") or None
        if symbol is not None and symbol not in fut.rules:
            raise errors.bad_symbol()
        return [
            fut.order_shape(o)
            for o in fut.engine.open_orders(symbol)
            if o.algo_id is None or o.triggered
        ]

    def all_orders(params: Mapping[str, str], _key: str) -> Any:
        rules = fut.symbol_rules(params)
        return [
            fut.order_shape(o)
            for o in fut.orders.values()
            if o.symbol == rules.symbol and (o.algo_id is None or o.triggered)
        ]

    def user_trades(params: Mapping[str, str], _key: str) -> Any:
        rules = fut.symbol_rules(params)
        return [fut.trade_shape(t) for t in fut.trades if t.symbol == rules.symbol]

    def open_algo(params: Mapping[str, str], _key: str) -> Any:
        symbol = params.get("symbol") or None
        return [
            fut.algo_shape(o)
            for o in fut.algo_orders.values()
            if o.is_open and not o.triggered and (symbol is None or o.symbol == symbol)
        ]

    def listen_key(method: str) -> Callable[[Mapping[str, str], str], Any]:
        def handler(params: Mapping[str, str], api_key: str) -> Any:
            if method == "POST":
                return {"listenKey": mock.hub.create_listen_key("futures", api_key)}
            key = params.get("listenKey") or mock.hub.active_key("futures")
            if method == "PUT":
                mock.hub.keepalive(key)
                return {"listenKey": key}
            mock.hub.close_listen_key(key)
            return {}

        return handler

    endpoints = {
        ("GET", "/fapi/v1/ping"): Endpoint("futures", "NONE", _w(1), lambda p, k: {}),
        ("GET", "/fapi/v1/time"): Endpoint(
            "futures", "NONE", _w(1), lambda p, k: {"serverTime": mock.clock()}
        ),
        ("GET", "/fapi/v1/exchangeInfo"): Endpoint(
            "futures", "NONE", _w(1), lambda p, k: mock.exchange_info("futures", p)
        ),
        ("POST", "/fapi/v1/order"): Endpoint(
            "futures", "SIGNED", _w(0), lambda p, k: fut.new_order(p), True
        ),
        ("GET", "/fapi/v1/order"): Endpoint("futures", "SIGNED", _w(1), get_order),
        ("DELETE", "/fapi/v1/order"): Endpoint(
            "futures", "SIGNED", _w(1), lambda p, k: fut.cancel_order(p)
        ),
        ("GET", "/fapi/v1/openOrders"): Endpoint(
            "futures", "SIGNED", lambda p: 1 if p.get("symbol") else 40, open_orders
        ),
        ("GET", "/fapi/v1/allOrders"): Endpoint("futures", "SIGNED", _w(5), all_orders),
        ("GET", "/fapi/v1/userTrades"): Endpoint("futures", "SIGNED", _w(5), user_trades),
        ("POST", "/fapi/v1/leverage"): Endpoint(
            "futures", "SIGNED", _w(1), lambda p, k: fut.change_leverage(p)
        ),
        ("POST", "/fapi/v1/marginType"): Endpoint(
            "futures", "SIGNED", _w(1), lambda p, k: fut.change_margin_type(p)
        ),
        ("POST", "/fapi/v1/positionSide/dual"): Endpoint(
            "futures", "SIGNED", _w(1), lambda p, k: fut.change_position_mode(p)
        ),
        ("GET", "/fapi/v1/positionSide/dual"): Endpoint(
            "futures", "SIGNED", _w(30), lambda p, k: {"dualSidePosition": fut.account.dual_side}
        ),
        ("POST", "/fapi/v1/algoOrder"): Endpoint(
            "futures", "SIGNED", _w(0), lambda p, k: fut.new_algo_order(p), True
        ),
        ("GET", "/fapi/v1/algoOrder"): Endpoint(
            "futures", "SIGNED", _w(1), lambda p, k: fut.algo_shape(fut.find_algo(p))
        ),
        ("DELETE", "/fapi/v1/algoOrder"): Endpoint(
            "futures", "SIGNED", _w(1), lambda p, k: fut.cancel_algo(p)
        ),
        ("GET", "/fapi/v1/openAlgoOrders"): Endpoint("futures", "SIGNED", _w(1), open_algo),
        ("POST", "/fapi/v1/listenKey"): Endpoint(
            "futures", "USER_STREAM", _w(1), listen_key("POST")
        ),
        ("PUT", "/fapi/v1/listenKey"): Endpoint("futures", "USER_STREAM", _w(1), listen_key("PUT")),
        ("DELETE", "/fapi/v1/listenKey"): Endpoint(
            "futures", "USER_STREAM", _w(1), listen_key("DELETE")
        ),
    }
    for version in ("v2", "v3"):
        endpoints[("GET", f"/fapi/{version}/positionRisk")] = Endpoint(
            "futures", "SIGNED", _w(5), lambda p, k: fut.position_risk(p)
        )
        endpoints[("GET", f"/fapi/{version}/account")] = Endpoint(
            "futures", "SIGNED", _w(5), lambda p, k: fut.account_shape()
        )
        endpoints[("GET", f"/fapi/{version}/balance")] = Endpoint(
            "futures", "SIGNED", _w(5), lambda p, k: fut.balance_shape()
        )
    return endpoints


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


async def _read_params(request: web.Request) -> tuple[dict[str, str], str, str]:
    raw_query = request.rel_url.raw_query_string
    body = await request.text() if request.can_read_body else ""
    params = dict(parse_qsl(body, keep_blank_values=True))
    params.update(parse_qsl(raw_query, keep_blank_values=True))
    return params, raw_query, body


def _make_handler(
    mock: MockBinance, endpoint: Endpoint
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        limiter = mock.limiters[endpoint.api]
        now = mock.clock()
        status = 200
        body: Any
        extra: dict[str, str] = {}
        try:
            if mock.faults.delay_ms:
                await asyncio.sleep(mock.faults.delay_ms / 1000)
            params, raw_query, raw_body = await _read_params(request)
            if mock.faults.take_forced_429():
                limiter.refuse_429(now)
                raise errors.too_many_requests(limiter.config.weight_per_minute, "1m")
            limiter.admit(now, endpoint.weight(params))
            api_key = request.headers.get("X-MBX-APIKEY", "")
            if endpoint.security != "NONE":
                mock.authenticate_key(api_key)
            if endpoint.security == "SIGNED":
                payload, signature = rest_payload(raw_query, raw_body)
                if not signature:
                    raise errors.mandatory_param("signature")
                mock.check_timestamp(params)
                if not signature_matches(mock.config.api_secret, payload, signature):
                    raise errors.invalid_signature()
            if endpoint.places_order:
                limiter.admit_order(now)
            body = endpoint.handler(params, api_key)
            if endpoint.places_order and mock.faults.take_error_after_accept():
                raise errors.status_unknown(mock.faults.error_status)
        except errors.BinanceApiError as exc:
            status = exc.http_status
            body = exc.body()
            if status in (418, 429):
                extra["Retry-After"] = str(limiter.retry_after_s(now))
        headers = limiter.headers(now, endpoint.places_order)
        headers.update(extra)
        return _json(body, status, headers)

    return handler


# -- websockets ----------------------------------------------------------------------------------


async def _ws_api(mock: MockBinance, request: web.Request) -> web.WebSocketResponse:
    """``/ws-api/v3``: the user-data subscription methods of the spot WebSocket API."""
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            reply = _ws_api_reply(mock, ws, msg.data)
            await ws.send_str(orjson.dumps(reply).decode())
    finally:
        mock.hub.remove_connection(ws)
    return ws


def _ws_api_reply(mock: MockBinance, ws: web.WebSocketResponse, text: str) -> dict[str, Any]:
    try:
        request = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON Request"}}
    if not isinstance(request, dict):
        return {"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON Request"}}
    req_id = request.get("id")
    method = request.get("method")
    raw_params = request.get("params") or {}
    params = {str(k): str(v) for k, v in raw_params.items()} if isinstance(raw_params, dict) else {}
    try:
        if method == "ping":
            result: Any = {}
        elif method == "time":
            result = {"serverTime": mock.clock()}
        elif method == "userDataStream.subscribe.signature":
            mock.authenticate_key(params.get("apiKey"))
            signature = required(params, "signature")
            mock.check_timestamp(params)
            if not signature_matches(mock.config.api_secret, ws_api_payload(raw_params), signature):
                raise errors.invalid_signature()
            result = {"subscriptionId": mock.hub.add_subscriber(ws, "spot", wrapped=True)}
        elif method == "userDataStream.unsubscribe":
            sub_id = params.get("subscriptionId")
            if sub_id is None or not sub_id.isdigit() or not mock.hub.unsubscribe(ws, int(sub_id)):
                raise errors.invalid_parameter("subscriptionId")
            result = {}
        else:
            raise errors.BinanceApiError(-1020, "This operation is not supported.")
    except errors.BinanceApiError as exc:
        return {"id": req_id, "status": exc.http_status, "error": exc.body()}
    return {"id": req_id, "status": 200, "result": result}


async def _listen_key_stream(
    mock: MockBinance, request: web.Request, key: str
) -> web.StreamResponse:
    try:
        listen_key = mock.hub.require_live(key)
    except errors.BinanceApiError as exc:
        return _json(exc.body(), 400)
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    mock.hub.add_subscriber(ws, listen_key.channel, wrapped=False)
    try:
        async for _msg in ws:
            continue  # user-data sockets only send; drain client frames until it closes
    finally:
        mock.hub.remove_connection(ws)
    return ws


def build_app(mock: MockBinance, replay: MarketReplay | None = None) -> web.Application:
    """The aiohttp application serving ``mock`` (and H7's market routes when available).

    With ``replay`` (a ``qk.venues.binance.mock.market.MarketReplay``), its trades also feed the
    matching engines through ``replay.subscribe(mock.on_trade)``.
    """

    @web.middleware
    async def listen_key_paths(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # /ws/<listenKey> and /ws?listenKey= share /ws with the market streams; a listenKey is
        # 60-64 alphanumerics while stream names contain '@', so they never collide.
        path = request.path
        if path.startswith("/ws/") and LISTEN_KEY_RE.match(path[4:]):
            return await _listen_key_stream(mock, request, path[4:])
        if path in ("/ws", "/private/ws") and request.query.get("listenKey"):
            return await _listen_key_stream(mock, request, request.query["listenKey"])
        return await handler(request)

    app = web.Application(middlewares=[listen_key_paths])
    for (method, path), endpoint in {**_spot_endpoints(mock), **_futures_endpoints(mock)}.items():
        app.router.add_route(method, path, _make_handler(mock, endpoint))

    async def ws_api(request: web.Request) -> web.StreamResponse:
        return await _ws_api(mock, request)

    async def private_ws(request: web.Request) -> web.StreamResponse:
        return await _listen_key_stream(mock, request, request.match_info["key"])

    app.router.add_get("/ws-api/v3", ws_api)
    app.router.add_get("/private/ws/{key}", private_ws)
    _attach_market(app, mock, replay)

    async def on_cleanup(_app: web.Application) -> None:
        await mock.hub.close()

    app.on_cleanup.append(on_cleanup)
    return app


def _attach_market(app: web.Application, mock: MockBinance, replay: MarketReplay | None) -> None:
    if replay is None:
        return
    from qk.venues.binance.mock.market import add_market_routes

    replay.subscribe(mock.on_trade)
    add_market_routes(app, replay)


class MockBinanceServer:
    """Runs a :class:`MockBinance` on 127.0.0.1, on the current loop or on a thread of its own."""

    def __init__(
        self,
        config: MockConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        replay: MarketReplay | None = None,
    ) -> None:
        self.mock = MockBinance(config)
        self.host = host
        self.port = port
        self._replay = replay
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def serves_market_streams(self) -> bool:
        """Whether a MarketReplay's streams are attached."""
        return self._replay is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT`` once started."""
        return f"ws://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve on the running loop; ``port`` becomes the bound port."""
        runner = web.AppRunner(build_app(self.mock, self._replay), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])
        self._runner = runner
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Close every connection and the listening socket."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self) -> MockBinanceServer:
        """Serve from a daemon thread with its own loop; returns once the port is bound."""
        loop = asyncio.new_event_loop()
        started: Future[None] = Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # handed to the starting thread
                started.set_exception(exc)
                return
            started.set_result(None)
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="mock-binance", daemon=True)
        self._thread.start()
        started.result(timeout=10)
        return self

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop (thread mode) and return its result."""
        loop = self._loop
        if loop is None or self._thread is None:
            return fn()

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    def push_trade(
        self, symbol: str, price: object, qty: object, ts_ms: int, trade_id: int = 0
    ) -> None:
        """Feed a trade from any thread."""
        self.call(lambda: self.mock.on_trade(symbol, price, qty, ts_ms, trade_id))

    def drop_user_connections(self) -> None:
        """Close every user-data connection (the drop-socket fault), from any thread."""
        loop = self._loop
        if loop is not None and self._thread is not None:
            asyncio.run_coroutine_threadsafe(self.mock.hub.drop_all(), loop).result(timeout=10)

    def stop_thread(self) -> None:
        """Stop the thread started by :meth:`start_in_thread`."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> MockBinanceServer:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()
