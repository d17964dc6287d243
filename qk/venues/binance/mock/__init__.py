"""A protocol-faithful mock of Binance spot and USD-M futures on loopback.

One aiohttp server speaks the documented REST paths (``/api/v3/...`` and ``/fapi/v1|v2|v3/...``),
verifies HMAC-SHA256 signatures, timestamps and API keys as Binance does, answers with Binance's
error codes and rate-limit headers, matches orders against replayed or pushed trades
(:mod:`.matching`), and pushes user data over the WebSocket API (spot) and listenKey streams
(futures). Faults can be injected (:mod:`.faults`). ``qk mock-venue binance`` serves it
(:mod:`.cli`); tests start it on port 0 with :class:`~.server.MockBinanceServer`.
"""
