"""Client-side view of Binance's request-weight and order-count limits.

Binance counts weight per IP over the server's calendar minute and new orders per account over
10 s and a day (spot) or a minute (USD-M); every response says how much of each is used
(``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``, ``-1D``/``-1M``; VENUES.md §3.4, §4). The
tracker keeps the latest figures, adds what it lets out before the next answer, and makes a
request wait for the next window rather than cross a limit. After a 429 nothing leaves before
``Retry-After`` has passed; after a 418 nothing leaves at all until the ban ends, because every
further request while banned lengthens the ban (2 minutes to 3 days).

Windows are read on the server's clock (the caller passes the server-time function), since that
is the clock Binance resets its counters on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_FUTURES_LIMITS",
    "DEFAULT_SPOT_LIMITS",
    "RateLimitTracker",
    "RateLimits",
    "limits_from_exchange_info",
]

MINUTE_MS = 60_000
TEN_SECONDS_MS = 10_000
DAY_MS = 86_400_000
_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": MINUTE_MS, "HOUR": 3_600_000, "DAY": DAY_MS}


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits of one API (spot or USD-M).

    Attributes:
        weight_per_minute: REQUEST_WEIGHT per minute.
        orders_per_10s: ORDERS per 10 seconds.
        orders_long: ORDERS per the long interval.
        orders_long_ms: The long interval (a day on spot, a minute on USD-M).
        weight_reserve: Weight kept unused, so that requests sent by other processes on the
            same IP between two of our responses do not tip the minute over.
    """

    weight_per_minute: int
    orders_per_10s: int
    orders_long: int
    orders_long_ms: int
    weight_reserve: int = 0

    def __post_init__(self) -> None:
        for name in ("weight_per_minute", "orders_per_10s", "orders_long", "orders_long_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"rate limit {name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.weight_reserve < self.weight_per_minute:
            raise ValueError(
                f"weight_reserve must be in 0..{self.weight_per_minute - 1}, "
                f"got {self.weight_reserve}"
            )


DEFAULT_SPOT_LIMITS = RateLimits(6000, 100, 200_000, DAY_MS, 60)
"""Spot: the documented example 6000 weight/min (VENUES.md §3.4); order counts as the mock's."""
DEFAULT_FUTURES_LIMITS = RateLimits(2400, 300, 1200, MINUTE_MS, 24)
"""USD-M: 2400 weight/min and 1200 orders/min (NautilusTrader's defaults, VENUES.md §4)."""


def limits_from_exchange_info(info: Mapping[str, Any], weight_reserve: int = 0) -> RateLimits:
    """Read ``rateLimits`` of an exchangeInfo answer.

    Raises:
        ValueError: No REQUEST_WEIGHT or ORDERS entries, or an entry with a bad interval.
    """
    weight: int | None = None
    orders: list[tuple[int, int]] = []
    for index, entry in enumerate(info.get("rateLimits", [])):
        try:
            interval = _INTERVAL_MS[str(entry["interval"])] * int(entry["intervalNum"])
            limit = int(entry["limit"])
            kind = str(entry["rateLimitType"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"exchangeInfo rateLimits[{index}] is malformed: {exc!r}") from None
        if kind == "REQUEST_WEIGHT" and interval == MINUTE_MS:
            weight = limit
        elif kind == "ORDERS":
            orders.append((interval, limit))
    short = [limit for interval, limit in orders if interval == TEN_SECONDS_MS]
    long = [(interval, limit) for interval, limit in orders if interval > TEN_SECONDS_MS]
    if weight is None or not short or not long:
        raise ValueError(
            "exchangeInfo rateLimits lacks REQUEST_WEIGHT per minute or the ORDERS limits "
            f"(got {info.get('rateLimits')!r})"
        )
    long_ms, long_limit = max(long)
    # A reserve meant for a large budget must not swallow a small one.
    return RateLimits(weight, short[0], long_limit, long_ms, min(weight_reserve, weight // 10))


class RateLimitTracker:
    """Weight and order counts of one API, and the waits they call for.

    Args:
        limits: The API's limits.
        now_ms: Server time in ms.
        sleep: Awaitable sleep in seconds (tests pass one that advances their clock).
    """

    def __init__(
        self,
        limits: RateLimits,
        now_ms: Callable[[], int],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._now_ms = now_ms
        self._sleep = sleep
        self._weight_window = -1
        self._weight = 0
        self._short_window = -1
        self._short = 0
        self._long_window = -1
        self._long = 0
        self.retry_at_ms = 0
        """No request before this server time (set by a 429's Retry-After)."""
        self.banned_until_ms = 0
        """The IP is banned until this server time (set by a 418)."""
        self.waited_s: list[float] = []
        """Every wait this tracker imposed, in seconds (for metrics and tests)."""

    # ------------------------------------------------------------------------- state
    @property
    def used_weight(self) -> int:
        """Weight used in the current minute, as far as this tracker knows."""
        return self._weight if self._weight_window == self._now_ms() // MINUTE_MS else 0

    @property
    def order_count_10s(self) -> int:
        """Orders placed in the current 10-second window, as far as this tracker knows."""
        return self._short if self._short_window == self._now_ms() // TEN_SECONDS_MS else 0

    def banned(self) -> bool:
        """Whether a 418 ban is still running."""
        return self._now_ms() < self.banned_until_ms

    # ------------------------------------------------------------------------- before a request
    async def acquire(self, weight: int, is_order: bool) -> None:
        """Wait until a request of ``weight`` (and an order, if it is one) fits, then count it.

        The caller checks :meth:`banned` first; a ban is not waited out here because that can
        take days.
        """
        while True:
            now = self._now_ms()
            wait_ms = 0
            if now < self.retry_at_ms:
                wait_ms = self.retry_at_ms - now
            else:
                self._roll(now)
                budget = self.limits.weight_per_minute - self.limits.weight_reserve
                if weight and self._weight + weight > budget and self._weight > 0:
                    wait_ms = MINUTE_MS - now % MINUTE_MS
                elif is_order and self._short + 1 > self.limits.orders_per_10s:
                    wait_ms = TEN_SECONDS_MS - now % TEN_SECONDS_MS
                elif is_order and self._long + 1 > self.limits.orders_long:
                    wait_ms = self.limits.orders_long_ms - now % self.limits.orders_long_ms
            if wait_ms <= 0:
                break
            self.waited_s.append(wait_ms / 1000)
            await self._sleep(wait_ms / 1000)
        self._weight += weight
        if is_order:
            self._short += 1
            self._long += 1

    def _roll(self, now: int) -> None:
        if self._weight_window != now // MINUTE_MS:
            self._weight_window, self._weight = now // MINUTE_MS, 0
        if self._short_window != now // TEN_SECONDS_MS:
            self._short_window, self._short = now // TEN_SECONDS_MS, 0
        if self._long_window != now // self.limits.orders_long_ms:
            self._long_window, self._long = now // self.limits.orders_long_ms, 0

    # ------------------------------------------------------------------------- after a response
    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Take the counts of a response's headers, and a 429's or 418's ``Retry-After``."""
        now = self._now_ms()
        self._roll(now)
        used = _header_int(headers, "X-MBX-USED-WEIGHT-1M")
        if used is not None:
            self._weight = used
        short = _header_int(headers, "X-MBX-ORDER-COUNT-10S")
        if short is not None:
            self._short = short
        for name in ("X-MBX-ORDER-COUNT-1D", "X-MBX-ORDER-COUNT-1M"):
            long = _header_int(headers, name)
            if long is not None:
                self._long = long
        if status in (418, 429):
            retry_after = _header_int(headers, "Retry-After")
            # Without the header, a minute is the documented unit of the weight window.
            delay_ms = (retry_after if retry_after is not None else 60) * 1000
            if status == 418:
                self.banned_until_ms = max(self.banned_until_ms, now + delay_ms)
            self.retry_at_ms = max(self.retry_at_ms, now + delay_ms)


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
