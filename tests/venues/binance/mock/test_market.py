"""The mock Binance market: message shapes against the fixtures, the JSON methods, the limits,
pings, the forced disconnect, REST depth consistent with the diffs, fault injection, replay."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

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
from qk.venues.binance.streams import StreamKind

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "binance"
T = TypeVar("T")
ALL = (
    "btcusdt@trade",
    "btcusdt@aggTrade",
    "btcusdt@bookTicker",
    "btcusdt@depth",
    "btcusdt@depth@100ms",
)


def _fixture(path: str) -> Any:
    return orjson.loads((FIXTURES / path).read_bytes())


def _serve(replay: MarketReplay, body: Callable[[MarketServer], Awaitable[T]]) -> T:
    async def main() -> T:
        async with MarketServer(replay) as server:
            return await body(server)

    return asyncio.run(asyncio.wait_for(main(), 20))


async def _recv(ws: websockets.ClientConnection, count: int) -> list[Any]:
    return [orjson.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(count)]


async def _settle() -> None:
    # Let the server register a fresh connection's streams before the test publishes.
    await asyncio.sleep(0.1)


def _by_stream(messages: list[Any]) -> dict[str, Any]:
    return {m["stream"].split("@", 1)[1]: m["data"] for m in messages}


def test_spot_messages_have_the_fixture_shapes() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])

    async def body(server: MarketServer) -> dict[str, Any]:
        async with websockets.connect(f"{server.ws_url}/stream?streams={'/'.join(ALL)}") as ws:
            await _settle()
            replay.push_trade(
                "BTCUSDT", "39432.48", "0.000263", buyer_maker=True, ts_ms=1610064000278
            )
            replay.push_quote(
                "BTCUSDT", "39432.99", "0.0031", "39433.62", "0.066851", ts_ms=1610064001076
            )
            messages = await _recv(ws, 5)
        assert all(set(m) == {"stream", "data"} for m in messages)
        return _by_stream(messages)

    got = _serve(replay, body)
    assert set(got["trade"]) == set(_fixture("spot_docs_examples/ws_trade.json"))
    assert set(got["aggTrade"]) == set(_fixture("spot_docs_examples/ws_agg_trade.json"))
    assert set(got["bookTicker"]) == set(_fixture("spot_docs_examples/ws_book_ticker.json"))
    assert set(got["depth"]) == set(_fixture("spot_docs_examples/ws_depth_update.json"))
    assert got["depth@100ms"] == got["depth"]
    trade = got["trade"]
    assert (trade["p"], trade["q"], trade["m"], trade["T"]) == (
        "39432.48000000",
        "0.00026300",
        True,
        1610064000278,
    )
    assert got["bookTicker"]["u"] == got["depth"]["u"]
    assert got["bookTicker"]["b"] == "39432.99000000" and got["bookTicker"]["A"] == "0.06685100"


def test_futures_messages_have_the_fixture_shapes() -> None:
    replay = MarketReplay(Market.USDM, ["BTCUSDT"])
    futures = "nautilus_crate_fixtures/futures/market_data_json"

    async def body(server: MarketServer) -> dict[str, Any]:
        # USD-M routes book streams under /public and trades under /market; both work here.
        async with (
            websockets.connect(
                f"{server.ws_url}/public/stream?streams=btcusdt@bookTicker/btcusdt@depth"
            ) as book,
            websockets.connect(
                f"{server.ws_url}/market/stream?streams=btcusdt@trade/btcusdt@aggTrade"
            ) as trades,
        ):
            await _settle()
            replay.push_trade("BTCUSDT", "20377.0", "1.77")
            replay.push_quote("BTCUSDT", "20376.9", "0.001", "20377.1", "2.5")
            return _by_stream(await _recv(trades, 2) + await _recv(book, 2))

    got = _serve(replay, body)
    assert set(got["trade"]) == set(_fixture(f"{futures}/trade_stream.json"))
    assert set(got["aggTrade"]) == set(_fixture(f"{futures}/agg_trade_stream.json")) - {"st"}
    assert set(got["bookTicker"]) == set(_fixture(f"{futures}/book_ticker_stream.json")) - {
        "st",
        "ps",
    }
    assert set(got["depth"]) == set(_fixture(f"{futures}/depth_update_stream.json")) - {"st", "ps"}
    assert got["trade"]["p"] == "20377.00" and got["trade"]["q"] == "1.770"
    assert got["depth"]["pu"] < got["depth"]["U"] <= got["depth"]["u"]


def test_raw_stream_sends_unwrapped_payloads() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])

    async def body(server: MarketServer) -> Any:
        async with websockets.connect(f"{server.ws_url}/ws/btcusdt@trade") as ws:
            await _settle()
            replay.push_trade("BTCUSDT", "1.5", "2")
            return (await _recv(ws, 1))[0]

    message = _serve(replay, body)
    assert message["e"] == "trade" and message["t"] == 1 and "stream" not in message


def test_json_methods_answer_as_documented() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"], limits=MarketLimits(max_incoming_per_s=100))
    request = _fixture("spot_docs_examples/ws_subscribe_request.json")

    async def body(server: MarketServer) -> list[Any]:
        async with websockets.connect(f"{server.ws_url}/ws") as ws:
            replies = []
            for message in (
                request,
                {"method": "LIST_SUBSCRIPTIONS", "id": 3},
                {"method": "UNSUBSCRIBE", "params": ["btcusdt@depth"], "id": 312},
                {"method": "LIST_SUBSCRIPTIONS", "id": 4},
                {"method": "GET_PROPERTY", "params": ["combined"], "id": 2},
                {"method": "SET_PROPERTY", "params": ["combined", True], "id": 5},
                {"method": "GET_PROPERTY", "params": ["combined"], "id": 6},
                {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 7},
                {"method": "GET_PROPERTY", "params": ["colour"], "id": 8},
                {"method": "SUBSCRIBES", "params": [], "id": 9},
                {"params": [], "id": 10},
                {"method": "LIST_SUBSCRIPTIONS", "id": 1.5},
            ):
                await ws.send(orjson.dumps(message).decode())
                replies.append((await _recv(ws, 1))[0])
            await ws.send("{not json")
            replies.append((await _recv(ws, 1))[0])
            replay.push_trade("BTCUSDT", "1", "1")  # combined is on now: wrapped
            replies.append((await _recv(ws, 1))[0])
            return replies

    replies = _serve(replay, body)
    assert replies[0] == _fixture("spot_docs_examples/ws_subscribe_response.json")
    assert replies[1] == {"result": ["btcusdt@aggTrade", "btcusdt@depth"], "id": 3}
    assert replies[2] == {"result": None, "id": 312}
    assert replies[3] == {"result": ["btcusdt@aggTrade"], "id": 4}
    assert replies[4] == {"result": False, "id": 2}
    assert replies[5] == {"result": None, "id": 5}
    assert replies[6] == {"result": True, "id": 6}
    assert replies[7] == {"code": 1, "msg": "Invalid value type: expected Boolean"}
    assert replies[8] == {"code": 0, "msg": "Unknown property", "id": 8}
    assert replies[9]["code"] == 2 and "unknown variant `SUBSCRIBES`" in replies[9]["msg"]
    assert replies[10]["code"] == 2 and "missing field `method`" in replies[10]["msg"]
    assert replies[11] == {
        "code": 2,
        "msg": "Invalid request: request ID must be an unsigned integer",
    }
    assert replies[12]["code"] == 3 and replies[12]["msg"].startswith("Invalid JSON")
    assert replies[13]["stream"] == "btcusdt@aggTrade"


def test_message_rate_over_the_limit_is_disconnected() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"], limits=MarketLimits(max_incoming_per_s=3))

    async def body(server: MarketServer) -> ConnectionClosed:
        async with websockets.connect(f"{server.ws_url}/ws") as ws:
            with pytest.raises(ConnectionClosed) as info:
                for request_id in range(10):
                    await ws.send(
                        orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}).decode()
                    )
                    await asyncio.wait_for(ws.recv(), 5)
            return info.value

    closed = _serve(replay, body)
    assert closed.rcvd is not None and (closed.rcvd.code, closed.rcvd.reason) == (
        1008,
        "Too many requests",
    )


@pytest.mark.parametrize("by_message", [False, True])
def test_too_many_streams_is_disconnected(by_message: bool) -> None:
    replay = MarketReplay(
        Market.SPOT, ["BTCUSDT"], limits=MarketLimits(max_streams=2, max_incoming_per_s=50)
    )
    names = ["btcusdt@trade", "btcusdt@aggTrade", "btcusdt@bookTicker"]

    async def body(server: MarketServer) -> ConnectionClosed:
        url = f"{server.ws_url}/stream" + ("" if by_message else f"?streams={'/'.join(names)}")
        async with websockets.connect(url) as ws:
            if by_message:
                await ws.send(
                    orjson.dumps({"method": "SUBSCRIBE", "params": names[:2], "id": 1}).decode()
                )
                assert (await _recv(ws, 1))[0] == {"result": None, "id": 1}
                await ws.send(
                    orjson.dumps({"method": "SUBSCRIBE", "params": names[2:], "id": 2}).decode()
                )
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            return info.value

    closed = _serve(replay, body)
    assert closed.rcvd is not None and (closed.rcvd.code, closed.rcvd.reason) == (
        1008,
        "Too many streams",
    )


def test_pings_need_pongs() -> None:
    limits = MarketLimits(ping_interval_s=0.1, pong_timeout_s=0.6, max_incoming_per_s=100)
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"], limits=limits)

    async def body(server: MarketServer) -> tuple[int, bool, bool]:
        async with aiohttp.ClientSession() as http:
            silent = await http.ws_connect(f"{server.ws_url}/ws", autoping=False)
            answering = await http.ws_connect(f"{server.ws_url}/ws", autoping=True)
            # aiohttp answers pings inside receive(): keep one pending all along.
            reply_task = asyncio.ensure_future(answering.receive())
            pings = 0
            while True:
                msg = await asyncio.wait_for(silent.receive(), 5)
                if msg.type is aiohttp.WSMsgType.PING:
                    pings += 1
                    continue
                break  # the close for the missing pong
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            answering_alive = not answering.closed and not reply_task.done()
            await answering.send_str(
                orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}).decode()
            )
            reply = await asyncio.wait_for(reply_task, 5)
            await answering.close()
            return pings, answering_alive, orjson.loads(reply.data) == {"result": [], "id": 1}

    pings, alive, answered = _serve(replay, body)
    assert pings >= 2 and alive and answered


def test_connections_are_closed_at_the_age_limit() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"], limits=MarketLimits(max_connection_age_s=0.3))

    async def body(server: MarketServer) -> ConnectionClosed:
        async with websockets.connect(f"{server.ws_url}/ws/btcusdt@trade") as ws:
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            return info.value

    closed = _serve(replay, body)
    assert closed.rcvd is not None and closed.rcvd.code == 1000


def _apply(book: dict[str, dict[str, str]], diff: dict[str, Any]) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for price, qty in diff[key]:
            if Decimal(qty) == 0:
                book[side].pop(price, None)
            else:
                book[side][price] = qty


@pytest.mark.parametrize("market", [Market.SPOT, Market.USDM])
def test_rest_depth_is_consistent_with_the_diffs(market: Market) -> None:
    replay = MarketReplay(market, ["BTCUSDT"], seed=3)
    path = "/fapi/v1/depth" if market is Market.USDM else "/api/v3/depth"
    limit = "1000" if market is Market.USDM else "5000"

    async def body(server: MarketServer) -> tuple[Any, Any, list[Any]]:
        replay.push_depth("BTCUSDT", [("100", "1"), ("99", "2")], [("101", "1"), ("102", "3")])
        async with (
            aiohttp.ClientSession() as http,
            websockets.connect(f"{server.ws_url}/stream?streams=btcusdt@depth") as ws,
        ):
            await _settle()
            async with http.get(
                f"{server.rest_url}{path}", params={"symbol": "BTCUSDT", "limit": limit}
            ) as r:
                before = await r.json()
            for step in range(20):
                price = str(100 + step % 3)
                replay.push_depth(
                    "BTCUSDT",
                    [(str(97 - step % 4), str(step % 3))],
                    [(str(101 + step % 2), str(step))],
                )
                if step % 5 == 0:
                    replay.push_quote("BTCUSDT", "99.5", "1", price, "0.5")
            diffs = [m["data"] for m in await _recv(ws, 24)]
            async with http.get(
                f"{server.rest_url}{path}", params={"symbol": "BTCUSDT", "limit": limit}
            ) as r:
                after = await r.json()
        return before, after, diffs

    before, after, diffs = _serve(replay, body)
    book = {"bids": dict(before["bids"]), "asks": dict(before["asks"])}
    last = before["lastUpdateId"]
    jumped = False
    for diff in diffs:
        if market is Market.SPOT:
            assert diff["U"] == last + 1
        else:
            assert diff["pu"] == last
            jumped |= diff["U"] > last + 1
        last = diff["u"]
        _apply(book, diff)
    assert after["lastUpdateId"] == last
    assert book["bids"] == dict(after["bids"]) and book["asks"] == dict(after["asks"])
    assert [Decimal(p) for p, _ in after["bids"]] == sorted(
        (Decimal(p) for p, _ in after["bids"]), reverse=True
    )
    assert [Decimal(p) for p, _ in after["asks"]] == sorted(Decimal(p) for p, _ in after["asks"])
    if market is Market.USDM:
        assert jumped and set(after) == {"lastUpdateId", "E", "T", "bids", "asks"}
    else:
        assert set(after) == set(_fixture("spot_docs_examples/rest_depth.json"))


def test_rest_errors_and_server_time() -> None:
    replay = MarketReplay(Market.USDM, ["BTCUSDT"], server_time_offset_ms=5_000)

    async def body(server: MarketServer) -> list[tuple[int, Any]]:
        out = []
        async with aiohttp.ClientSession() as http:
            for path, params in (
                ("/fapi/v1/depth", {}),
                ("/fapi/v1/depth", {"symbol": "NOPE"}),
                ("/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "7"}),
                ("/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "5"}),
                ("/fapi/v1/time", {}),
            ):
                async with http.get(f"{server.rest_url}{path}", params=params) as r:
                    out.append((r.status, await r.json()))
        return out

    results = _serve(replay, body)
    assert results[0][0] == 400 and results[0][1]["code"] == -1102
    assert results[1] == (400, _fixture("spot_docs_examples/rest_error_example.json"))
    assert (
        results[2][0] == 400 and results[2][1]["code"] == -1100 and "limit" in results[2][1]["msg"]
    )
    assert results[3][0] == 200 and results[3][1]["lastUpdateId"] == 0
    status, body_ = results[4]
    assert status == 200 and set(body_) == set(_fixture("spot_docs_examples/rest_time.json"))
    import time

    assert abs(body_["serverTime"] - (time.time() * 1000 + 5_000)) < 2_000


def test_faults_duplicate_reorder_skip_stall_drop() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])

    async def body(
        server: MarketServer,
    ) -> tuple[list[int], list[tuple[int, int]], ConnectionClosed]:
        async with websockets.connect(
            f"{server.ws_url}/stream?streams=btcusdt@trade/btcusdt@depth"
        ) as ws:
            await _settle()
            replay.duplicate_next(1, StreamKind.TRADE)
            replay.push_trade("BTCUSDT", "1", "1")  # 1 twice
            replay.reorder_next(1, StreamKind.TRADE)
            replay.push_trade("BTCUSDT", "1", "1")  # 2 and 3 swapped
            replay.push_trade("BTCUSDT", "1", "1")
            replay.push_trade("BTCUSDT", "1", "1")  # 4
            trades = [m["data"]["t"] for m in await _recv(ws, 5)]
            replay.set_delay(0.01)
            ids = [replay.push_depth("BTCUSDT", [("1", "1")])]  # sent
            replay.skip_depth_next()
            ids.append(replay.push_depth("BTCUSDT", [("1", "2")]))  # skipped: a gap
            replay.stall_depth()
            ids.append(replay.push_depth("BTCUSDT", [("1", "3")]))  # stalled: never sent
            replay.stall_depth(False)
            ids.append(replay.push_depth("BTCUSDT", [("1", "4")]))  # sent
            depth = [(m["data"]["U"], m["data"]["u"]) for m in await _recv(ws, 2)]
            assert depth == [ids[0], ids[3]]
            assert replay.drop_connections() == 1
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            return trades, depth, info.value

    trades, depth, closed = _serve(replay, body)
    assert trades == [1, 1, 3, 2, 4]
    assert depth[1][0] > depth[0][1] + 1  # the skipped and stalled updates are a gap
    assert closed.rcvd is None  # dropped: no close frame
    assert replay.depth_skipped == 1


def test_recorded_fixtures_load_exactly() -> None:
    trades = load_recorded_trades(FIXTURES / "recorded_market_data/btcusdt-trades.csv", "BTCUSDT")
    assert len(trades) == 2001
    assert [e.values[3] for e in trades] == list(range(553287559, 553289560))
    assert trades[2].values[:3] == (Decimal("39439.22"), Decimal("0.000311"), False)
    assert trades[0].ts_ms == 1610064000278 and trades[0].values[2] is True
    quotes = load_recorded_quotes(FIXTURES / "recorded_market_data/btcusdt-quotes.csv", "BTCUSDT")
    assert len(quotes) == 451
    assert quotes[0].values == (
        Decimal("39432.99"),
        Decimal("0.0031"),
        Decimal("39433.62"),
        Decimal("0.066851"),
    )


def test_bad_recorded_rows_name_the_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(
        '"timestamp","trade_id","price","quantity","buyer_maker"\n'
        '2021-01-08 00:00:00.278Z,1,39432.48,0.000263,"True"\n'
        '2021-01-08 00:00:00.310Z,2,abc,0.004376,"False"\n'
    )
    with pytest.raises(ValueError, match=r"trades.csv: row 3, column price: 'abc'"):
        load_recorded_trades(path, "BTCUSDT")
    path.write_text(
        '"timestamp","trade_id","price","quantity","buyer_maker"\nyesterday,1,1,1,"True"\n'
    )
    with pytest.raises(ValueError, match=r"row 2, column timestamp"):
        load_recorded_trades(path, "BTCUSDT")


def test_replay_feeds_subscribers_in_time_order() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])
    seen: list[tuple[str, Decimal, Decimal, int, int]] = []
    replay.subscribe(lambda *args: seen.append(args))
    trades = load_recorded_trades(FIXTURES / "recorded_market_data/btcusdt-trades.csv", "BTCUSDT")[
        :300
    ]
    quotes = load_recorded_quotes(FIXTURES / "recorded_market_data/btcusdt-quotes.csv", "BTCUSDT")[
        :20
    ]
    replay.load(quotes)
    replay.load(trades)
    replay.load(
        [ReplayEvent(trades[5].ts_ms, "BTCUSDT", ReplayEventKind.DEPTH, ((("39000", "1"),), ()))]
    )
    assert asyncio.run(replay.run()) == 321
    assert [s[4] for s in seen] == [e.values[3] for e in trades]
    assert seen[0] == (
        "BTCUSDT",
        Decimal("39432.48"),
        Decimal("0.000263"),
        1610064000278,
        553287559,
    )
    assert replay.update_id("BTCUSDT") > 20
    # Accelerated: the same events, with the recorded spacing divided by the speed.
    again = MarketReplay(Market.SPOT, ["BTCUSDT"])
    again.load(trades[:20])
    assert asyncio.run(again.run(speed=1000.0)) == 20
    with pytest.raises(ValueError, match="speed"):
        asyncio.run(again.run(speed=0))
    with pytest.raises(KeyError, match="ETHUSDT"):
        again.push_trade("ETHUSDT", "1", "1")


def test_send_raw_writes_whole_text_frames() -> None:
    replay = MarketReplay(Market.SPOT, ["BTCUSDT"])
    # One frame of each length encoding: 7-bit, 16-bit and 64-bit.
    messages = ['{"a":1}', '{"b":"' + "x" * 300 + '"}', '{"c":"' + "y" * 70_000 + '"}']

    async def body(server: MarketServer) -> list[str]:
        async with websockets.connect(f"{server.ws_url}/ws") as ws:
            await _settle()
            assert replay.send_raw(messages) == 1
            return [await asyncio.wait_for(ws.recv(), 5) for _ in messages]

    assert _serve(replay, body) == messages
