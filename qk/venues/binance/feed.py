"""The Binance market-data feed: websocket streams → canonical records, with a local order book.

::

    feed = BinanceFeed(FeedConfig(venue=Venue.BINANCE, symbols=("BTCUSDT",)), instruments, sink)
    await feed.run()        # until feed.stop(); reconnects by itself

What it does (``../shared/VENUES.md`` §3.7-3.8 spot, §4 USD-M futures; ``docs/binance-marketdata.md``):

* opens combined streams (``/stream?streams=a/b``, or ``/stream`` plus ``SUBSCRIBE``) on the
  configured host — the real one by default; USD-M splits book streams (``/public``) from trade
  streams (``/market``), one connection each;
* turns ``trade``/``aggTrade`` into TradeEvent (:func:`qk.venues.binance.parse.parse_trades`, in
  batches of what the socket already holds), ``bookTicker`` into QuoteEvent and depth diffs into
  DepthEvent, each with ``ts_event`` from the venue and ``ts_recv`` from the local wall clock;
* measures the server time offset (``/api/v3/time`` or ``/fapi/v1/time``) and uses it to date
  what the venue leaves undated (spot bookTicker and spot snapshots);
* keeps one :class:`qk.books.OrderBook` per symbol with the venue's procedure: diffs are buffered,
  a REST snapshot fetched after the first diff, stale diffs dropped, the first diff checked
  against the snapshot, each later one chained (spot ``U == u + 1``, futures ``pu == u``); a gap,
  a crossed book, a stalled depth stream or a reconnect starts a resync;
* de-duplicates trades by venue trade id and reports missing ids as gaps (a late id fills its gap
  and is delivered once);
* answers pings (the ``websockets`` library does, while the feed reads), and reconnects with
  exponential back-off and jitter after a drop, a server close (the 24-hour disconnect) or a
  ``serverShutdown`` event.

Records go to ``sink(records)``, one record array per call (the runtime passes a ring writer).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import numpy as np
import numpy.typing as npt
import orjson
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from qk.books import (
    BookError,
    BookInput,
    BookState,
    OrderBook,
    diff_depth_records,
    write_book_depth,
)
from qk.books.updates import BookSnapshot
from qk.instruments import Instrument
from qk.schemas.enums import Venue
from qk.schemas.records import new_records
from qk.venues.binance.clock import ClockError, ServerClock, parse_server_time
from qk.venues.binance.parse import (
    BinanceMessageError,
    SymbolTable,
    parse_depth_snapshot,
    parse_depth_update,
    parse_trades,
)
from qk.venues.binance.streams import (
    StreamKind,
    StreamRef,
    stream_name,
    unwrap_combined,
    write_book_ticker,
)

__all__ = [
    "BinanceFeed",
    "DepthOutput",
    "FeedConfig",
    "FeedConfigError",
    "FeedError",
    "FeedEvent",
    "FeedEventKind",
    "FeedStats",
    "RecordSink",
    "SubscriptionError",
    "SubscriptionLimitError",
    "stream_names",
]

RecordSink = Callable[[npt.NDArray[np.void]], None]
"""Receives canonical record arrays (TradeEvent, QuoteEvent or DepthEvent; one type per call)."""

SPOT_WS_URL = "wss://stream.binance.com:9443"
SPOT_REST_URL = "https://api.binance.com"
USDM_WS_URL = "wss://fstream.binance.com"
USDM_REST_URL = "https://fapi.binance.com"

_COMBINED_PREFIX = b'{"stream":"'
_PREFIX_LEN = len(_COMBINED_PREFIX)
_TRADE_BATCH = 1024
"""Messages queued at most before the trades are decoded, while the socket holds more."""
_SUBSCRIBE_CHUNK = 200
"""Streams per SUBSCRIBE message: small enough for any frame limit."""


class FeedError(RuntimeError):
    """The feed cannot go on (it stops and ``run`` raises this)."""


class FeedConfigError(ValueError):
    """The configuration is unusable: an unknown symbol, too many streams, a bad URL."""


class SubscriptionError(FeedError):
    """The venue refused a subscription request (``{"code", "msg"}`` reply)."""


class SubscriptionLimitError(FeedError):
    """The venue closed the connection for breaking a limit (streams per connection or
    incoming messages per second): close code 1008. Reconnecting the same way would only be
    closed again, and repeated disconnects get the IP banned, so the feed stops."""


class DepthOutput(enum.Enum):
    """What the feed writes for the depth streams."""

    BOOK = "book"
    """After every snapshot and applied diff, the top 10 levels as a SNAPSHOT DepthEvent."""
    DIFF = "diff"
    """The venue's diffs that the book applied, as DIFF DepthEvents, and a SNAPSHOT DepthEvent
    of the book after each REST snapshot."""


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """What a feed subscribes to and how it behaves.

    Attributes:
        venue: ``Venue.BINANCE`` (spot) or ``Venue.BINANCE_USDM``.
        symbols: Venue symbols, as the instrument master spells them (``BTCUSDT``).
        streams: Streams per symbol.
        ws_url: Market-stream base URL (default: the venue's real host).
        rest_url: REST base URL for snapshots and server time (default: the real host).
        routed: USD-M only: book streams on ``/public``, trade streams on ``/market`` (the
            routing of ``fstream.binance.com``); default True for USD-M.
        subscribe_by_message: Connect to ``/stream`` and send ``SUBSCRIBE`` instead of naming
            the streams in the URL.
        snapshot_limit: Levels of the REST snapshot (default: spot 5000, USD-M 1000, as the
            venues' local-book procedures say).
        max_streams_per_connection: Refuse a configuration above this (1024 on both venues).
        backoff_initial_s: First reconnect delay.
        backoff_max_s: Cap of the exponential back-off.
        backoff_jitter: Fraction of each delay that is random (0 = none, 1 = full jitter).
        max_reconnects: Give up after this many reconnects in a row without data (None: never).
        seed: Seeds the jitter (tests); None draws from the OS.
        depth_stall_s: A depth stream silent this long is treated as broken: resync.
        time_sync_interval_s: Seconds between server time measurements.
        snapshot_retry_s: Delay before fetching a snapshot again (the snapshot was older than
            the buffered diffs, or the request failed).
        trade_reorder_window: Trade ids more than this far behind the newest are no longer
            waited for: their gap is final and a later arrival counts as a duplicate.
        depth_output: Book tops or venue diffs.
        open_timeout_s: Websocket handshake timeout.
        source: Header ``source`` of the records.
    """

    venue: Venue = Venue.BINANCE
    symbols: tuple[str, ...] = ("BTCUSDT",)
    streams: tuple[StreamKind, ...] = (
        StreamKind.TRADE,
        StreamKind.BOOK_TICKER,
        StreamKind.DEPTH_100MS,
    )
    ws_url: str | None = None
    rest_url: str | None = None
    routed: bool | None = None
    subscribe_by_message: bool = False
    snapshot_limit: int | None = None
    max_streams_per_connection: int = 1024
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter: float = 0.5
    max_reconnects: int | None = None
    seed: int | None = None
    depth_stall_s: float = 30.0
    time_sync_interval_s: float = 300.0
    snapshot_retry_s: float = 0.25
    trade_reorder_window: int = 256
    depth_output: DepthOutput = DepthOutput.BOOK
    open_timeout_s: float = 10.0
    source: int = 0

    def __post_init__(self) -> None:
        if self.venue not in (Venue.BINANCE, Venue.BINANCE_USDM):
            raise FeedConfigError(f"venue must be BINANCE or BINANCE_USDM, got {self.venue!r}")
        if not self.symbols or not self.streams:
            raise FeedConfigError("a feed needs at least one symbol and one stream")
        if self.backoff_initial_s <= 0 or self.backoff_max_s < self.backoff_initial_s:
            raise FeedConfigError(
                f"back-off must satisfy 0 < initial <= max, got {self.backoff_initial_s} and "
                f"{self.backoff_max_s}"
            )
        if not 0.0 <= self.backoff_jitter <= 1.0:
            raise FeedConfigError(f"backoff_jitter must be in [0, 1], got {self.backoff_jitter}")
        for url in (self.ws_url, self.rest_url):
            if url is not None and not urlsplit(url).netloc:
                raise FeedConfigError(f"URL {url!r} has no host")

    @property
    def is_futures(self) -> bool:
        """True for USD-M futures."""
        return self.venue is Venue.BINANCE_USDM

    def base_ws_url(self) -> str:
        """The websocket base URL in use."""
        return (self.ws_url or (USDM_WS_URL if self.is_futures else SPOT_WS_URL)).rstrip("/")

    def base_rest_url(self) -> str:
        """The REST base URL in use."""
        return (self.rest_url or (USDM_REST_URL if self.is_futures else SPOT_REST_URL)).rstrip("/")


class FeedEventKind(enum.Enum):
    """What the feed reports besides records."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"
    SERVER_SHUTDOWN = "server_shutdown"
    TRADE_GAP = "trade_gap"
    """Trade ids are missing (``first_missing``..``last_missing``)."""
    DEPTH_RESYNC = "depth_resync"
    """The book discarded its levels (gap, crossed book, reconnect) and fetches a snapshot."""
    DEPTH_STALL = "depth_stall"
    BOOK_SYNCED = "book_synced"
    SNAPSHOT_FAILED = "snapshot_failed"
    CLOCK_SYNCED = "clock_synced"
    CLOCK_FAILED = "clock_failed"
    VENUE_ERROR = "venue_error"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One report.

    Attributes:
        kind: What happened.
        symbol: The symbol concerned ("" if none).
        detail: One line for logs.
        first_missing: TRADE_GAP: first missing trade id.
        last_missing: TRADE_GAP: last missing trade id.
    """

    kind: FeedEventKind
    symbol: str = ""
    detail: str = ""
    first_missing: int = 0
    last_missing: int = 0


@dataclass(slots=True)
class FeedStats:
    """Counters of a feed (for metrics and tests)."""

    messages: int = 0
    trades: int = 0
    trades_duplicate: int = 0
    trades_late: int = 0
    trade_gaps: int = 0
    quotes: int = 0
    depth_diffs: int = 0
    depth_resyncs: int = 0
    depth_stalls: int = 0
    snapshots: int = 0
    connections: int = 0
    reconnects: int = 0
    malformed: int = 0
    venue_errors: int = 0
    server_shutdowns: int = 0


class _TradeTrack:
    """Trade ids seen on one stream: duplicates out, gaps reported, late ids let in once."""

    __slots__ = ("ahead", "contiguous", "top", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.contiguous = -1  # every id up to here was seen (or given up on)
        self.top = -1
        self.ahead: set[int] = set()

    def accept(self, trade_id: int) -> tuple[bool, bool, tuple[int, int] | None]:
        """``(deliver, late, gap)`` for an id."""
        if self.top < 0:
            self.contiguous = self.top = trade_id
            return True, False, None
        if trade_id <= self.contiguous or trade_id in self.ahead:
            return False, False, None
        gap = None
        late = trade_id < self.top
        if trade_id > self.top:
            if trade_id > self.top + 1:
                gap = (self.top + 1, trade_id - 1)
            self.top = trade_id
        self.ahead.add(trade_id)
        floor = self.top - self.window
        if self.contiguous < floor:
            self.contiguous = floor
            self.ahead = {i for i in self.ahead if i > floor}
        while self.contiguous + 1 in self.ahead:
            self.contiguous += 1
            self.ahead.discard(self.contiguous)
        return True, late, gap


@dataclass(slots=True)
class _Connection:
    path: str
    streams: list[str]
    ws: ClientConnection | None = None
    pending_ids: dict[int, list[str]] = field(default_factory=dict)


def _pending_frames(ws: ClientConnection) -> int:
    """Frames the connection already holds: while there are some, keep batching."""
    frames = getattr(getattr(ws, "recv_messages", None), "frames", None)
    try:
        return len(frames) if frames is not None else 0
    except TypeError:
        return 0


class BinanceFeed:
    """A market-data feed for one Binance venue (spot or USD-M futures).

    Args:
        config: What to subscribe to and how.
        instruments: The instrument master (or any instruments); every configured symbol must
            be an instrument of the configured venue.
        sink: Receives the records.
        on_event: Receives :class:`FeedEvent` reports (gaps, resyncs, reconnects...).
        now_ns: Local wall clock for ``ts_recv`` (tests pass their own).

    Raises:
        FeedConfigError: A symbol is not an instrument of the venue, or a connection would
            carry more streams than allowed.
    """

    def __init__(
        self,
        config: FeedConfig,
        instruments: Iterable[Instrument],
        sink: RecordSink,
        *,
        on_event: Callable[[FeedEvent], None] | None = None,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self._sink = sink
        self._on_event = on_event
        self._now_ns = now_ns
        venue_instruments = {i.symbol: i for i in instruments if i.venue is config.venue}
        missing = [s for s in config.symbols if s not in venue_instruments]
        if missing:
            raise FeedConfigError(
                f"unknown symbol(s) {', '.join(map(repr, missing))} for {config.venue.name}: not in "
                "the instrument master"
            )
        chosen = [venue_instruments[s] for s in dict.fromkeys(config.symbols)]
        self.instruments = {i.symbol: i for i in chosen}
        self.symbols = SymbolTable.from_instruments(chosen, config.venue)
        self.clock = ServerClock(now_ns)
        self.stats = FeedStats()
        self.events: list[FeedEvent] = []
        self.books: dict[str, OrderBook] = {}
        self._routes: dict[str, StreamRef] = {}
        self._tracks: dict[str, _TradeTrack] = {}
        for symbol in self.instruments:
            for kind in config.streams:
                ref = StreamRef(symbol, kind)
                self._routes[ref.name] = ref
                if kind.is_trade:
                    self._tracks[ref.name] = _TradeTrack(config.trade_reorder_window)
                if kind.is_depth:
                    if symbol in self.books:
                        raise FeedConfigError(
                            f"{symbol}: subscribe to one depth stream, not both speeds"
                        )
                    self.books[symbol] = OrderBook.for_instrument(self.instruments[symbol])
        self._connections = self._plan_connections()
        self._rng = random.Random(config.seed)
        self._trade_raw: list[bytes] = []
        self._trade_ts: list[int] = []
        self._trade_stream: list[str] = []
        # Arrival order of what is queued: ints are runs of queued trades, arrays are records.
        self._segments: list[int | npt.NDArray[np.void]] = []
        self._fetching: set[str] = set()
        self._generation: dict[str, int] = dict.fromkeys(self.books, 0)
        self._last_depth: dict[str, float] = {}
        # A feed runs once; stop() may come before run() has started.
        self._stop = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._fatal: BaseException | None = None
        self._next_request_id = 1
        # Copying a one-record template is several times cheaper than allocating a fresh one.
        self._quote_template = new_records("QuoteEvent", 1, source=config.source)
        self._depth_template = new_records("DepthEvent", 1, source=config.source)

    # -- plan -------------------------------------------------------------------------------------

    def _plan_connections(self) -> list[_Connection]:
        config = self.config
        routed = config.is_futures if config.routed is None else config.routed
        groups: dict[str, list[str]] = {}
        for name, ref in self._routes.items():
            prefix = ""
            if routed:
                prefix = "/market" if ref.kind.is_trade else "/public"
            groups.setdefault(prefix, []).append(name)
        connections = []
        for prefix, names in groups.items():
            if len(names) > config.max_streams_per_connection:
                raise FeedConfigError(
                    f"{len(names)} streams on one connection ({prefix or '/'}); the venue allows "
                    f"{config.max_streams_per_connection}"
                )
            connections.append(_Connection(prefix, names))
        return connections

    def connection_url(self, index: int = 0) -> str:
        """The URL connection ``index`` opens."""
        conn = self._connections[index]
        base = self.config.base_ws_url() + conn.path
        if self.config.subscribe_by_message:
            return f"{base}/stream"
        return f"{base}/stream?streams={'/'.join(conn.streams)}"

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until :meth:`stop`.

        Raises:
            FeedError: A fatal condition (a limit error, a refused subscription, too many
                failed reconnects).
        """
        timeout = aiohttp.ClientTimeout(total=10.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self._http = http
            await self._sync_clock()
            self._spawn(self._clock_loop())
            if self.books:
                self._spawn(self._stall_watchdog())
            for index in range(len(self._connections)):
                self._spawn(self._connection_loop(index))
            try:
                await self._stop.wait()
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._tasks.clear()
                self._flush_trades()
                self._http = None
        if self._fatal is not None:
            raise self._fatal

    def stop(self) -> None:
        """Ask :meth:`run` to finish."""
        self._stop.set()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and self._fatal is None:
            self._fatal = error
            self.stop()

    def _emit(self, event: FeedEvent) -> None:
        self.events.append(event)
        if len(self.events) > 10_000:
            del self.events[:5_000]
        if self._on_event is not None:
            self._on_event(event)

    def backoff_delay(self, attempt: int) -> float:
        """Delay before reconnect ``attempt`` (0-based): exponential, capped, part random."""
        config = self.config
        base = min(config.backoff_max_s, config.backoff_initial_s * 2.0 ** min(attempt, 60))
        return (
            base * (1.0 - config.backoff_jitter) + base * config.backoff_jitter * self._rng.random()
        )

    async def _connection_loop(self, index: int) -> None:
        conn = self._connections[index]
        url = self.connection_url(index)
        failures = 0
        while True:
            got_data = False
            try:
                async with websockets.connect(
                    url,
                    ping_interval=None,  # the server pings; the library answers while we read
                    compression=None,
                    max_size=1 << 24,
                    max_queue=None,
                    open_timeout=self.config.open_timeout_s,
                    close_timeout=1.0,
                ) as ws:
                    conn.ws = ws
                    self.stats.connections += 1
                    self._emit(FeedEvent(FeedEventKind.CONNECTED, detail=url))
                    if self.config.subscribe_by_message:
                        await self._subscribe(conn, ws)
                    self._on_connected(conn)
                    while True:
                        raw = await ws.recv(decode=False)
                        if not got_data:
                            got_data = True
                            failures = 0
                        self._on_message(raw, self._now_ns())
                        if self._trade_raw and (
                            len(self._trade_raw) + len(self._segments) >= _TRADE_BATCH
                            or not _pending_frames(ws)
                        ):
                            self._flush_trades()
            except ConnectionClosed as exc:
                self._flush_trades()
                close = exc.rcvd
                if close is not None and close.code == 1008 and close.reason.startswith("Too many"):
                    raise SubscriptionLimitError(
                        f"{url}: the venue closed the connection (1008 {close.reason!r}): "
                        f"{len(conn.streams)} streams on it, limit "
                        f"{self.config.max_streams_per_connection}; too many messages per second "
                        "also gets this"
                    ) from None
                detail = (
                    f"closed: {close.code} {close.reason!r}"
                    if close is not None
                    else "connection lost"
                )
                self._emit(FeedEvent(FeedEventKind.DISCONNECTED, detail=detail))
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self._flush_trades()
                self._emit(
                    FeedEvent(FeedEventKind.DISCONNECTED, detail=f"{type(exc).__name__}: {exc}")
                )
            except InvalidURI as exc:
                raise FeedConfigError(f"bad websocket URL {url!r}: {exc}") from None
            finally:
                conn.ws = None
            # Not reached on cancellation (stop): the books keep their state for inspection.
            self._on_disconnected(conn)
            if not got_data:
                failures += 1
                if self.config.max_reconnects is not None and failures > self.config.max_reconnects:
                    raise FeedError(
                        f"{url}: {failures} connection attempts in a row failed; giving up"
                    )
            delay = self.backoff_delay(max(0, failures - 1) if not got_data else 0)
            self.stats.reconnects += 1
            self._emit(FeedEvent(FeedEventKind.RECONNECTING, detail=f"in {delay:.3f} s"))
            await asyncio.sleep(delay)

    async def _subscribe(self, conn: _Connection, ws: ClientConnection) -> None:
        for start in range(0, len(conn.streams), _SUBSCRIBE_CHUNK):
            chunk = conn.streams[start : start + _SUBSCRIBE_CHUNK]
            request_id = self._next_request_id
            self._next_request_id += 1
            conn.pending_ids[request_id] = chunk
            await ws.send(
                orjson.dumps({"method": "SUBSCRIBE", "params": chunk, "id": request_id}).decode()
            )
            if start + _SUBSCRIBE_CHUNK < len(conn.streams):
                # Stay under the venue's incoming-message rate (spot 5/s, pings included).
                await asyncio.sleep(0.25)

    def _on_connected(self, conn: _Connection) -> None:
        """Ask for the snapshots now: a quiet market may send no diff for a long time. A
        snapshot older than the first diff is refused by the book and fetched again."""
        now = time.monotonic()
        for name in conn.streams:
            ref = self._routes[name]
            if ref.kind.is_depth:
                self._last_depth[ref.symbol] = now
                self._start_snapshot(ref.symbol)

    def _on_disconnected(self, conn: _Connection) -> None:
        """Diffs were missed while the socket was down: the books start again."""
        for name in conn.streams:
            ref = self._routes[name]
            if ref.kind.is_depth:
                book = self.books[ref.symbol]
                book.reset()
                self._generation[ref.symbol] += 1

    # -- messages ---------------------------------------------------------------------------------

    def feed_message(self, raw: bytes, ts_recv: int | None = None) -> None:
        """Process one message as if it had come off the socket (replay, benchmarks, tests),
        flushing trades at once."""
        self._on_message(raw, self._now_ns() if ts_recv is None else ts_recv)
        self._flush_trades()

    def feed_messages(self, raws: Iterable[bytes], ts_recv: int | None = None) -> None:
        """Process messages as one read of the socket: trades are decoded together, and every
        record still reaches the sink in arrival order."""
        stamp = self._now_ns() if ts_recv is None else ts_recv
        for raw in raws:
            self._on_message(raw, stamp)
        self._flush_trades()

    def _on_message(self, raw: bytes, ts_recv: int) -> None:
        self.stats.messages += 1
        if raw.startswith(_COMBINED_PREFIX):
            end = raw.find(b'"', _PREFIX_LEN)
            name = raw[_PREFIX_LEN:end].decode("ascii", "replace")
            ref = self._routes.get(name)
            if ref is not None and ref.kind.is_trade:
                self._queue_trade(raw, ts_recv, name)
                return
        try:
            stream, data = unwrap_combined(orjson.loads(raw))
        except (orjson.JSONDecodeError, BinanceMessageError) as exc:
            self._malformed(f"{exc}: {raw[:200]!r}")
            return
        if data.get("e") == "serverShutdown":
            self.stats.server_shutdowns += 1
            self._emit(FeedEvent(FeedEventKind.SERVER_SHUTDOWN, detail=f"E={data.get('E')}"))
            self._close_all()
            return
        if stream is None:
            self._on_reply(data)
            return
        ref = self._routes.get(stream)
        if ref is None:
            return
        try:
            if ref.kind is StreamKind.BOOK_TICKER:
                out = self._quote_template.copy()
                write_book_ticker(
                    data,
                    self.symbols,
                    out,
                    0,
                    ts_recv=ts_recv,
                    ts_fallback=self.clock.to_server_ns(ts_recv),
                )
                self.stats.quotes += 1
                self._deliver(out)
            elif ref.kind.is_depth:
                self._on_depth(ref.symbol, data, ts_recv)
            else:
                self._queue_trade(raw, ts_recv, stream)
        except (BinanceMessageError, BookError) as exc:
            self._malformed(f"{stream}: {exc}")
            if ref.kind.is_depth:
                # The book would miss this update: start it again rather than wait for the gap.
                self.books[ref.symbol].reset()
                self._generation[ref.symbol] += 1
                self.stats.depth_resyncs += 1
                self._emit(
                    FeedEvent(FeedEventKind.DEPTH_RESYNC, ref.symbol, "unusable depth message")
                )
                self._start_snapshot(ref.symbol)

    def _malformed(self, detail: str) -> None:
        self.stats.malformed += 1
        self._emit(FeedEvent(FeedEventKind.MALFORMED, detail=detail))

    def _on_reply(self, data: Any) -> None:
        if "code" in data:
            self.stats.venue_errors += 1
            detail = (
                f"venue error {data.get('code')}: {data.get('msg')!r} (request id {data.get('id')})"
            )
            self._emit(FeedEvent(FeedEventKind.VENUE_ERROR, detail=detail))
            request_id = data.get("id")
            for conn in self._connections:
                # Some errors (bad JSON, bad id) come back without the request id.
                if request_id in conn.pending_ids or (request_id is None and conn.pending_ids):
                    self._fatal = self._fatal or SubscriptionError(
                        f"subscription refused: {detail}"
                    )
                    self.stop()
            return
        request_id = data.get("id")
        for conn in self._connections:
            conn.pending_ids.pop(request_id, None)

    def _close_all(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        for conn in self._connections:
            if conn.ws is not None:
                asyncio.get_running_loop().create_task(conn.ws.close())

    def _queue_trade(self, raw: bytes, ts_recv: int, name: str) -> None:
        self._trade_raw.append(raw)
        self._trade_ts.append(ts_recv)
        self._trade_stream.append(name)
        segments = self._segments
        if segments and isinstance(segments[-1], int):
            segments[-1] += 1
        else:
            segments.append(1)

    def _deliver(self, records: npt.NDArray[np.void]) -> None:
        """Hand non-trade records on, after the trades received before them."""
        if self._trade_raw:
            self._segments.append(records)
        else:
            self._sink(records)

    def _flush_trades(self) -> None:
        """Decode the queued trades in one call and deliver everything queued, in arrival
        order: runs of trades and the records that came between them."""
        if not self._trade_raw:
            return
        raws, stamps, names = self._trade_raw, self._trade_ts, self._trade_stream
        segments = self._segments
        self._trade_raw, self._trade_ts, self._trade_stream, self._segments = [], [], [], []
        ok = np.ones(len(raws), dtype=np.bool_)
        try:
            records = parse_trades(raws, self.symbols, stamps, source=self.config.source)
        except BinanceMessageError:
            # One bad message must not cost its neighbours: decode them one by one.
            for index, (raw, name) in enumerate(zip(raws, names, strict=True)):
                try:
                    parse_trades([raw], self.symbols, 0)
                except BinanceMessageError as exc:
                    self._malformed(f"{name}: {exc}")
                    ok[index] = False
            chosen = np.flatnonzero(ok).tolist()
            records = parse_trades(
                [raws[i] for i in chosen],
                self.symbols,
                [stamps[i] for i in chosen],
                source=self.config.source,
            )
            names = [names[i] for i in chosen]
        keep = np.ones(len(records), dtype=np.bool_)
        tracks = self._tracks
        for index, (trade_id, name) in enumerate(
            zip(records["venue_trade_id"].tolist(), names, strict=True)
        ):
            deliver, late, gap = tracks[name].accept(trade_id)
            if not deliver:
                keep[index] = False
                self.stats.trades_duplicate += 1
                continue
            if late:
                self.stats.trades_late += 1
            if gap is not None:
                self.stats.trade_gaps += 1
                ref = self._routes[name]
                self._emit(
                    FeedEvent(
                        FeedEventKind.TRADE_GAP,
                        ref.symbol,
                        f"{name}: ids {gap[0]}..{gap[1]} missing",
                        gap[0],
                        gap[1],
                    )
                )
        self.stats.trades += int(keep.sum())
        if len(segments) == 1:
            if not keep.all():
                records = records[keep]
            if len(records):
                self._sink(records)
            return
        # Where each run of messages starts among the decoded records.
        starts = np.concatenate(([0], np.cumsum(ok))).tolist()
        position = 0
        for segment in segments:
            if isinstance(segment, int):
                first, last = starts[position], starts[position + segment]
                position += segment
                run = records[first:last]
                run_keep = keep[first:last]
                if not run_keep.all():
                    run = run[run_keep]
                if len(run):
                    self._sink(run)
            else:
                self._sink(segment)

    # -- depth ------------------------------------------------------------------------------------

    def _on_depth(self, symbol: str, data: Any, ts_recv: int) -> None:
        book = self.books[symbol]
        self._last_depth[symbol] = time.monotonic()
        instrument_id, diff = parse_depth_update(data, self.symbols)
        self.stats.depth_diffs += 1
        was_synced = book.state is BookState.SYNCED
        verdict = book.on_diff(diff)
        if verdict is BookInput.DIFF_IN_SEQUENCE:
            if self.config.depth_output is DepthOutput.DIFF:
                self._deliver(
                    diff_depth_records(
                        diff, instrument_id, ts_recv=ts_recv, source=self.config.source
                    )
                )
            else:
                self._deliver(self._book_record(book, ts_recv))
            if not was_synced and book.state is BookState.SYNCED:
                self._emit(
                    FeedEvent(FeedEventKind.BOOK_SYNCED, symbol, f"update id {book.update_id}")
                )
        request = book.take_resync_request()
        if request is not None:
            self.stats.depth_resyncs += 1
            self._emit(FeedEvent(FeedEventKind.DEPTH_RESYNC, symbol, request.describe()))
            self._start_snapshot(symbol)
        elif book.state is BookState.BUFFERING:
            # Spot and futures alike: the snapshot is asked for once a diff is buffered, so it
            # is not older than the first buffered event (VENUES.md §3.8 step 2, §4 step 1).
            self._start_snapshot(symbol)

    def _book_record(self, book: OrderBook, ts_recv: int) -> npt.NDArray[np.void]:
        out = self._depth_template.copy()
        write_book_depth(book, out, 0, ts_recv=ts_recv)
        return out

    def _start_snapshot(self, symbol: str) -> None:
        if symbol in self._fetching or self._stop.is_set():
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # driven by feed_message() outside a loop: the caller supplies snapshots
        self._fetching.add(symbol)
        self._spawn(self._snapshot_loop(symbol))

    async def _snapshot_loop(self, symbol: str) -> None:
        book = self.books[symbol]
        try:
            while not book.is_valid:
                generation = self._generation[symbol]
                try:
                    snapshot = await self._fetch_snapshot(symbol)
                except (aiohttp.ClientError, TimeoutError, BinanceMessageError, FeedError) as exc:
                    self._emit(
                        FeedEvent(
                            FeedEventKind.SNAPSHOT_FAILED, symbol, f"{type(exc).__name__}: {exc}"
                        )
                    )
                    await asyncio.sleep(self.config.snapshot_retry_s)
                    continue
                if generation != self._generation[symbol]:
                    continue  # the socket dropped meanwhile: this snapshot belongs to the old one
                try:
                    book.on_snapshot(snapshot)
                except BookError as exc:
                    self._emit(FeedEvent(FeedEventKind.SNAPSHOT_FAILED, symbol, str(exc)))
                    await asyncio.sleep(self.config.snapshot_retry_s)
                    continue
                self.stats.snapshots += 1
                request = book.take_resync_request()
                if request is not None:
                    self._emit(FeedEvent(FeedEventKind.DEPTH_RESYNC, symbol, request.describe()))
                    await asyncio.sleep(self.config.snapshot_retry_s)
                    continue
                self._flush_trades()
                self._sink(self._book_record(book, self._now_ns()))
                if book.state is BookState.SYNCED:
                    self._emit(
                        FeedEvent(FeedEventKind.BOOK_SYNCED, symbol, f"update id {book.update_id}")
                    )
        finally:
            self._fetching.discard(symbol)

    async def _fetch_snapshot(self, symbol: str) -> BookSnapshot:
        http = self._http
        if http is None:
            raise FeedError("the feed is not running")
        config = self.config
        limit = config.snapshot_limit or (1000 if config.is_futures else 5000)
        path = "/fapi/v1/depth" if config.is_futures else "/api/v3/depth"
        url = f"{config.base_rest_url()}{path}"
        async with http.get(url, params={"symbol": symbol, "limit": str(limit)}) as response:
            body = await response.read()
            if response.status != 200:
                raise FeedError(
                    f"GET {path}?symbol={symbol}: HTTP {response.status} {body[:200]!r}"
                )
        instrument = self.instruments[symbol]
        snapshot = parse_depth_snapshot(body, instrument.price_precision, instrument.size_precision)
        if snapshot.ts_event == 0:
            snapshot = dataclasses.replace(snapshot, ts_event=self.clock.server_now_ns())
        return snapshot

    async def _stall_watchdog(self) -> None:
        stall = self.config.depth_stall_s
        while True:
            await asyncio.sleep(min(1.0, stall / 4))
            now = time.monotonic()
            for symbol, book in self.books.items():
                last = self._last_depth.get(symbol)
                if last is None or symbol in self._fetching or now - last < stall:
                    continue
                if not any(c.ws is not None for c in self._connections):
                    continue
                self._last_depth[symbol] = now
                self.stats.depth_stalls += 1
                self._emit(
                    FeedEvent(
                        FeedEventKind.DEPTH_STALL, symbol, f"no depth update for {now - last:.1f} s"
                    )
                )
                book.reset()
                self._generation[symbol] += 1
                self._start_snapshot(symbol)

    # -- clock ------------------------------------------------------------------------------------

    async def _fetch_server_ms(self) -> int:
        http = self._http
        if http is None:
            raise FeedError("the feed is not running")
        path = "/fapi/v1/time" if self.config.is_futures else "/api/v3/time"
        async with http.get(f"{self.config.base_rest_url()}{path}") as response:
            body = await response.read()
            if response.status != 200:
                raise ClockError(f"GET {path}: HTTP {response.status}")
        return parse_server_time(body)

    async def _sync_clock(self) -> None:
        try:
            offset = await self.clock.measure(self._fetch_server_ms)
        except (aiohttp.ClientError, TimeoutError, ClockError) as exc:
            self._emit(FeedEvent(FeedEventKind.CLOCK_FAILED, detail=f"{type(exc).__name__}: {exc}"))
            return
        best = self.clock.best
        rtt = best.rtt_ns if best is not None else 0
        self._emit(
            FeedEvent(FeedEventKind.CLOCK_SYNCED, detail=f"offset {offset} ns, rtt {rtt} ns")
        )

    async def _clock_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.time_sync_interval_s)
            await self._sync_clock()


def stream_names(config: FeedConfig) -> list[str]:
    """Every stream name a configuration subscribes to."""
    return [stream_name(symbol, kind) for symbol in config.symbols for kind in config.streams]
