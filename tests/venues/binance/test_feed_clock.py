"""The server clock: offset from (send, serverTime, receive) samples, best of a window."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.venues.binance.clock import ClockError, ServerClock, parse_server_time

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
MS = 1_000_000


def test_server_time_fixture_parses() -> None:
    assert (
        parse_server_time((FIXTURES / "spot_docs_examples/rest_time.json").read_bytes())
        == 1499827319559
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{", "not valid JSON"),
        (b"[1]", "expected an object"),
        (b'{"time": 1}', "missing field 'serverTime'"),
        (b'{"serverTime": "1"}', "not a ms timestamp"),
        (b'{"serverTime": -5}', "not a ms timestamp"),
        (b'{"serverTime": true}', "not a ms timestamp"),
    ],
)
def test_bad_server_time_is_refused(body: bytes, fragment: str) -> None:
    with pytest.raises(ClockError, match=fragment):
        parse_server_time(body)


def test_offset_is_server_minus_the_request_midpoint() -> None:
    clock = ServerClock(lambda: 0)
    assert clock.offset_ns == 0 and not clock.synced
    sample = clock.add_sample(sent_ns=1_000 * MS, server_ms=6_000, received_ns=1_010 * MS)
    assert sample.offset_ns == 6_000 * MS - 1_005 * MS and sample.rtt_ns == 10 * MS
    assert clock.offset_ns == 4_995 * MS and clock.to_server_ns(0) == 4_995 * MS
    # A slower sample does not move the offset; a faster one does.
    clock.add_sample(2_000 * MS, 9_000, 2_100 * MS)
    assert clock.offset_ns == 4_995 * MS
    clock.add_sample(3_000 * MS, 8_000, 3_002 * MS)
    assert clock.offset_ns == 8_000 * MS - 3_001 * MS
    with pytest.raises(ClockError, match="before sent"):
        clock.add_sample(5, 1, 4)


def test_old_samples_leave_the_window() -> None:
    clock = ServerClock(lambda: 0, window=2)
    clock.add_sample(0, 100, 2 * MS)  # fast, offset 99 ms
    clock.add_sample(0, 200, 10 * MS)
    clock.add_sample(0, 300, 10 * MS)  # the fast one is gone now
    assert clock.offset_ns == 300 * MS - 5 * MS
    with pytest.raises(ValueError, match="window"):
        ServerClock(window=0)


def test_measure_takes_samples_through_the_fetcher() -> None:
    now = [10 * MS]

    def tick() -> int:
        now[0] += MS
        return now[0]

    async def fetch() -> int:
        return 1_000

    clock = ServerClock(tick)
    offset = asyncio.run(clock.measure(fetch, samples=4))
    best = clock.best
    assert best is not None and best.rtt_ns == MS
    assert offset == 1_000 * MS - best.local_ns
    server_now = clock.server_now_ms()
    assert server_now == (now[0] + offset) // MS


@given(
    sent=st.integers(0, 2**50),
    rtt=st.integers(0, 10**10),
    true_offset_ms=st.integers(-(10**7), 10**7),
    position=st.floats(0, 1),
)
def test_error_is_within_half_the_round_trip(
    sent: int, rtt: int, true_offset_ms: int, position: float
) -> None:
    # The server read its clock at some instant inside the request.
    read_local = sent + int(rtt * position)
    server_ms = (read_local + true_offset_ms * MS) // MS
    if server_ms < 0:
        return
    clock = ServerClock(lambda: 0)
    clock.add_sample(sent, server_ms, sent + rtt)
    assert abs(clock.offset_ns - true_offset_ms * MS) <= rtt // 2 + MS + 1
