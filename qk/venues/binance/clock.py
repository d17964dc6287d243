"""The offset between the local wall clock and Binance's server clock.

Binance answers ``GET /api/v3/time`` (spot) and ``GET /fapi/v1/time`` (USD-M futures) with
``{"serverTime": <ms>}``. One sample is: note local time ``t0``, ask, note ``t1``; the server read
its clock somewhere in between, so ``offset ≈ serverTime - (t0 + t1) / 2`` with an error of at
most half the round trip. Of the recent samples the clock keeps the one with the shortest round
trip, because its bound is the tightest.

The feed uses the offset to date messages that carry no venue time (spot bookTicker, spot depth
snapshots); a signed REST client uses it to stamp ``timestamp`` inside ``recvWindow``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["ClockError", "OffsetSample", "ServerClock", "parse_server_time"]

_MS_TO_NS = 1_000_000
_MAX_MS = (2**63 - 1) // _MS_TO_NS
DEFAULT_WINDOW = 8
"""Samples remembered; the best of them sets the offset."""


class ClockError(ValueError):
    """A server time response is malformed, or a sample is impossible (negative round trip)."""


@dataclass(frozen=True, slots=True)
class OffsetSample:
    """One measurement.

    Attributes:
        offset_ns: Server time minus local time, ns.
        rtt_ns: Round trip of the request, ns; the offset is good to ±rtt/2.
        server_ms: What the server said.
        local_ns: Local time at the midpoint of the request, ns.
    """

    offset_ns: int
    rtt_ns: int
    server_ms: int
    local_ns: int


def parse_server_time(body: bytes | str | Any) -> int:
    """``{"serverTime": <ms>}`` → ms.

    Raises:
        ClockError: Not JSON, not an object, or ``serverTime`` missing or not a valid ms time.
    """
    if isinstance(body, bytes | str):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ClockError(f"server time response: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ClockError(f"server time response: expected an object, got {type(body).__name__}")
    if "serverTime" not in body:
        raise ClockError("server time response: missing field 'serverTime'")
    value = body["serverTime"]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_MS:
        raise ClockError(f"server time response: 'serverTime' = {value!r} is not a ms timestamp")
    return value


class ServerClock:
    """Estimates and applies the server time offset.

    Args:
        now_ns: The local wall clock (``time.time_ns``; tests pass their own).
        window: Samples remembered.
    """

    def __init__(
        self, now_ns: Callable[[], int] = time.time_ns, *, window: int = DEFAULT_WINDOW
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self._now_ns = now_ns
        self._samples: deque[OffsetSample] = deque(maxlen=window)
        self._best: OffsetSample | None = None

    @property
    def offset_ns(self) -> int:
        """Server minus local time, ns (0 before the first sample)."""
        return self._best.offset_ns if self._best is not None else 0

    @property
    def best(self) -> OffsetSample | None:
        """The sample the offset comes from (shortest round trip of the window)."""
        return self._best

    @property
    def synced(self) -> bool:
        """True once a sample was taken."""
        return self._best is not None

    def add_sample(self, sent_ns: int, server_ms: int, received_ns: int) -> OffsetSample:
        """Record one request: local send time, the server's answer, local receive time.

        Raises:
            ClockError: ``received_ns`` is before ``sent_ns``.
        """
        rtt = received_ns - sent_ns
        if rtt < 0:
            raise ClockError(f"server time sample: received {received_ns} before sent {sent_ns}")
        midpoint = sent_ns + rtt // 2
        sample = OffsetSample(server_ms * _MS_TO_NS - midpoint, rtt, server_ms, midpoint)
        self._samples.append(sample)
        # Newest first, so that among equal round trips the latest reading wins (clocks drift).
        self._best = min(reversed(self._samples), key=lambda s: s.rtt_ns)
        return sample

    async def measure(self, fetch_server_ms: Callable[[], Awaitable[int]], samples: int = 3) -> int:
        """Take ``samples`` measurements with ``fetch_server_ms`` (one REST round trip each).

        Returns:
            The offset afterwards, ns.
        """
        for _ in range(samples):
            sent = self._now_ns()
            server_ms = await fetch_server_ms()
            self.add_sample(sent, server_ms, self._now_ns())
        return self.offset_ns

    def to_server_ns(self, local_ns: int) -> int:
        """A local wall-clock time as the server's clock would read it, ns."""
        return local_ns + self.offset_ns

    def server_now_ns(self) -> int:
        """Now on the server's clock, ns."""
        return self.to_server_ns(self._now_ns())

    def server_now_ms(self) -> int:
        """Now on the server's clock, ms (what a signed request's ``timestamp`` wants)."""
        return self.server_now_ns() // _MS_TO_NS
