"""The mock Binance market: recorded or test-pushed market data served as Binance serves it.

:class:`MarketReplay` holds, per symbol, a book and the trade and update-id counters, and turns
market events (trades, top-of-book quotes, depth changes) into the venue's stream messages:
``trade``, ``aggTrade``, ``bookTicker`` and ``depthUpdate`` (``@depth`` and ``@depth@100ms``), in
spot or USD-M futures shape (``../shared/VENUES.md`` §3.7, §4; shapes follow the fixtures under
``tests/fixtures/binance``). Events come from the recorded fixtures (:func:`load_recorded_trades`,
:func:`load_recorded_quotes`) replayed at real, accelerated or unthrottled speed, or from a test
calling :meth:`MarketReplay.push_trade` and friends. Matching engines subscribe to the trades
(:meth:`MarketReplay.subscribe`).

:func:`add_market_routes` serves it on an aiohttp application:

* ``/ws/<stream>`` (raw), ``/ws`` (subscribe later) and ``/stream?streams=a/b`` (combined,
  ``{"stream","data"}``); for USD-M also under ``/public`` and ``/market``, the routed paths of
  ``fstream.binance.com``;
* the JSON methods ``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY`` and
  ``GET_PROPERTY`` with the documented replies and error messages;
* the limits: incoming messages per second (pings and pongs count) and streams per connection;
  a connection over either is closed with code 1008 "Too many requests" / "Too many streams"
  (the documented rule is "will be disconnected"; 1008 with that reason is what Binance's
  clients report);
* a ping frame every ``ping_interval_s`` and a disconnect when no pong came within
  ``pong_timeout_s``; a forced disconnect after ``max_connection_age_s`` (the 24-hour rule,
  scalable for tests);
* REST depth snapshots ``/api/v3/depth`` and ``/fapi/v1/depth`` whose ``lastUpdateId`` is the
  id of the last diff the streams carried (or skipped), and ``/api/v3/time``, ``/fapi/v1/time``
  when the application has no such route yet.

Fault injection (:class:`MarketReplay` methods): drop every socket, delay, duplicate or reorder
outgoing messages, stall the depth streams, skip depth updates (a gap).
"""

from __future__ import annotations

import asyncio
import csv
import enum
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from qk.venues.binance.streams import StreamKind, stream_name

__all__ = [
    "MARKET_REPLAY_KEY",
    "Market",
    "MarketLimits",
    "MarketReplay",
    "MarketServer",
    "ReplayEvent",
    "ReplayEventKind",
    "SymbolSpec",
    "TradeCallback",
    "add_market_routes",
    "load_recorded_quotes",
    "load_recorded_trades",
]

TradeCallback = Callable[[str, Decimal, Decimal, int, int], None]
"""``callback(symbol, price, qty, ts_ms, trade_id)``, called for every trade the mock prints."""

MARKET_REPLAY_KEY: web.AppKey[MarketReplay] = web.AppKey("qk_market_replay")
"""Where :func:`add_market_routes` stores the replay in the application."""

_FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
_SPOT_DEPTH_MAX = 5000
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_ID_MAX = 2**63 - 1


class Market(enum.Enum):
    """Which Binance market the mock speaks."""

    SPOT = "spot"
    USDM = "usdm"


@dataclass(frozen=True, slots=True)
class MarketLimits:
    """Connection rules of the market streams.

    Attributes:
        max_streams: Streams one connection may carry (1024 on both markets).
        max_incoming_per_s: Messages a client may send per second, pings and pongs included
            (spot 5, USD-M 10).
        ping_interval_s: Seconds between the server's ping frames (spot 20, USD-M 180).
        pong_timeout_s: Seconds without a pong before the server disconnects (spot 60, USD-M 600).
        max_connection_age_s: Seconds a connection lives (24 h on both).
    """

    max_streams: int = 1024
    max_incoming_per_s: int = 5
    ping_interval_s: float = 20.0
    pong_timeout_s: float = 60.0
    max_connection_age_s: float = 86_400.0

    @classmethod
    def for_market(cls, market: Market) -> MarketLimits:
        """The documented limits of a market (spot: VENUES.md §3.7; USD-M: the futures
        "Websocket Market Streams" page)."""
        if market is Market.USDM:
            return cls(max_incoming_per_s=10, ping_interval_s=180.0, pong_timeout_s=600.0)
        return cls()


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """How the mock writes a symbol's numbers.

    Attributes:
        price_decimals: Decimals of prices on the wire (spot writes 8: ``"25.35190000"``).
        qty_decimals: Decimals of quantities on the wire.
    """

    price_decimals: int = 8
    qty_decimals: int = 8


