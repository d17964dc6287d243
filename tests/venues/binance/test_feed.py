"""The Binance feed against the mock market (all on loopback, port 0, started here): records equal
to parsing the wire messages directly, the local book (spot and futures procedures) against the
mock's and an offline book, reconnects without duplicates, gaps, stalls, duplicates, reorders,
limits, pings, the 24-hour disconnect, serverShutdown, back-off and the server clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import orjson
import pytest
import websockets

from qk.books import BookSide, BookState, OrderBook
from qk.instruments import Instrument
from qk.schemas.enums import AssetClass, InstrumentKind, RecordType, Venue
from qk.venues.binance.feed import (
    BinanceFeed,
    DepthOutput,
    FeedConfig,
    FeedConfigError,
    FeedEvent,
    FeedEventKind,
    SubscriptionLimitError,
    stream_names,
)
from qk.venues.binance.mock.market import (
    Market,
    MarketLimits,
    MarketReplay,
    MarketServer,
    ReplayEvent,
    ReplayEventKind,
    load_recorded_quotes,
    load_recorded_trades,
)
from qk.venues.binance.parse import (
    SymbolTable,
    parse_depth_snapshot,
    parse_depth_update,
    parse_trade,
    parse_trades,
)
from qk.venues.binance.streams import StreamKind, parse_book_ticker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
SPOT_BTC = Instrument(
    instrument_id=1,
    venue=Venue.BINANCE,
    symbol="BTCUSDT",
    asset_class=AssetClass.CRYPTO,
    kind=InstrumentKind.SPOT,
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.000001"),  # the 2021 recording has 6-decimal quantities
    price_precision=2,
    size_precision=6,
    currency="USDT",
)
SPOT_ETH = Instrument(
    instrument_id=2,
    venue=Venue.BINANCE,
    symbol="ETHUSDT",
    asset_class=AssetClass.CRYPTO,
    kind=InstrumentKind.SPOT,
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.00001"),
    price_precision=2,
    size_precision=5,
    currency="USDT",
)
USDM_BTC = Instrument(
    instrument_id=5,
    venue=Venue.BINANCE_USDM,
    symbol="BTCUSDT",
    asset_class=AssetClass.CRYPTO,
    kind=InstrumentKind.PERPETUAL,
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.001"),
    price_precision=2,
    size_precision=3,
    currency="USDT",
)
ALL_KINDS = (StreamKind.TRADE, StreamKind.AGG_TRADE, StreamKind.BOOK_TICKER, StreamKind.DEPTH_100MS)


@dataclass
class Run:
    replay: MarketReplay
    server: MarketServer
    feed: BinanceFeed
    task: asyncio.Task[None]
    records: list[np.ndarray] = field(default_factory=list)

    def of(self, record_type: RecordType) -> np.ndarray:
        chosen = [r for r in self.records if r["type"][0] == record_type]
        return np.concatenate(chosen) if chosen else np.zeros(0)

    def events(self, kind: FeedEventKind) -> list[FeedEvent]:
        return [e for e in self.feed.events if e.kind is kind]


async def until(predicate: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(
    replay: MarketReplay, instruments: Iterable[Instrument] = (SPOT_BTC,), **config: Any
) -> AsyncIterator[Run]:
    async with MarketServer(replay) as server:
        records: list[np.ndarray] = []
        options: dict[str, Any] = {
            "seed": 7,
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.2,
            **config,
        }
        if replay.market is Market.USDM:
            options.setdefault("venue", Venue.BINANCE_USDM)
        feed = BinanceFeed(
            FeedConfig(ws_url=server.ws_url, rest_url=server.rest_url, **options),
            instruments,
            records.append,
        )
        task = asyncio.create_task(feed.run())
        run = Run(replay, server, feed, task, records)
        try:
            yield run
        finally:
            feed.stop()
            with contextlib.suppress(Exception):
                await task


def go(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def _book_levels(book: OrderBook) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    bids = book.depth(BookSide.BID, 10_000)
    asks = book.depth(BookSide.ASK, 10_000)
    return list(zip(bids[0].tolist(), bids[1].tolist(), strict=True)), list(
        zip(asks[0].tolist(), asks[1].tolist(), strict=True)
    )


def _mock_book(replay: MarketReplay, instrument: Instrument) -> OrderBook:
    book = OrderBook.for_instrument(instrument)
    snapshot = replay.snapshot(instrument.symbol, 10_000)
    book.on_snapshot(
        parse_depth_snapshot(snapshot, instrument.price_precision, instrument.size_precision)
    )
    return book


def _without(records: np.ndarray, *names: str) -> np.ndarray:
    copy = records.copy()
    for name in names:
        copy[name] = 0
    return copy


def test_records_equal_parsing_the_wire_messages_directly() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])
    trades = load_recorded_trades(FIXTURES / "recorded_market_data/btcusdt-trades.csv", "BTCUSDT")[
        :400
    ]
    quotes = load_recorded_quotes(FIXTURES / "recorded_market_data/btcusdt-quotes.csv", "BTCUSDT")[
        :80
    ]
    replay.apply(quotes[0])  # a book exists before anyone connects

    async def main() -> tuple[Run, list[bytes], dict[str, Any]]:
        async with running(replay, streams=ALL_KINDS) as run:
            names = "/".join(stream_names(run.feed.config))
            async with websockets.connect(f"{run.server.ws_url}/stream?streams={names}") as capture:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(
                        f"{run.server.rest_url}/api/v3/depth", params={"symbol": "BTCUSDT"}
                    ) as r,
                ):
                    first_snapshot = await r.json()
                await until(lambda: len(replay.sessions) == 2, "both connections")
                await asyncio.sleep(0.1)
                replay.load(trades)
                replay.load(quotes[1:])
                await replay.run()
                expected = 2 * len(trades) + 2 * (len(quotes) - 1)
                wire = [
                    await asyncio.wait_for(capture.recv(decode=False), 5) for _ in range(expected)
                ]
                await until(
                    lambda: run.feed.stats.messages >= expected, "the feed to read everything"
                )
                book = run.feed.books["BTCUSDT"]
                await until(
                    lambda: book.is_valid and book.update_id == replay.update_id("BTCUSDT"),
                    "a book at the mock's last update",
                )
            return run, wire, first_snapshot

    run, wire, first_snapshot = go(main())
    symbols = SymbolTable.from_instruments([SPOT_BTC], Venue.BINANCE)
    decoded = [orjson.loads(m) for m in wire]
    trade_wire = [
        m
        for m, d in zip(wire, decoded, strict=True)
        if d["stream"].endswith(("@trade", "@aggTrade"))
    ]
    got_trades = run.of(RecordType.TRADE_EVENT)
    want_trades = parse_trades(trade_wire, symbols, 0)
    assert len(got_trades) == len(trade_wire) == 800
    assert np.array_equal(_without(got_trades, "ts_recv"), _without(want_trades, "ts_recv"))
    assert (got_trades["ts_recv"] > 0).all()

    quote_wire = [
        m for m, d in zip(wire, decoded, strict=True) if d["stream"].endswith("@bookTicker")
    ]
    got_quotes = run.of(RecordType.QUOTE_EVENT)
    want = np.concatenate([parse_book_ticker(m, symbols, 0) for m in quote_wire])
    assert len(got_quotes) == len(quote_wire) == 79
    assert np.array_equal(
        _without(got_quotes, "ts_recv", "ts_event"), _without(want, "ts_recv", "ts_event")
    )
    # Spot bookTicker has no time: ts_event is the receive time on the server's clock.
    assert (got_quotes["ts_event"] - got_quotes["ts_recv"] == run.feed.clock.offset_ns).all()

    # The feed's book equals the mock's, and an offline book built from the first snapshot plus
    # every diff the capture client saw.
    book = run.feed.books["BTCUSDT"]
    assert _book_levels(book) == _book_levels(_mock_book(replay, SPOT_BTC))
    offline = OrderBook.for_instrument(SPOT_BTC)
    offline.on_snapshot(parse_depth_snapshot(first_snapshot, 2, 6))
    for message, data in zip(wire, decoded, strict=True):
        if data["stream"].endswith("@depth@100ms"):
            assert (
                offline.on_diff(parse_depth_update(message, symbols)[1]).name == "DIFF_IN_SEQUENCE"
            )
    assert offline.update_id == book.update_id == replay.update_id("BTCUSDT")
    assert _book_levels(offline) == _book_levels(book)
    depth = run.of(RecordType.DEPTH_EVENT)
    assert len(depth) >= 79 and depth["last_update_id"][-1] == book.update_id
    assert run.feed.stats.trade_gaps == 0 and run.feed.stats.depth_resyncs == 0


def test_futures_book_chains_on_pu_over_routed_connections() -> None:
    replay = MarketReplay(Market.USDM, ["BTCUSDT"], seed=11)
    replay.push_depth(
        "BTCUSDT", [("20377.00", "1.770"), ("20376.90", "0.001")], [("20377.10", "0.5")]
    )

    async def main() -> tuple[Run, list[tuple[int, int]]]:
        async with running(
            replay, (USDM_BTC,), streams=ALL_KINDS, depth_output=DepthOutput.DIFF
        ) as run:
            await until(lambda: len(replay.sessions) == 2, "two routed connections")
            await until(lambda: run.feed.books["BTCUSDT"].is_valid, "a valid book")
            for step in range(30):
                replay.push_quote(
                    "BTCUSDT", f"{20370 + step % 5}.00", "0.100", f"{20380 + step % 3}.00", "0.200"
                )
                replay.push_trade("BTCUSDT", "20375.50", "0.010")
            await until(
                lambda: run.feed.books["BTCUSDT"].update_id == replay.update_id("BTCUSDT"),
                "all diffs",
            )
            await until(lambda: run.feed.stats.trades == 60, "all trades")
            paths = sorted(s.request.path for s in replay.sessions)
            assert paths == ["/market/stream", "/public/stream"]
            diffs = run.of(RecordType.DEPTH_EVENT)
            diffs = diffs[diffs["update_kind"] == 2]
            pairs = zip(
                diffs["first_update_id"].tolist(), diffs["prev_update_id"].tolist(), strict=True
            )
            return run, list(pairs)

    run, chains = go(main())
    book = run.feed.books["BTCUSDT"]
    assert book.state is BookState.SYNCED
    assert _book_levels(book) == _book_levels(_mock_book(replay, USDM_BTC))
    assert run.feed.stats.depth_resyncs == 0 and run.feed.stats.trade_gaps == 0
    # USD-M ids jump (U > pu + 1): the spot rule would call each of these a gap.
    assert any(first > prev + 1 for first, prev in chains if prev)


def test_drop_reconnect_resubscribe_without_duplicate_trades() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])
    replay.push_quote("BTCUSDT", "100.00", "1", "101.00", "1")

    async def main() -> Run:
        async with running(replay) as run:
            await until(lambda: run.feed.books["BTCUSDT"].is_valid, "a valid book")
            for trade_id in range(1, 6):
                replay.push_trade("BTCUSDT", "100.5", "0.1", trade_id=trade_id)
            await until(lambda: run.feed.stats.trades == 5, "five trades")
            assert replay.drop_connections() == 1
            await until(lambda: not replay.sessions, "the drop")
            replay.push_trade("BTCUSDT", "100.5", "0.1", trade_id=6)  # missed while down
            replay.push_trade("BTCUSDT", "100.5", "0.1", trade_id=7)
            replay.push_quote("BTCUSDT", "100.10", "1", "101.00", "1")
            await until(
                lambda: run.feed.stats.connections == 2 and len(replay.sessions) == 1, "a reconnect"
            )
            await asyncio.sleep(0.05)
            replay.push_trade("BTCUSDT", "100.5", "0.1", trade_id=4)  # a venue resend: duplicate
            replay.duplicate_next(1, StreamKind.TRADE)
            for trade_id in (8, 9, 10):
                replay.push_trade("BTCUSDT", "100.5", "0.1", trade_id=trade_id)
            replay.push_quote("BTCUSDT", "100.20", "1", "101.00", "1")
            await until(
                lambda: run.feed.stats.trades == 8 and run.feed.stats.trades_duplicate == 2,
                "the rest",
            )
            await until(
                lambda: run.feed.books["BTCUSDT"].update_id == replay.update_id("BTCUSDT"), "resync"
            )
            return run

    run = go(main())
    ids = run.of(RecordType.TRADE_EVENT)["venue_trade_id"].tolist()
    assert ids == [1, 2, 3, 4, 5, 8, 9, 10]
    gaps = run.events(FeedEventKind.TRADE_GAP)
    assert [(g.first_missing, g.last_missing) for g in gaps] == [(6, 7)]
    assert run.feed.stats.reconnects == 1 and run.feed.stats.snapshots >= 2
    assert _book_levels(run.feed.books["BTCUSDT"]) == _book_levels(_mock_book(replay, SPOT_BTC))


@pytest.mark.parametrize(
    ("market", "instrument"), [(Market.SPOT, SPOT_BTC), (Market.USDM, USDM_BTC)]
)
def test_depth_gap_resyncs_from_a_new_snapshot(market: Market, instrument: Instrument) -> None:
    replay = MarketReplay(market, ["BTCUSDT"], seed=5)
    replay.push_quote("BTCUSDT", "100.00", "1", "101.00", "1")

    async def main() -> Run:
        async with running(replay, (instrument,)) as run:
            book = run.feed.books["BTCUSDT"]
            await until(lambda: book.is_valid, "a valid book")
            replay.push_depth("BTCUSDT", [("99.00", "2")])
            replay.skip_depth_next()
            replay.push_depth("BTCUSDT", [("98.00", "3")])  # never sent
            replay.push_depth("BTCUSDT", [("97.00", "4")])  # reveals the gap
            await until(lambda: run.feed.stats.depth_resyncs == 1, "the gap")
            await until(
                lambda: book.is_valid and book.update_id == replay.update_id("BTCUSDT"), "resync"
            )
            return run

    run = go(main())
    resyncs = run.events(FeedEventKind.DEPTH_RESYNC)
    assert resyncs and "gap" in resyncs[0].detail
    book = run.feed.books["BTCUSDT"]
    assert (
        book.size_at(BookSide.BID, 9800) == 3 * 10**instrument.size_precision
    )  # from the snapshot
    assert _book_levels(book) == _book_levels(_mock_book(replay, instrument))


def test_stalled_depth_stream_resyncs() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])
    replay.push_quote("BTCUSDT", "100.00", "1", "101.00", "1")

    async def main() -> Run:
        async with running(replay, depth_stall_s=0.3) as run:
            book = run.feed.books["BTCUSDT"]
            await until(lambda: book.is_valid, "a valid book")
            snapshots = run.feed.stats.snapshots
            replay.stall_depth()
            replay.push_depth("BTCUSDT", [("99.00", "2")])
            replay.push_depth("BTCUSDT", [("98.00", "2")])
            await until(lambda: run.feed.stats.depth_stalls >= 1, "the stall")
            await until(
                lambda: run.feed.stats.snapshots > snapshots and book.is_valid, "a new snapshot"
            )
            assert book.size_at(BookSide.BID, 9800) == 2_000_000
            replay.stall_depth(False)
            replay.push_depth("BTCUSDT", [("97.00", "2")])
            await until(lambda: book.update_id == replay.update_id("BTCUSDT"), "the stream again")
            return run

    run = go(main())
    assert run.events(FeedEventKind.DEPTH_STALL)
    assert run.feed.books["BTCUSDT"].state is BookState.SYNCED
    assert _book_levels(run.feed.books["BTCUSDT"]) == _book_levels(_mock_book(replay, SPOT_BTC))


def test_duplicated_and_reordered_messages() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])
    replay.push_quote("BTCUSDT", "100.00", "1", "101.00", "1")

    async def main() -> Run:
        async with running(replay) as run:
            book = run.feed.books["BTCUSDT"]
            await until(lambda: book.is_valid, "a valid book")
            replay.duplicate_next(1, StreamKind.DEPTH_100MS)
            replay.push_depth("BTCUSDT", [("99.00", "2")])  # twice: the copy is stale
            replay.push_trade("BTCUSDT", "100.5", "0.1")  # 1: the feed's first trade id
            replay.reorder_next(1, StreamKind.TRADE)
            for _ in range(3):
                replay.push_trade("BTCUSDT", "100.5", "0.1")  # 3, 2, 4 on the wire
            replay.reorder_next(1, StreamKind.DEPTH_100MS)
            replay.push_depth("BTCUSDT", [("98.00", "2")])
            replay.push_depth("BTCUSDT", [("97.00", "2")])  # arrives first: a gap, then resync
            await until(lambda: run.feed.stats.trades == 4, "the trades")
            await until(
                lambda: book.is_valid and book.update_id == replay.update_id("BTCUSDT"),
                "the book to recover",
            )
            return run

    run = go(main())
    stats = run.feed.stats
    ids = run.of(RecordType.TRADE_EVENT)["venue_trade_id"].tolist()
    assert ids == [1, 3, 2, 4] and stats.trades_late == 1 and stats.trades_duplicate == 0
    assert [(g.first_missing, g.last_missing) for g in run.events(FeedEventKind.TRADE_GAP)] == [
        (2, 2)
    ]
    assert run.feed.books["BTCUSDT"].counters.diffs_stale >= 1
    assert _book_levels(run.feed.books["BTCUSDT"]) == _book_levels(_mock_book(replay, SPOT_BTC))


def test_subscription_limit_error_is_surfaced() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"], limits=MarketLimits(max_streams=2))

    async def main() -> BaseException:
        async with MarketServer(replay) as server:
            config = FeedConfig(
                ws_url=server.ws_url, rest_url=server.rest_url, streams=ALL_KINDS[:3]
            )
            feed = BinanceFeed(config, [SPOT_BTC], lambda records: None)
            with pytest.raises(SubscriptionLimitError) as info:
                await feed.run()
            return info.value

    error = go(main())
    assert "1008" in str(error) and "Too many streams" in str(error) and "3 streams" in str(error)
    with pytest.raises(FeedConfigError, match="3 streams on one connection"):
        BinanceFeed(
            FeedConfig(streams=ALL_KINDS[:3], max_streams_per_connection=2), [SPOT_BTC], print
        )


def test_subscribe_by_message_and_pings_keep_the_connection() -> None:
    limits = MarketLimits(ping_interval_s=0.05, pong_timeout_s=0.4, max_incoming_per_s=50)
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"], limits=limits)

    async def main() -> Run:
        async with running(
            replay, subscribe_by_message=True, streams=(StreamKind.AGG_TRADE,)
        ) as run:
            await until(lambda: len(replay.sessions) == 1, "a connection")
            session = next(iter(replay.sessions))
            await until(lambda: "btcusdt@aggTrade" in session.streams, "the subscription")
            await asyncio.sleep(1.0)  # over two pong timeouts: only answered pings keep it open
            replay.push_trade("BTCUSDT", "100.5", "0.1")
            await until(lambda: run.feed.stats.trades == 1, "a trade")
            return run

    run = go(main())
    assert run.feed.stats.connections == 1 and run.feed.stats.reconnects == 0
    assert run.feed.connection_url().endswith("/stream")


def test_age_limit_and_server_shutdown_reconnect() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"], limits=MarketLimits(max_connection_age_s=0.4))

    async def main() -> Run:
        async with running(replay, streams=(StreamKind.TRADE,)) as run:
            await until(lambda: run.feed.stats.connections >= 2, "a reconnect after the age limit")
            await until(lambda: len(replay.sessions) == 1, "the new connection")
            replay.limits = MarketLimits()  # no more forced disconnects
            await until(lambda: len(replay.sessions) == 1, "a connection under the new limits")
            connections = run.feed.stats.connections
            await asyncio.sleep(0.5)
            assert replay.server_shutdown() == 1
            await until(
                lambda: run.feed.stats.connections > connections, "a reconnect after serverShutdown"
            )
            await until(lambda: len(replay.sessions) == 1, "subscribed again")
            replay.push_trade("BTCUSDT", "100.5", "0.1")
            await until(lambda: run.feed.stats.trades == 1, "a trade on the new connection")
            return run

    run = go(main())
    assert run.feed.stats.server_shutdowns == 1
    assert run.events(FeedEventKind.SERVER_SHUTDOWN)


def test_unknown_symbols_are_a_clear_error() -> None:
    with pytest.raises(FeedConfigError, match=r"'XRPUSDT'.*BINANCE"):
        BinanceFeed(FeedConfig(symbols=("BTCUSDT", "XRPUSDT")), [SPOT_BTC], print)
    with pytest.raises(FeedConfigError, match="BINANCE_USDM"):
        BinanceFeed(FeedConfig(venue=Venue.BINANCE_USDM), [SPOT_BTC], print)
    with pytest.raises(FeedConfigError, match="one depth stream"):
        BinanceFeed(
            FeedConfig(streams=(StreamKind.DEPTH, StreamKind.DEPTH_100MS)), [SPOT_BTC], print
        )
    with pytest.raises(FeedConfigError, match="venue"):
        FeedConfig(venue=Venue.NSE)
    with pytest.raises(FeedConfigError, match="no host"):
        FeedConfig(ws_url="localhost")


def test_combined_fixture_messages_through_the_feed() -> None:
    records: list[np.ndarray] = []
    events: list[FeedEvent] = []
    feed = BinanceFeed(
        FeedConfig(
            symbols=("ETHUSDT",),
            streams=(StreamKind.TRADE, StreamKind.AGG_TRADE, StreamKind.BOOK_TICKER),
        ),
        [SPOT_ETH, SPOT_BTC],
        records.append,
        on_event=events.append,
    )
    symbols = SymbolTable.from_instruments([SPOT_ETH], Venue.BINANCE)
    for path in ("ws_spot_trade.json", "ws_spot_agg_trade.json"):
        raw = (FIXTURES / "nautilus_integration_resources/ws_messages" / path).read_bytes()
        # The fixture is pretty-printed; the venue sends compact JSON, which the fast path reads.
        for message in (raw, orjson.dumps(orjson.loads(raw))):
            feed.feed_message(message, ts_recv=5)
        assert np.array_equal(records[-1], parse_trade(raw, symbols, 5))
    assert len(records) == 2  # the second copy of each was a duplicate
    ticker = (
        FIXTURES / "nautilus_integration_resources/ws_messages/ws_spot_ticker_book.json"
    ).read_bytes()
    feed.feed_message(ticker, ts_recv=6)
    assert np.array_equal(records[-1], parse_book_ticker(ticker, symbols, 6))
    feed.feed_message(b'{"stream":"ethusdt@trade","data":{"e":"trade"}}', ts_recv=7)
    feed.feed_message(b"not json", ts_recv=8)
    feed.feed_message(b'{"code": 2, "msg": "Invalid request: too many parameters", "id": 9}')
    assert feed.stats.malformed == 2 and feed.stats.venue_errors == 1
    assert [e.kind for e in events][-3:] == [
        FeedEventKind.MALFORMED,
        FeedEventKind.MALFORMED,
        FeedEventKind.VENUE_ERROR,
    ]
    assert "'t'" in events[-3].detail


def test_backoff_is_exponential_capped_and_seeded() -> None:
    config = FeedConfig(backoff_initial_s=0.5, backoff_max_s=4.0, backoff_jitter=0.5, seed=3)
    first = BinanceFeed(config, [SPOT_BTC], print)
    second = BinanceFeed(config, [SPOT_BTC], print)
    delays = [first.backoff_delay(n) for n in range(8)]
    assert delays == [second.backoff_delay(n) for n in range(8)]
    for attempt, delay in enumerate(delays):
        base = min(4.0, 0.5 * 2**attempt)
        assert base * 0.5 <= delay <= base
    assert len(set(delays)) == len(delays)  # jittered
    flat = BinanceFeed(FeedConfig(backoff_jitter=0.0), [SPOT_BTC], print)
    assert [flat.backoff_delay(n) for n in range(3)] == [0.5, 1.0, 2.0]


def test_server_time_offset_is_measured_and_applied() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"], server_time_offset_ms=-7_000)

    async def main() -> Run:
        async with running(replay, streams=(StreamKind.BOOK_TICKER,)) as run:
            await until(lambda: run.feed.clock.synced, "a clock sample")
            await until(lambda: len(replay.sessions) == 1, "a connection")
            replay.push_quote("BTCUSDT", "100.00", "1", "101.00", "1")
            await until(lambda: run.feed.stats.quotes == 1, "a quote")
            return run

    run = go(main())
    offset = run.feed.clock.offset_ns
    assert -8_000_000_000 < offset < -6_000_000_000
    quote = run.of(RecordType.QUOTE_EVENT)[0]
    assert quote["ts_event"] == quote["ts_recv"] + offset
    assert run.events(FeedEventKind.CLOCK_SYNCED)


def test_one_socket_read_keeps_arrival_order() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])
    replay.push_quote("BTCUSDT", "100.00", "1", "101.00", "1")
    snapshot = replay.snapshot("BTCUSDT", 100)
    records: list[np.ndarray] = []
    feed = BinanceFeed(FeedConfig(streams=ALL_KINDS), [SPOT_BTC], records.append)
    feed.books["BTCUSDT"].on_snapshot(parse_depth_snapshot(snapshot, 2, 6))
    streams = [f"btcusdt@{k.value}" for k in ALL_KINDS]
    script = []
    for step in range(3):
        script.append(
            ReplayEvent(
                1, "BTCUSDT", ReplayEventKind.TRADE, (Decimal("100.5"), Decimal("0.1"), False, None)
            )
        )
        script.append(
            ReplayEvent(
                1,
                "BTCUSDT",
                ReplayEventKind.QUOTE,
                (Decimal(f"100.{step + 1}0"), Decimal(1), Decimal("101.00"), Decimal(1)),
            )
        )
    wire = replay.render(script, streams)
    kinds = [orjson.loads(m)["stream"].split("@", 1)[1] for m in wire]
    assert kinds == ["trade", "aggTrade", "depth@100ms", "bookTicker"] * 3
    feed.feed_messages([m.encode() for m in wire], ts_recv=1)
    got = [(int(r["type"][0]), len(r)) for r in records]
    trade, quote, depth = RecordType.TRADE_EVENT, RecordType.QUOTE_EVENT, RecordType.DEPTH_EVENT
    assert got == [(trade, 2), (depth, 1), (quote, 1)] * 3
    assert feed.stats.trades == 6 and feed.stats.trade_gaps == 0


def test_an_unusable_depth_message_restarts_the_book_without_stopping() -> None:
    records: list[np.ndarray] = []
    feed = BinanceFeed(FeedConfig(streams=(StreamKind.DEPTH,)), [SPOT_BTC], records.append)
    book = feed.books["BTCUSDT"]
    book.on_snapshot(
        parse_depth_snapshot(
            {"lastUpdateId": 10, "bids": [["99.00", "1"]], "asks": [["101.00", "1"]]}, 2, 6
        )
    )
    good = {
        "e": "depthUpdate",
        "E": 1,
        "s": "BTCUSDT",
        "U": 11,
        "u": 11,
        "b": [["99.50", "1"]],
        "a": [],
    }
    bad = {**good, "U": 12, "u": 12, "b": [["0.00", "1"]]}  # a zero price
    feed.feed_messages(
        [orjson.dumps({"stream": "btcusdt@depth", "data": m}) for m in (good, bad)], ts_recv=1
    )
    assert feed.stats.malformed == 1 and "price '0.00' must be > 0" in feed.events[-2].detail
    assert feed.events[-1].kind is FeedEventKind.DEPTH_RESYNC and feed.stats.depth_resyncs == 1
    assert book.state is BookState.AWAITING_SNAPSHOT
    assert len(records) == 1 and records[0]["last_update_id"][0] == 11
