"""Request-weight and order-count limits with Binance's headers, 429 and 418 answers.

binance-spot-api-docs rest-api.md "LIMITS": every response carries ``X-MBX-USED-WEIGHT-1M``;
order responses carry ``X-MBX-ORDER-COUNT-10S`` and ``-1D`` (futures: ``-10S`` and ``-1M``,
VENUES.md §4). Past a limit the answer is HTTP 429 with ``Retry-After`` (seconds) and code -1003
(-1015 for orders); an IP that keeps sending after 429s is banned with HTTP 418. The mock bans after
``ban_after_429s`` consecutive 429s (the real threshold is not published) for ``ban_ms``. All
clients of the mock share one IP (loopback).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qk.venues.binance.mock import errors

MINUTE_MS = 60_000
TEN_S_MS = 10_000
DAY_MS = 86_400_000


@dataclass
class RateLimitConfig:
    """Limits for one API (spot or futures)."""

    weight_per_minute: int
    orders_per_10s: int
    orders_long: int
    orders_long_interval_ms: int
    orders_long_label: str
    ban_after_429s: int = 3
    ban_ms: int = 120_000


@dataclass
class _Window:
    start: int = -1
    count: int = 0

    def add(self, now_ms: int, interval_ms: int, amount: int) -> int:
        start = now_ms - now_ms % interval_ms
        if start != self.start:
            self.start = start
            self.count = 0
        self.count += amount
        return self.count

    def current(self, now_ms: int, interval_ms: int) -> int:
        return self.count if self.start == now_ms - now_ms % interval_ms else 0


@dataclass
class RateLimiter:
    """Counts weight and orders for one API and decides 429/418."""

    config: RateLimitConfig
    _weight: _Window = field(default_factory=_Window)
    _orders_10s: _Window = field(default_factory=_Window)
    _orders_long: _Window = field(default_factory=_Window)
    _consecutive_429: int = 0
    banned_until_ms: int = 0

    def admit(self, now_ms: int, weight: int) -> None:
        """Charge ``weight``; raise 418 while banned or 429 past the weight limit."""
        if now_ms < self.banned_until_ms:
            raise errors.ip_banned(self.banned_until_ms)
        used = self._weight.add(now_ms, MINUTE_MS, weight)
        if used > self.config.weight_per_minute:
            self.refuse_429(now_ms)
            raise errors.too_many_requests(self.config.weight_per_minute, "1m")
        self._consecutive_429 = 0

    def refuse_429(self, now_ms: int) -> None:
        """Count one 429 answer; enough in a row start a ban (the next request gets 418)."""
        self._consecutive_429 += 1
        if self._consecutive_429 >= self.config.ban_after_429s:
            self.banned_until_ms = now_ms + self.config.ban_ms
            self._consecutive_429 = 0

    def admit_order(self, now_ms: int) -> None:
        """Count one new order against the order-count limits; -1015 with 429 past them."""
        ten = self._orders_10s.add(now_ms, TEN_S_MS, 1)
        long = self._orders_long.add(now_ms, self.config.orders_long_interval_ms, 1)
        if ten > self.config.orders_per_10s:
            self.refuse_429(now_ms)
            raise errors.too_many_orders(self.config.orders_per_10s, "10s")
        if long > self.config.orders_long:
            self.refuse_429(now_ms)
            raise errors.too_many_orders(self.config.orders_long, self.config.orders_long_label)

    def retry_after_s(self, now_ms: int) -> int:
        """Seconds until a request can succeed: the ban's end, else the next minute."""
        if now_ms < self.banned_until_ms:
            return max(1, -(-(self.banned_until_ms - now_ms) // 1000))
        return max(1, -(-(MINUTE_MS - now_ms % MINUTE_MS) // 1000))

    def headers(self, now_ms: int, with_orders: bool) -> dict[str, str]:
        """``X-MBX-USED-WEIGHT-1M`` and, for order endpoints, the order-count headers."""
        out = {"X-MBX-USED-WEIGHT-1M": str(self._weight.current(now_ms, MINUTE_MS))}
        if with_orders:
            out["X-MBX-ORDER-COUNT-10S"] = str(self._orders_10s.current(now_ms, TEN_S_MS))
            label = self.config.orders_long_label.upper()
            out[f"X-MBX-ORDER-COUNT-{label}"] = str(
                self._orders_long.current(now_ms, self.config.orders_long_interval_ms)
            )
        return out


def spot_limits(weight_per_minute: int = 6000) -> RateLimitConfig:
    """Spot defaults: the current doc example (6000 weight/min), 100 orders/10 s, 200 000/day."""
    return RateLimitConfig(weight_per_minute, 100, 200_000, DAY_MS, "1d")


def futures_limits(weight_per_minute: int = 2400) -> RateLimitConfig:
    """USD-M defaults: 2400 weight/min, 300 orders/10 s, 1200 orders/min."""
    return RateLimitConfig(weight_per_minute, 300, 1200, MINUTE_MS, "1m")