class ReplayEventKind(enum.Enum):
    """What a replayed event is."""

    TRADE = "trade"
    QUOTE = "quote"
    DEPTH = "depth"


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """One market event of a replay.

    Attributes:
        ts_ms: Venue time, ms since epoch.
        symbol: Venue symbol (``BTCUSDT``).
        kind: Trade, top-of-book quote or depth change.
        values: TRADE ``(price, qty, buyer_maker, trade_id or None)``; QUOTE ``(bid, bid_qty,
            ask, ask_qty)``; DEPTH ``(bids, asks)`` as ``((price, qty), ...)``.
    """

    ts_ms: int
    symbol: str
    kind: ReplayEventKind
    values: tuple[Any, ...]


def _ms_of(text: str, where: str) -> int:
    try:
        stamp = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{where}: timestamp {text!r} is not 'YYYY-MM-DD HH:MM:SS.fffZ'") from None
    return int(stamp.timestamp() * 1000 + 0.5)


def _exact(text: str, decimals: int, where: str) -> Decimal:
    """A CSV number (written from a float) at the venue's decimals: ``0.00031099999999999997``
    is the float for ``0.000311``."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    return value.quantize(Decimal(1).scaleb(-decimals))


def load_recorded_trades(path: str | Path, symbol: str, *, decimals: int = 8) -> list[ReplayEvent]:
    """The recorded trades CSV (``recorded_market_data/btcusdt-trades.csv``: timestamp,
    trade_id, price, quantity, buyer_maker) as TRADE events that keep the venue trade ids.

    Raises:
        ValueError: A row is malformed (the file, row and column are named).
    """
    events = []
    with open(path, newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=2):
            where = f"{path}: row {row_number}"
            try:
                maker = {"True": True, "False": False}[row["buyer_maker"]]
                trade_id = int(row["trade_id"])
                ts = _ms_of(row["timestamp"], f"{where}, column timestamp")
            except KeyError as exc:
                raise ValueError(f"{where}: missing or invalid column {exc}") from None
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            price = _exact(row["price"], decimals, f"{where}, column price")
            qty = _exact(row["quantity"], decimals, f"{where}, column quantity")
            events.append(
                ReplayEvent(ts, symbol, ReplayEventKind.TRADE, (price, qty, maker, trade_id))
            )
    return events


def load_recorded_quotes(path: str | Path, symbol: str, *, decimals: int = 8) -> list[ReplayEvent]:
    """The recorded quotes CSV (``recorded_market_data/btcusdt-quotes.csv``: timestamp, symbol,
    ask_size, ask, bid_size, bid) as QUOTE events.

    Raises:
        ValueError: A row is malformed (the file, row and column are named).
    """
    events = []
    with open(path, newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=2):
            where = f"{path}: row {row_number}"
            try:
                ts = _ms_of(row["timestamp"], f"{where}, column timestamp")
                values = tuple(
                    _exact(row[column], decimals, f"{where}, column {column}")
                    for column in ("bid", "bid_size", "ask", "ask_size")
                )
            except KeyError as exc:
                raise ValueError(f"{where}: missing column {exc}") from None
            events.append(ReplayEvent(ts, symbol, ReplayEventKind.QUOTE, values))
    return events


@dataclass(slots=True)
class _Book:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    update_id: int = 0
    trade_id: int = 0
    agg_id: int = 0
    last_ms: int = 0
    snapshot_served: bool = False


class _Outbox:
    """Where a subscriber's messages go: its streams and its outgoing queue."""

    def __init__(self, combined: bool) -> None:
        self.combined = combined
        self.streams: dict[str, None] = {}
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()


