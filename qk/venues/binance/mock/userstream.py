"""User-data delivery: spot over the WebSocket API, futures (and legacy spot) over listenKey streams.

Spot (VENUES.md §3.9, user-data-stream.md): after ``userDataStream.subscribe.signature`` on
``/ws-api/v3`` events arrive wrapped as ``{"subscriptionId": N, "event": {...}}``. Futures
(VENUES.md §4): ``POST /fapi/v1/listenKey`` gives a key valid for 60 minutes (an account with an
active key gets the same key back, extended); ``PUT`` extends it, ``DELETE`` closes it, -1125 when
it does not exist; events arrive unwrapped on ``/ws/<listenKey>`` (also ``/private/ws/<key>`` and
``?listenKey=``, which python-binance uses). Each connection has its own send queue, so events
leave in the order they were published; the duplicate, reorder and drop faults act here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

from qk.venues.binance.mock import errors
from qk.venues.binance.mock.faults import Faults

Channel = Literal["spot", "futures"]
LISTEN_KEY_TTL_MS = 3_600_000


@dataclass
class _Subscriber:
    ws: web.WebSocketResponse
    channel: Channel
    subscription_id: int | None
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    sent: int = 0


@dataclass
class ListenKey:
    """One listenKey: which channel it serves and until when (server ms)."""

    key: str
    channel: Channel
    expires_ms: int


class UserStreamHub:
    """Subscribers of both channels, listenKeys, and fault-aware fan-out."""

    def __init__(self, faults: Faults, clock: Callable[[], int]) -> None:
        self._faults = faults
        self._clock = clock
        self._subscribers: list[_Subscriber] = []
        self._held: dict[Channel, bytes | None] = {"spot": None, "futures": None}
        self._listen_keys: dict[str, ListenKey] = {}
        self._next_subscription = 0
        self._key_counter = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # -- listenKeys -------------------------------------------------------------------------------

    def create_listen_key(self, channel: Channel, api_key: str) -> str:
        """Return the live key of this channel (extended) or a new one."""
        now = self._clock()
        for lk in self._listen_keys.values():
            if lk.channel == channel and lk.expires_ms > now:
                lk.expires_ms = now + LISTEN_KEY_TTL_MS
                return lk.key
        self._key_counter += 1
        key = hashlib.sha256(f"{api_key}:{channel}:{self._key_counter}".encode()).hexdigest()[:64]
        self._listen_keys[key] = ListenKey(key, channel, now + LISTEN_KEY_TTL_MS)
        return key

    def active_key(self, channel: Channel) -> str:
        """The channel's live listenKey; -1125 when there is none."""
        now = self._clock()
        for lk in self._listen_keys.values():
            if lk.channel == channel and lk.expires_ms > now:
                return lk.key
        raise errors.invalid_listen_key()

    def keepalive(self, key: str) -> None:
        """Extend ``key`` by 60 minutes; -1125 when it is unknown or expired."""
        self.require_live(key)
        self._listen_keys[key].expires_ms = self._clock() + LISTEN_KEY_TTL_MS

    def close_listen_key(self, key: str) -> None:
        """Forget ``key`` and close its connections; -1125 when unknown."""
        self.require_live(key)
        del self._listen_keys[key]

    def require_live(self, key: str) -> ListenKey:
        """The listenKey record, or -1125."""
        lk = self._listen_keys.get(key)
        if lk is None or lk.expires_ms <= self._clock():
            raise errors.invalid_listen_key()
        return lk

    # -- subscribers ------------------------------------------------------------------------------

    def add_subscriber(
        self, ws: web.WebSocketResponse, channel: Channel, wrapped: bool
    ) -> int | None:
        """Register a connection; returns the subscriptionId for wrapped (WebSocket API) delivery."""
        subscription_id: int | None = None
        if wrapped:
            subscription_id = self._next_subscription
            self._next_subscription += 1
        sub = _Subscriber(ws, channel, subscription_id)
        self._subscribers.append(sub)
        task = asyncio.get_running_loop().create_task(self._sender(sub))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return subscription_id

    def remove_connection(self, ws: web.WebSocketResponse) -> None:
        """Forget every subscription of ``ws``."""
        for sub in [s for s in self._subscribers if s.ws is ws]:
            self._subscribers.remove(sub)
            sub.queue.put_nowait(None)

    def unsubscribe(self, ws: web.WebSocketResponse, subscription_id: int) -> bool:
        """Drop one WebSocket API subscription; False if it was not this connection's."""
        for sub in self._subscribers:
            if sub.ws is ws and sub.subscription_id == subscription_id:
                self._subscribers.remove(sub)
                sub.queue.put_nowait(None)
                return True
        return False

    @property
    def subscriber_count(self) -> int:
        """Connections currently registered."""
        return len(self._subscribers)

    async def drop_all(self) -> None:
        """Close every user-data connection abruptly (the drop fault)."""
        for sub in list(self._subscribers):
            self._subscribers.remove(sub)
            sub.queue.put_nowait(None)
            await sub.ws.close(code=1011, message=b"dropped by fault injection")

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, channel: Channel, event: dict[str, Any]) -> None:
        """Send ``event`` to every subscriber of ``channel``, applying the stream faults."""
        payload = orjson.dumps(event)
        batch: list[bytes] = [payload]
        if self._faults.reorder_events:
            held = self._held[channel]
            if held is None:
                self._held[channel] = payload
                return
            self._held[channel] = None
            batch = [payload, held]
        for item in batch:
            copies = 2 if self._faults.duplicate_events else 1
            for _ in range(copies):
                self._fan_out(channel, item)

    def flush(self) -> None:
        """Send an event held back by the reorder fault."""
        for channel, held in list(self._held.items()):
            if held is not None:
                self._held[channel] = None
                self._fan_out(channel, held)

    def _fan_out(self, channel: Channel, event_json: bytes) -> None:
        for sub in self._subscribers:
            if sub.channel != channel:
                continue
            if sub.subscription_id is not None:
                frame = b'{"subscriptionId":%d,"event":%s}' % (sub.subscription_id, event_json)
            else:
                frame = event_json
            sub.queue.put_nowait(frame)

    async def _sender(self, sub: _Subscriber) -> None:
        while True:
            frame = await sub.queue.get()
            if frame is None or sub.ws.closed:
                return
            try:
                await sub.ws.send_str(frame.decode())
            except (ConnectionError, RuntimeError):
                return
            sub.sent += 1
            limit = self._faults.drop_after_events
            if limit is not None and sub.sent >= limit:
                if sub in self._subscribers:
                    self._subscribers.remove(sub)
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await sub.ws.close(code=1011, message=b"dropped by fault injection")
                return

    async def close(self) -> None:
        """Stop every sender task."""
        for sub in list(self._subscribers):
            sub.queue.put_nowait(None)
        self._subscribers.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
