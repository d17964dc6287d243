"""A small asyncio REST client for Binance spot (``/api/v3``) and USD-M futures (``/fapi``).

One aiohttp session with keep-alive serves both APIs. SIGNED requests carry ``timestamp`` (the
server's clock: local time plus the offset :class:`~qk.venues.binance.clock.ServerClock`
measured), ``recvWindow`` and ``signature = hex(HMAC_SHA256(secret, query string))`` as the last
parameter (VENUES.md §3.2); every parameter travels in the query string, which Binance accepts for
every method. The weight headers of every response feed a
:class:`~qk.venues.binance.ratelimit.RateLimitTracker` per API.

What an answer means for a request that changes state (VENUES.md §3.4):

- 2XX: done; the JSON body is returned.
- 4XX (not 418/429): the venue refused it; nothing happened. :class:`BinanceRejected` carries
  Binance's ``code``/``msg`` (and cancelReplace's ``data``).
- 5XX, a timeout or a connection lost after sending: the outcome is unknown.
  :class:`BinanceOutcomeUnknown`; the caller must find out by querying, never by resending.
- 429: nothing happened; wait ``Retry-After`` and try again (at most ``max_429_retries`` times,
  then :class:`BinanceRateLimited`).
- 418: the IP is banned; :class:`BinanceBanned`, and no request leaves until the ban ends.

A connection that could not be opened (:class:`BinanceConnectError`) sent nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal
from urllib.parse import urlencode

import aiohttp
import orjson
import yarl

from qk.venues.binance.clock import ServerClock, parse_server_time
from qk.venues.binance.ratelimit import (
    DEFAULT_FUTURES_LIMITS,
    DEFAULT_SPOT_LIMITS,
    RateLimits,
    RateLimitTracker,
)

__all__ = [
    "Api",
    "BinanceBanned",
    "BinanceConnectError",
    "BinanceError",
    "BinanceOutcomeUnknown",
    "BinanceRateLimited",
    "BinanceRejected",
    "BinanceRestClient",
    "RestConfig",
    "Security",
    "encode_params",
    "sign",
]

Api = Literal["spot", "futures"]
Security = Literal["NONE", "USER_STREAM", "SIGNED"]
Params = Mapping[str, str | int | bool | Decimal]

SPOT_URL: Final = "https://api.binance.com"
FUTURES_URL: Final = "https://fapi.binance.com"
_TIME_PATH: Final[dict[Api, str]] = {"spot": "/api/v3/time", "futures": "/fapi/v1/time"}
_INVALID_TIMESTAMP: Final = -1021


class BinanceError(RuntimeError):
    """Base of the client's errors.

    Attributes:
        api: ``spot`` or ``futures``.
        path: The request path.
        http_status: HTTP status, 0 when no answer came.
        code: Binance's error code, 0 when none.
        msg: Binance's message (or what went wrong locally).
    """

    def __init__(
        self, api: Api, path: str, http_status: int, code: int, msg: str, detail: str = ""
    ) -> None:
        where = f"binance {api} {path}"
        status = f"HTTP {http_status}" if http_status else "no answer"
        super().__init__(f"{where}: {status} code {code}: {msg}{detail}")
        self.api = api
        self.path = path
        self.http_status = http_status
        self.code = code
        self.msg = msg


class BinanceRejected(BinanceError):
    """A 4XX answer: the venue refused the request and did nothing.

    Attributes:
        data: Extra payload (cancelReplace puts both halves' results there), else None.
    """

    def __init__(
        self, api: Api, path: str, http_status: int, code: int, msg: str, data: Any = None
    ) -> None:
        super().__init__(api, path, http_status, code, msg)
        self.data = data


class BinanceOutcomeUnknown(BinanceError):
    """A 5XX, a timeout or a dropped connection after sending: the request may have executed."""


class BinanceConnectError(BinanceError):
    """The connection could not be opened: nothing was sent."""


class BinanceRateLimited(BinanceError):
    """Still 429 after the allowed retries; nothing was executed.

    Attributes:
        retry_at_ms: Server time before which Binance asked for no further request.
    """

    def __init__(self, api: Api, path: str, code: int, msg: str, retry_at_ms: int) -> None:
        super().__init__(api, path, 429, code, msg, f" (retry after server time {retry_at_ms})")
        self.retry_at_ms = retry_at_ms


class BinanceBanned(BinanceError):
    """The IP is banned (418); nothing is sent until ``until_ms`` (server time).

    Attributes:
        until_ms: End of the ban, server time in ms.
        sent: Whether this request reached the venue (False: refused locally during a ban).
    """

    def __init__(self, api: Api, path: str, code: int, msg: str, until_ms: int, sent: bool):
        super().__init__(
            api, path, 418 if sent else 0, code, msg, f" (banned until server time {until_ms})"
        )
        self.until_ms = until_ms
        self.sent = sent


@dataclass(frozen=True)
class RestConfig:
    """How to reach and authenticate with Binance.

    Attributes:
        api_key: The API key (``X-MBX-APIKEY``); reaches only the gateway process.
        api_secret: The HMAC secret.
        spot_url: Spot REST root (``/api/v3`` is appended by the paths).
        futures_url: USD-M REST root.
        recv_window_ms: ``recvWindow`` of signed requests (Binance's default 5000, at most 60000).
        timeout_s: Total time allowed per request; Binance's own API timeout is 10 s.
        max_429_retries: How many 429 answers a request may receive before giving up.
        spot_limits: Spot limits until exchangeInfo says otherwise.
        futures_limits: USD-M limits until exchangeInfo says otherwise.
    """

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    spot_url: str = SPOT_URL
    futures_url: str = FUTURES_URL
    recv_window_ms: int = 5000
    timeout_s: float = 10.0
    max_429_retries: int = 2
    spot_limits: RateLimits = DEFAULT_SPOT_LIMITS
    futures_limits: RateLimits = DEFAULT_FUTURES_LIMITS

    def __post_init__(self) -> None:
        if not 0 < self.recv_window_ms <= 60_000:
            raise ValueError(f"recv_window_ms must be in 1..60000, got {self.recv_window_ms}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_429_retries < 0:
            raise ValueError(f"max_429_retries must be >= 0, got {self.max_429_retries}")


def sign(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``payload`` with ``secret`` (VENUES.md §3.2)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _text(value: str | int | bool | Decimal) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def encode_params(params: Params) -> str:
    """Percent-encode parameters in the given order (the order the signature covers)."""
    return urlencode([(key, _text(value)) for key, value in params.items()])


class BinanceRestClient:
    """Signed and unsigned requests to spot and USD-M, with rate limits and typed errors.

    Use as ``async with BinanceRestClient(config) as client:`` (one aiohttp session).

    Args:
        config: Endpoints, keys and limits.
        now_ns: Local wall clock (tests pass their own).
        sleep: Awaitable sleep used for rate-limit waits.
    """

    def __init__(
        self,
        config: RestConfig,
        *,
        now_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.clocks: dict[Api, ServerClock] = {
            "spot": ServerClock(now_ns),
            "futures": ServerClock(now_ns),
        }
        self.limits: dict[Api, RateLimitTracker] = {
            "spot": RateLimitTracker(config.spot_limits, self.clocks["spot"].server_now_ms, sleep),
            "futures": RateLimitTracker(
                config.futures_limits, self.clocks["futures"].server_now_ms, sleep
            ),
        }
        self._now_ns = now_ns
        self._session: aiohttp.ClientSession | None = None
        self.requests_sent = 0
        """Requests that left this client (for tests and metrics)."""

    async def __aenter__(self) -> BinanceRestClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the session (idempotent)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
                connector=aiohttp.TCPConnector(limit=16, keepalive_timeout=60),
                json_serialize=lambda obj: orjson.dumps(obj).decode(),
            )

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def set_limits(self, api: Api, limits: RateLimits) -> None:
        """Replace an API's limits (from exchangeInfo ``rateLimits``)."""
        self.limits[api].limits = limits

    async def sync_time(self, api: Api, samples: int = 3) -> int:
        """Measure the server time offset of ``api``; returns it in ns."""

        async def fetch() -> int:
            body = await self.request(api, "GET", _TIME_PATH[api])
            return parse_server_time(body)

        return await self.clocks[api].measure(fetch, samples)

    def _base(self, api: Api) -> str:
        return self.config.spot_url if api == "spot" else self.config.futures_url

    def _query(self, api: Api, params: Params | None, security: Security) -> str:
        query = encode_params(params or {})
        if security != "SIGNED":
            return query
        stamp = {
            "recvWindow": self.config.recv_window_ms,
            "timestamp": self.clocks[api].server_now_ms(),
        }
        query = f"{query}&{encode_params(stamp)}" if query else encode_params(stamp)
        return f"{query}&signature={sign(self.config.api_secret, query)}"

    async def request(
        self,
        api: Api,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        security: Security = "NONE",
        weight: int = 1,
        is_order: bool = False,
    ) -> Any:
        """Send one request and return its decoded JSON body.

        Args:
            api: ``spot`` or ``futures``.
            method: GET, POST, PUT or DELETE.
            path: ``/api/v3/...`` or ``/fapi/v1/...``.
            params: Request parameters, in the order to send them.
            security: NONE, USER_STREAM (key header) or SIGNED (key, timestamp, signature).
            weight: The endpoint's request weight, for the pre-emptive wait.
            is_order: Whether it counts as a new order.

        Raises:
            BinanceRejected: 4XX.
            BinanceOutcomeUnknown: 5XX, timeout, connection lost after sending.
            BinanceConnectError: Could not connect; nothing was sent.
            BinanceRateLimited: 429 after the allowed retries.
            BinanceBanned: 418, or a ban still running (nothing sent).
        """
        if self._session is None:
            raise RuntimeError("BinanceRestClient is not open: use 'async with' or open()")
        tracker = self.limits[api]
        retries_429 = 0
        resynced = False
        while True:
            if tracker.banned():
                raise BinanceBanned(
                    api, path, 0, "IP banned; not sending", tracker.banned_until_ms, False
                )
            await tracker.acquire(weight, is_order)
            query = self._query(api, params, security)
            url = self._base(api) + path + (f"?{query}" if query else "")
            headers = {"X-MBX-APIKEY": self.config.api_key} if security != "NONE" else {}
            status, body, resp_headers = await self._send(api, method, path, url, headers)
            tracker.observe(status, resp_headers)
            if 200 <= status < 300:
                return body
            code, msg, data = _error_fields(body)
            if status == 429:
                if retries_429 < self.config.max_429_retries:
                    retries_429 += 1
                    continue
                raise BinanceRateLimited(api, path, code, msg, tracker.retry_at_ms)
            if status == 418:
                raise BinanceBanned(api, path, code, msg, tracker.banned_until_ms, True)
            if status >= 500:
                raise BinanceOutcomeUnknown(api, path, status, code, msg)
            if code == _INVALID_TIMESTAMP and security == "SIGNED" and not resynced:
                # A -1021 is a refusal (nothing executed), so after re-measuring the offset the
                # same request may go again once.
                resynced = True
                await self.sync_time(api)
                continue
            raise BinanceRejected(api, path, status, code, msg, data)

    async def _send(
        self, api: Api, method: str, path: str, url: str, headers: Mapping[str, str]
    ) -> tuple[int, Any, Mapping[str, str]]:
        assert self._session is not None
        self.requests_sent += 1
        try:
            # encoded=True: the bytes on the wire must be exactly the signed query string.
            target = yarl.URL(url, encoded=True)
            async with self._session.request(method, target, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
                resp_headers = resp.headers
        except TimeoutError:
            raise BinanceOutcomeUnknown(
                api, path, 0, 0, f"no answer within {self.config.timeout_s:g} s"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise BinanceConnectError(api, path, 0, 0, f"cannot connect: {exc}") from None
        except aiohttp.ClientError as exc:
            raise BinanceOutcomeUnknown(api, path, 0, 0, f"connection lost: {exc}") from None
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            if status >= 500:
                raise BinanceOutcomeUnknown(api, path, status, 0, "non-JSON body") from None
            raise BinanceRejected(api, path, status, 0, f"non-JSON body: {raw[:200]!r}") from None
        return status, body, resp_headers


def _error_fields(body: Any) -> tuple[int, str, Any]:
    if isinstance(body, dict):
        code = body.get("code")
        msg = body.get("msg")
        return (
            int(code) if isinstance(code, int) else 0,
            str(msg) if msg is not None else "",
            body.get("data"),
        )
    return 0, str(body)[:200], None