class _Session(_Outbox):
    """One websocket connection: an outbox plus the socket and its limits."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, combined: bool) -> None:
        super().__init__(combined)
        self.ws = ws
        self.request = request
        self.window_start = time.monotonic()
        self.window_count = 0
        self.last_pong = time.monotonic()
        self.opened = time.monotonic()

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class MarketReplay:
    """Market events → Binance stream messages, REST depth snapshots and trade callbacks.

    Args:
        market: Spot or USD-M futures shapes and rules.
        symbols: Symbol → wire formatting; symbols not named here are unknown to REST.
        limits: Connection rules (default: the market's documented ones).
        seed: Seeds the futures update-id jumps (futures ids are shared across symbols, so
            ``U`` skips ahead of the previous ``u + 1``), for deterministic runs.
        server_time_offset_ms: Added to the local clock in ``serverTime`` (clock tests).
    """

    def __init__(
        self,
        market: Market = Market.SPOT,
        symbols: dict[str, SymbolSpec] | Iterable[str] = ("BTCUSDT",),
        *,
        limits: MarketLimits | None = None,
        seed: int = 0,
        server_time_offset_ms: int = 0,
    ) -> None:
        self.market = market
        if isinstance(symbols, dict):
            self.symbols = dict(symbols)
        else:
            default = SymbolSpec() if market is Market.SPOT else SymbolSpec(2, 3)
            self.symbols = {symbol: default for symbol in symbols}
        self.limits = limits or MarketLimits.for_market(market)
        self.server_time_offset_ms = server_time_offset_ms
        self._rng = random.Random(seed)
        self._books = {symbol: _Book() for symbol in self.symbols}
        self._subscribers: list[TradeCallback] = []
        self._by_stream: dict[str, set[_Outbox]] = {}
        self.sessions: set[_Session] = set()
        self.connections_opened = 0
        self._events: list[ReplayEvent] = []
        # fault injection state
        self.delay_s = 0.0
        self._duplicate: list[Any] = [0, None]
        self._reorder: list[Any] = [0, None]
        self._held: tuple[str, bytes] | None = None
        self.depth_stalled = False
        self._skip_depth = 0
        self.depth_skipped = 0

    # -- inputs -----------------------------------------------------------------------------------

    def subscribe(self, callback: TradeCallback) -> None:
        """Call ``callback(symbol, price, qty, ts_ms, trade_id)`` for every trade printed."""
        self._subscribers.append(callback)

    def load(self, events: Iterable[ReplayEvent]) -> None:
        """Queue events for :meth:`run`, merged in time order with those already queued."""
        self._events.extend(events)
        self._events.sort(key=lambda event: event.ts_ms)

    async def run(self, speed: float | None = None) -> int:
        """Replay the loaded events.

        Args:
            speed: None replays as fast as possible; 1.0 in real time; 10.0 ten times faster.

        Returns:
            The number of events replayed.
        """
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0 or None, got {speed}")
        events, self._events = self._events, []
        started = time.monotonic()
        first_ms = events[0].ts_ms if events else 0
        for count, event in enumerate(events):
            if speed is not None:
                due = started + (event.ts_ms - first_ms) / 1000.0 / speed
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            elif count % 256 == 0:
                # Unthrottled, but the server's writers must get to run.
                await asyncio.sleep(0)
            self.apply(event)
        return len(events)

    def apply(self, event: ReplayEvent) -> None:
        """Publish one event now."""
        if event.kind is ReplayEventKind.TRADE:
            price, qty, maker, trade_id = event.values
            self.push_trade(
                event.symbol, price, qty, buyer_maker=maker, ts_ms=event.ts_ms, trade_id=trade_id
            )
        elif event.kind is ReplayEventKind.QUOTE:
            self.push_quote(event.symbol, *event.values, ts_ms=event.ts_ms)
        else:
            bids, asks = event.values
            self.push_depth(event.symbol, bids, asks, ts_ms=event.ts_ms)

    def _book(self, symbol: str) -> _Book:
        try:
            return self._books[symbol]
        except KeyError:
            known = ", ".join(sorted(self._books))
            raise KeyError(f"mock market: unknown symbol {symbol!r}; known: {known}") from None

    def _now_ms(self, book: _Book, ts_ms: int | None) -> int:
        if ts_ms is None:
            ts_ms = max(book.last_ms, time.time_ns() // 1_000_000)
        book.last_ms = ts_ms
        return ts_ms

    def push_trade(
        self,
        symbol: str,
        price: Decimal | str,
        qty: Decimal | str,
        *,
        buyer_maker: bool = False,
        ts_ms: int | None = None,
        trade_id: int | None = None,
    ) -> int:
        """Print a trade on ``@trade`` and ``@aggTrade`` (one trade per aggregate) and tell the
        subscribers.

        Returns:
            The trade id (the next one unless ``trade_id`` is given).
        """
        book = self._book(symbol)
        spec = self.symbols[symbol]
        ts = self._now_ms(book, ts_ms)
        book.trade_id = trade_id if trade_id is not None else book.trade_id + 1
        book.agg_id += 1
        price_d, qty_d = Decimal(price), Decimal(qty)
        p = _fmt(price_d, spec.price_decimals)
        q = _fmt(qty_d, spec.qty_decimals)
        tid = book.trade_id
        spot = self.market is Market.SPOT
        trade: dict[str, Any] = {
            "e": "trade",
            "E": ts,
            "s": symbol,
            "t": tid,
            "p": p,
            "q": q,
            "T": ts,
            "m": buyer_maker,
        }
        agg: dict[str, Any] = {
            "e": "aggTrade",
            "E": ts,
            "s": symbol,
            "a": book.agg_id,
            "p": p,
            "q": q,
            "f": tid,
            "l": tid,
            "T": ts,
            "m": buyer_maker,
        }
        if spot:
            trade["M"] = True
            agg["M"] = True
        self._publish(symbol, StreamKind.TRADE, trade)
        self._publish(symbol, StreamKind.AGG_TRADE, agg)
        for callback in self._subscribers:
            callback(symbol, price_d, qty_d, ts, tid)
        return tid

    def push_depth(
        self,
        symbol: str,
        bids: Sequence[tuple[Decimal | str, Decimal | str]] = (),
        asks: Sequence[tuple[Decimal | str, Decimal | str]] = (),
        *,
        ts_ms: int | None = None,
    ) -> tuple[int, int]:
        """Change book levels (absolute quantities, 0 removes) and publish the diff.

        Returns:
            The diff's ``(U, u)``.
        """
        book = self._book(symbol)
        spec = self.symbols[symbol]
        ts = self._now_ms(book, ts_ms)
        bid_levels = [(Decimal(p), Decimal(q)) for p, q in bids]
        ask_levels = [(Decimal(p), Decimal(q)) for p, q in asks]
        for side, levels in ((book.bids, bid_levels), (book.asks, ask_levels)):
            for price, qty in levels:
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        changes = max(1, len(bid_levels) + len(ask_levels))
        prev = book.update_id
        if self.market is Market.SPOT:
            first = prev + 1
        elif book.snapshot_served:
            # The USD-M procedure wants the first event after a snapshot to straddle its
            # lastUpdateId (U <= lastUpdateId <= u): on the venue the snapshot is taken while
            # the next 100 ms batch is still open. This mock publishes at once, so the event
            # after a snapshot starts at the snapshot's id.
            first = prev
        else:
            # USD-M ids are shared across the venue's symbols, so U jumps past pu + 1 (the
            # recording shows U=...435 after pu=...400).
            first = prev + 1 + self._rng.randint(0, 40)
        book.snapshot_served = False
        book.update_id = max(first + changes - 1, prev + 1)
        message: dict[str, Any] = {"e": "depthUpdate", "E": ts}
        if self.market is Market.USDM:
            message["T"] = ts
        message.update({"s": symbol, "U": first, "u": book.update_id})
        if self.market is Market.USDM:
            message["pu"] = prev
        message["b"] = [
            [_fmt(p, spec.price_decimals), _fmt(q, spec.qty_decimals)] for p, q in bid_levels
        ]
        message["a"] = [
            [_fmt(p, spec.price_decimals), _fmt(q, spec.qty_decimals)] for p, q in ask_levels
        ]
        if self._skip_depth > 0:
            self._skip_depth -= 1
            self.depth_skipped += 1
        elif not self.depth_stalled:
            self._publish(symbol, StreamKind.DEPTH, message)
            self._publish(symbol, StreamKind.DEPTH_100MS, message)
        return first, book.update_id

    def push_quote(
        self,
        symbol: str,
        bid: Decimal | str,
        bid_qty: Decimal | str,
        ask: Decimal | str,
        ask_qty: Decimal | str,
        *,
        ts_ms: int | None = None,
    ) -> None:
        """Move the top of the book: a depth diff (new best levels set, old best levels that
        moved removed) and then a bookTicker with the same update id."""
        book = self._book(symbol)
        spec = self.symbols[symbol]
        bid_d, bid_q, ask_d, ask_q = (Decimal(v) for v in (bid, bid_qty, ask, ask_qty))
        bids = [(p, Decimal(0)) for p in book.bids if p > bid_d or (p == bid_d and bid_q == 0)]
        asks = [(p, Decimal(0)) for p in book.asks if p < ask_d or (p == ask_d and ask_q == 0)]
        bids.append((bid_d, bid_q))
        asks.append((ask_d, ask_q))
        self.push_depth(symbol, bids, asks, ts_ms=ts_ms)
        ts = book.last_ms
        ticker: dict[str, Any] = {}
        if self.market is Market.USDM:
            ticker.update({"e": "bookTicker", "u": book.update_id, "E": ts, "T": ts})
        else:
            ticker["u"] = book.update_id
        ticker.update(
            {
                "s": symbol,
                "b": _fmt(bid_d, spec.price_decimals),
                "B": _fmt(bid_q, spec.qty_decimals),
                "a": _fmt(ask_d, spec.price_decimals),
                "A": _fmt(ask_q, spec.qty_decimals),
            }
        )
        self._publish(symbol, StreamKind.BOOK_TICKER, ticker)

    def render(self, events: Iterable[ReplayEvent], streams: Iterable[str]) -> list[str]:
        """Apply events and return the combined-stream messages they produce on ``streams``,
        as a connection subscribed to them would receive them (benchmarks pre-render a run so
        that they time the client, not the mock)."""
        outbox = _Outbox(combined=True)
        names = list(streams)
        self._add_streams(outbox, names)
        try:
            for event in events:
                self.apply(event)
        finally:
            self._remove_streams(outbox, names)
        messages = []
        while not outbox.queue.empty():
            message = outbox.queue.get_nowait()
            if message is not None:
                messages.append(message)
        return messages

    def send_raw(self, messages: Sequence[str]) -> int:
        """Write ready-made messages to every connection as text frames, straight to the
        socket: no queue, no delay fault. For benchmarks, where the mock's per-message writer
        must not be what is measured; messages already queued may follow these.

        Returns:
            Connections written to.
        """
        blob = b"".join(_text_frame(message.encode()) for message in messages)
        sessions = list(self.sessions)
        for session in sessions:
            transport = session.request.transport
            if transport is not None and not transport.is_closing():
                transport.write(blob)
        return len(sessions)

    # -- snapshots --------------------------------------------------------------------------------

    def snapshot(self, symbol: str, limit: int) -> dict[str, Any]:
        """The REST depth response: the best ``limit`` levels per side and the id of the last
        update they include."""
        book = self._book(symbol)
        book.snapshot_served = True
        spec = self.symbols[symbol]
        bids = sorted(book.bids.items(), reverse=True)[:limit]
        asks = sorted(book.asks.items())[:limit]
        body: dict[str, Any] = {"lastUpdateId": book.update_id}
        if self.market is Market.USDM:
            body["E"] = max(book.last_ms, time.time_ns() // 1_000_000)
            body["T"] = book.last_ms
        body["bids"] = [[_fmt(p, spec.price_decimals), _fmt(q, spec.qty_decimals)] for p, q in bids]
        body["asks"] = [[_fmt(p, spec.price_decimals), _fmt(q, spec.qty_decimals)] for p, q in asks]
        return body

    def update_id(self, symbol: str) -> int:
        """The id of the symbol's last book update."""
        return self._book(symbol).update_id

    # -- fault injection --------------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Abort every websocket's TCP connection with no close frame (a network drop).

        Returns:
            Connections dropped.
        """
        sessions = list(self.sessions)
        for session in sessions:
            session.abort()
        return len(sessions)

    async def disconnect_all(self, code: int = 1000, reason: str = "") -> int:
        """Close every websocket with a close frame (what the 24-hour rule does)."""
        sessions = list(self.sessions)
        for session in sessions:
            await session.ws.close(code=code, message=reason.encode())
        return len(sessions)

    def server_shutdown(self) -> int:
        """Send every connection the ``serverShutdown`` event Binance sends before maintenance
        (``{"e":"serverShutdown","E":...}``; stream ``!serverShutdown`` when combined).

        Returns:
            Connections told.
        """
        payload = orjson.dumps({"e": "serverShutdown", "E": self.server_time_ms()}).decode()
        for session in self.sessions:
            if session.combined:
                session.queue.put_nowait(f'{{"stream":"!serverShutdown","data":{payload}}}')
            else:
                session.queue.put_nowait(payload)
        return len(self.sessions)

    def set_delay(self, seconds: float) -> None:
        """Hold every outgoing message this long before sending it."""
        self.delay_s = max(0.0, seconds)

    def duplicate_next(self, count: int = 1, kind: StreamKind | None = None) -> None:
        """Send the next ``count`` messages (of ``kind``, or any) twice."""
        self._duplicate = [count, kind]

    def reorder_next(self, count: int = 1, kind: StreamKind | None = None) -> None:
        """Swap the next ``count`` pairs of consecutive messages (of ``kind``, or any)."""
        self._reorder = [count, kind]

    def stall_depth(self, stalled: bool = True) -> None:
        """Stop (or resume) the depth streams; diffs made meanwhile are never sent."""
        self.depth_stalled = stalled

    def skip_depth_next(self, count: int = 1) -> None:
        """Apply the next ``count`` depth updates to the book without sending them (a gap)."""
        self._skip_depth += count

    # -- fan-out ----------------------------------------------------------------------------------

    def _publish(self, symbol: str, kind: StreamKind, data: dict[str, Any]) -> None:
        name = stream_name(symbol, kind)
        if name not in self._by_stream:
            return
        payload = orjson.dumps(data)
        count, which = self._reorder
        if count > 0 and which in (None, kind):
            if self._held is None:
                self._held = (name, payload)
                return
            held, self._held = self._held, None
            self._reorder[0] = count - 1
            self._send(name, payload)
            self._send(*held)
            return
        self._send(name, payload)
        count, which = self._duplicate
        if count > 0 and which in (None, kind):
            self._duplicate[0] = count - 1
            self._send(name, payload)

    def _send(self, name: str, payload: bytes) -> None:
        sessions = self._by_stream.get(name)
        if not sessions:
            return
        raw: str | None = None
        wrapped: str | None = None
        for session in sessions:
            if session.combined:
                if wrapped is None:
                    wrapped = f'{{"stream":"{name}","data":{payload.decode()}}}'
                session.queue.put_nowait(wrapped)
            else:
                if raw is None:
                    raw = payload.decode()
                session.queue.put_nowait(raw)

    def _add_streams(self, session: _Outbox, names: Iterable[str]) -> None:
        for name in names:
            session.streams[name] = None
            self._by_stream.setdefault(name, set()).add(session)

    def _remove_streams(self, session: _Outbox, names: Iterable[str]) -> None:
        for name in names:
            session.streams.pop(name, None)
            sessions = self._by_stream.get(name)
            if sessions is not None:
                sessions.discard(session)
                if not sessions:
                    del self._by_stream[name]

    def server_time_ms(self) -> int:
        """The mock's ``serverTime``."""
        return time.time_ns() // 1_000_000 + self.server_time_offset_ms


def _text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented websocket text frame (RFC 6455 §5.2), as a server sends."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def _fmt(value: Decimal, decimals: int) -> str:
    return f"{value:.{decimals}f}"


# -- aiohttp routes ---------------------------------------------------------------------------------


def add_market_routes(app: web.Application, replay: MarketReplay) -> None:
    """Serve ``replay``'s streams, depth snapshots and (if absent) server time on ``app``."""
    app[MARKET_REPLAY_KEY] = replay
    prefixes = ("", "/public", "/market") if replay.market is Market.USDM else ("",)
    for prefix in prefixes:
        app.router.add_get(f"{prefix}/ws", _ws_handler)
        app.router.add_get(f"{prefix}/ws/{{stream}}", _ws_handler)
        app.router.add_get(f"{prefix}/stream", _ws_handler)
    rest = "/fapi/v1" if replay.market is Market.USDM else "/api/v3"
    app.router.add_get(f"{rest}/depth", _depth_handler)
    existing = {getattr(r.resource, "canonical", None) for r in app.router.routes()}
    if f"{rest}/time" not in existing:
        app.router.add_get(f"{rest}/time", _time_handler)


def _error(status: int, code: int, msg: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"code": code, "msg": msg}),
        content_type="application/json",
    )


async def _time_handler(request: web.Request) -> web.Response:
    replay = request.app[MARKET_REPLAY_KEY]
    return web.Response(
        body=orjson.dumps({"serverTime": replay.server_time_ms()}), content_type="application/json"
    )


async def _depth_handler(request: web.Request) -> web.Response:
    replay = request.app[MARKET_REPLAY_KEY]
    symbol = request.query.get("symbol", "")
    if not symbol:
        return _error(
            400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
        )
    if symbol not in replay.symbols:
        return _error(400, -1121, "Invalid symbol.")
    futures = replay.market is Market.USDM
    text = request.query.get("limit", "500" if futures else "100")
    legal = ", ".join(map(str, _FUTURES_DEPTH_LIMITS)) if futures else f"1-{_SPOT_DEPTH_MAX}"
    try:
        limit = int(text)
    except ValueError:
        limit = -1
    if (limit not in _FUTURES_DEPTH_LIMITS) if futures else limit < 1:
        return _error(
            400, -1100, f"Illegal characters found in parameter 'limit'; legal range is '{legal}'."
        )
    # Spot documents that a limit above 5000 is truncated to 5000.
    limit = min(limit, _SPOT_DEPTH_MAX)
    return web.Response(
        body=orjson.dumps(replay.snapshot(symbol, limit)), content_type="application/json"
    )


async def _ws_handler(request: web.Request) -> web.WebSocketResponse:
    replay = request.app[MARKET_REPLAY_KEY]
    ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    combined = request.path.endswith("/stream")
    if combined:
        names = [n for n in request.query.get("streams", "").split("/") if n]
    else:
        names = [request.match_info["stream"]] if "stream" in request.match_info else []
    session = _Session(ws, request, combined)
    replay.sessions.add(session)
    replay.connections_opened += 1
    writer = asyncio.create_task(_writer(replay, session))
    keeper = asyncio.create_task(_keepalive(replay, session))
    try:
        if len(names) > replay.limits.max_streams:
            await ws.close(code=1008, message=b"Too many streams")
            return ws
        replay._add_streams(session, names)
        await _reader(replay, session)
    finally:
        replay.sessions.discard(session)
        replay._remove_streams(session, list(session.streams))
        session.queue.put_nowait(None)
        keeper.cancel()
        await asyncio.gather(writer, keeper, return_exceptions=True)
    return ws


async def _writer(replay: MarketReplay, session: _Session) -> None:
    ws = session.ws
    while True:
        message = await session.queue.get()
        if message is None or ws.closed:
            return
        if replay.delay_s:
            await asyncio.sleep(replay.delay_s)
        try:
            await ws.send_str(message)
        except ConnectionError:
            return


async def _keepalive(replay: MarketReplay, session: _Session) -> None:
    limits = replay.limits
    tick = min(limits.ping_interval_s, limits.pong_timeout_s, limits.max_connection_age_s)
    next_ping = time.monotonic() + limits.ping_interval_s
    while not session.ws.closed:
        await asyncio.sleep(min(tick, 1.0) if tick > 0.05 else 0.05)
        now = time.monotonic()
        if now - session.opened >= limits.max_connection_age_s:
            await session.ws.close(code=1000, message=b"Connection age limit")
            return
        if now - session.last_pong >= limits.pong_timeout_s:
            await session.ws.close(code=1000, message=b"Pong timeout")
            return
        if now >= next_ping:
            next_ping = now + limits.ping_interval_s
            try:
                await session.ws.ping(str(time.time_ns() // 1_000_000).encode())
            except ConnectionError:
                return


async def _reader(replay: MarketReplay, session: _Session) -> None:
    ws = session.ws
    async for msg in ws:
        now = time.monotonic()
        if now - session.window_start >= 1.0:
            session.window_start = now
            session.window_count = 0
        session.window_count += 1
        if session.window_count > replay.limits.max_incoming_per_s:
            await ws.close(code=1008, message=b"Too many requests")
            return
        if msg.type is WSMsgType.PING:
            await ws.pong(msg.data)
        elif msg.type is WSMsgType.PONG:
            session.last_pong = now
        elif msg.type is WSMsgType.TEXT:
            reply = _control(replay, session, msg.data)
            if reply is None:
                return
            await ws.send_str(reply.decode())
        elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return


def _valid_id(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_ID_MAX - 1 <= value <= _ID_MAX
    return isinstance(value, str) and len(value) <= 36 and value.isalnum()


def _control(replay: MarketReplay, session: _Session, text: str) -> bytes | None:
    """Answer one JSON method (the replies and errors of the "Live subscribing" section);
    None when the connection was closed for breaking a limit."""
    try:
        request = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return orjson.dumps(
            {
                "code": 3,
                "msg": f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}",
            }
        )
    if not isinstance(request, dict) or "method" not in request:
        return orjson.dumps(
            {
                "code": 2,
                "msg": f"Invalid request: missing field `method` at line 1 column {len(text)}",
            }
        )
    request_id = request.get("id")
    if not _valid_id(request_id):
        return orjson.dumps(
            {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}
        )
    method = request["method"]
    if method not in _METHODS:
        variants = ", ".join(f"`{m}`" for m in _METHODS)
        return orjson.dumps(
            {
                "code": 2,
                "msg": f"Invalid request: unknown variant `{method}`, expected one of {variants} at line 1 column 28",
            }
        )
    params = request.get("params", [])
    if not isinstance(params, list):
        return orjson.dumps({"code": 2, "msg": "Invalid request: too many parameters"})
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not all(isinstance(p, str) for p in params):
            return orjson.dumps(
                {"code": 2, "msg": "Invalid request: property name must be a string"}
            )
        if method == "SUBSCRIBE":
            wanted = set(session.streams) | set(params)
            if len(wanted) > replay.limits.max_streams:
                asyncio.get_running_loop().create_task(
                    session.ws.close(code=1008, message=b"Too many streams")
                )
                return None
            replay._add_streams(session, params)
        else:
            replay._remove_streams(session, params)
        return orjson.dumps({"result": None, "id": request_id})
    if method == "LIST_SUBSCRIPTIONS":
        return orjson.dumps({"result": list(session.streams), "id": request_id})
    if not params or not isinstance(params[0], str):
        return orjson.dumps({"code": 2, "msg": "Invalid request: property name must be a string"})
    if params[0] != "combined":
        return orjson.dumps({"code": 0, "msg": "Unknown property", "id": request_id})
    if method == "GET_PROPERTY":
        return orjson.dumps({"result": session.combined, "id": request_id})
    if len(params) != 2 or not isinstance(params[1], bool):
        return orjson.dumps({"code": 1, "msg": "Invalid value type: expected Boolean"})
    session.combined = params[1]
    return orjson.dumps({"result": None, "id": request_id})


class MarketServer:
    """An aiohttp server for a replay on loopback, for tests and benchmarks::

        async with MarketServer(replay) as server:
            feed_config = FeedConfig(ws_url=server.ws_url, rest_url=server.rest_url, ...)

    Args:
        replay: What to serve.
        host: Interface to bind (loopback by default).
        port: Port (0: an ephemeral one, see :attr:`port`).
    """

    def __init__(self, replay: MarketReplay, host: str = "127.0.0.1", port: int = 0) -> None:
        self.replay = replay
        self.host = host
        self.port = port
        self.app = web.Application()
        add_market_routes(self.app, replay)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve; :attr:`port` is then the bound port."""
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Drop every connection and stop serving."""
        self.replay.drop_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def ws_url(self) -> str:
        """Websocket base URL (``ws://127.0.0.1:<port>``)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """REST base URL (``http://127.0.0.1:<port>``)."""
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> MarketServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
