"""User data: parsing the fixtures' events, spot over the WebSocket API and USD-M over a
listenKey with keep-alive, into records through the gateway; duplicates, reordering and drops."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.orders import ClientOrderIdGenerator, OrderStatus
from qk.schemas.enums import OrderType, Side
from qk.venues.binance.mock.faults import Faults
from qk.venues.binance.mock.server import MockBinanceServer
from qk.venues.binance.userdata import (
    AlgoUpdate,
    ExecutionUpdate,
    FuturesUserStream,
    SpotUserStream,
    UserDataError,
    parse_user_message,
)
from tests.venues.binance.test_gateway_harness import (
    fills,
    gateway,
    make_order,
    mock_config,
    run,
    statuses,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
BUY, SELL = Side.BUY, Side.SELL
Records = list[npt.NDArray[np.void]]


def fixture(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a condition the event loop will make true (events arriving)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_parse_spot_execution_report_fixture() -> None:
    update = parse_user_message(
        json.dumps(fixture("spot_docs_examples/uds_execution_report.json")).encode()
    )
    assert isinstance(update, ExecutionUpdate)
    assert (update.market, update.symbol, update.client_order_id) == (
        "spot",
        "ETHBTC",
        "mUvoqJxFIILMdfAW5iGSOW",
    )
    assert (update.exec_type, update.status, update.venue_order_id) == ("NEW", "NEW", 4293153)
    assert (update.trade_id, update.commission_asset, update.transact_ms) == (-1, "", 1499405658657)


def test_parse_futures_order_and_algo_fixtures() -> None:
    base = "nautilus_crate_fixtures/futures/user_data_json/"
    trade = parse_user_message(fixture(base + "order_update_trade.json"))
    assert isinstance(trade, ExecutionUpdate)
    assert (trade.exec_type, trade.status, trade.trade_id) == (
        "TRADE",
        "PARTIALLY_FILLED",
        12345678,
    )
    assert (trade.last_qty, trade.last_price, trade.commission) == (
        Decimal("0.001"),
        Decimal("7100.50"),
        Decimal("0.01"),
    )
    assert trade.maker and trade.commission_asset == "USDT"
    algo = parse_user_message(fixture(base + "algo_update_new.json"))
    assert isinstance(algo, AlgoUpdate)
    assert (algo.client_algo_id, algo.algo_id, algo.status, algo.actual_order_id) == (
        "Q5xaq5EGKgXXa0fD7fs0Ip",
        2148719,
        "NEW",
        0,
    )
    account = parse_user_message(fixture(base + "account_update.json"))
    assert isinstance(account, dict) and account["e"] == "ACCOUNT_UPDATE"


def test_parse_errors_name_the_event_and_field() -> None:
    event = fixture("spot_docs_examples/uds_execution_report.json")["event"]
    del event["z"]
    with pytest.raises(UserDataError, match="executionReport: missing field 'z'"):
        parse_user_message(event)
    event["z"] = "abc"
    with pytest.raises(UserDataError, match="field 'z' = 'abc' is not a decimal"):
        parse_user_message(event)
    with pytest.raises(UserDataError, match="not valid JSON"):
        parse_user_message(b"{nope")
    cancel = {**fixture("spot_docs_examples/uds_execution_report.json")["event"]}
    cancel.update({"x": "CANCELED", "X": "CANCELED", "c": "cancelReq1", "C": "original"})
    parsed = parse_user_message(cancel)
    assert isinstance(parsed, ExecutionUpdate) and parsed.client_order_id == "original"


def _spot_scenario(faults: Faults) -> tuple[list[str], list[int], int, int]:
    """Two resting orders; one fills in two maker trades over the stream, one is cancelled.

    Returns the final statuses, the filled quantities, the fill records and all records."""
    records: Records = []
    with MockBinanceServer(mock_config(faults=faults)) as srv:
        srv.push_trade("BTCUSDT", "40000.00", "0.5", now_ms())

        async def scenario() -> tuple[list[str], list[int], int, int]:
            ids = ClientOrderIdGenerator(5)
            async with gateway(srv, "spot", sink=records.append) as gw:
                stream = SpotUserStream(srv.ws_url + "/ws-api/v3", gw.rest, gw.on_user_update)
                task = asyncio.create_task(stream.run())
                await asyncio.wait_for(stream.connected.wait(), 5)
                a = make_order(gw, ids, "BTCUSDT", BUY, OrderType.LIMIT, "0.01", price="39000.00")
                b = make_order(gw, ids, "BTCUSDT", BUY, OrderType.LIMIT, "0.02", price="38000.00")
                await gw.place(a)
                await gw.place(b)
                srv.push_trade("BTCUSDT", "38999.00", "0.004", now_ms())
                srv.push_trade("BTCUSDT", "38999.00", "1", now_ms())
                await gw.cancel(b)
                srv.call(srv.mock.hub.flush)
                await until(lambda: a.status is OrderStatus.FILLED)
                await asyncio.sleep(0.3)  # let duplicates and held events arrive too
                srv.call(srv.mock.hub.flush)
                await asyncio.sleep(0.1)
                await stream.stop()
                await task
                assert stream.subscription_id is not None
                return (
                    [a.status.name, b.status.name],
                    [a.filled_quantity, b.filled_quantity],
                    len(fills(records)),
                    len(records),
                )

        result: tuple[list[str], list[int], int, int] = run(scenario())
        return result


def test_spot_stream_fills_and_duplicates_or_reordering_change_nothing() -> None:
    clean = _spot_scenario(Faults())
    assert clean[:3] == (["FILLED", "CANCELED"], [1000, 0], 2)
    assert _spot_scenario(Faults(duplicate_events=True)) == clean
    assert _spot_scenario(Faults(reorder_events=True)) == clean


def test_futures_listen_key_keepalive_and_algo_trigger_to_fill() -> None:
    records: Records = []
    with MockBinanceServer(mock_config()) as srv:
        srv.push_trade("BTCUSDT", "40000.00", "0.5", now_ms())

        async def scenario() -> None:
            ids = ClientOrderIdGenerator(6)
            async with gateway(srv, "futures", sink=records.append) as gw:
                stream = FuturesUserStream(srv.ws_url, gw.rest, gw.on_user_update, keepalive_s=0.1)
                task = asyncio.create_task(stream.run())
                await asyncio.wait_for(stream.connected.wait(), 5)
                await until(lambda: stream.keepalives >= 2)
                stop = make_order(
                    gw, ids, "BTCUSDT", SELL, OrderType.STOP_MARKET, "0.01", trigger="39000.0"
                )
                await gw.place(stop)
                srv.push_trade("BTCUSDT", "38900.00", "1", now_ms())
                await until(lambda: stop.status is OrderStatus.FILLED)
                assert statuses(records)[-3:] == ["ACCEPTED", "TRIGGERED", "FILLED"]
                assert len(fills(records)) == 1
                await stream.stop()
                await task
                assert stream.listen_key and len(stream.listen_key) == 64

        run(scenario())


def test_dropped_stream_reconnects_and_reconciles_what_it_missed() -> None:
    with MockBinanceServer(mock_config()) as srv:
        srv.push_trade("BTCUSDT", "40000.00", "0.5", now_ms())

        async def scenario() -> None:
            ids = ClientOrderIdGenerator(8)
            async with gateway(srv, "spot") as gw:
                reconciled: list[int] = []

                async def on_reconnect() -> None:
                    reconciled.append(len((await gw.reconcile()).records))

                stream = SpotUserStream(
                    srv.ws_url + "/ws-api/v3",
                    gw.rest,
                    gw.on_user_update,
                    on_reconnect=on_reconnect,
                    reconnect_delay_s=0.3,
                )
                task = asyncio.create_task(stream.run())
                await asyncio.wait_for(stream.connected.wait(), 5)
                order = make_order(
                    gw, ids, "BTCUSDT", BUY, OrderType.LIMIT, "0.01", price="39000.00"
                )
                await gw.place(order)
                await asyncio.get_running_loop().run_in_executor(None, srv.drop_user_connections)
                srv.push_trade("BTCUSDT", "38999.00", "1", now_ms())  # nobody listens
                await until(lambda: stream.connections >= 2 and bool(reconciled))
                assert order.status is OrderStatus.FILLED and reconciled[0] >= 2
                assert order.events[-1].reconciliation
                await stream.stop()
                await task

        run(scenario())


def test_expired_listen_key_is_replaced_and_the_stream_reopened() -> None:
    with MockBinanceServer(mock_config()) as srv:

        async def scenario() -> None:
            async with gateway(srv, "futures") as gw:
                stream = FuturesUserStream(
                    srv.ws_url, gw.rest, gw.on_user_update, keepalive_s=0.1, reconnect_delay_s=0.05
                )
                task = asyncio.create_task(stream.run())
                await asyncio.wait_for(stream.connected.wait(), 5)
                first = stream.listen_key
                assert first is not None
                srv.call(lambda: srv.mock.hub.close_listen_key(first))  # PUT now answers -1125
                await until(lambda: stream.connections >= 2 and stream.listen_key != first)
                await until(lambda: stream.connected.is_set())
                await stream.stop()
                await task

        run(scenario())


def test_stream_end_events_reopen_and_others_go_to_on_other() -> None:
    others: list[Any] = []

    async def scenario() -> None:
        stream = SpotUserStream("ws://127.0.0.1:9/ws-api/v3", None, print, on_other=others.append)  # type: ignore[arg-type]
        ended = b'{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1}}'
        balance = (
            b'{"subscriptionId":0,"event":{"e":"balanceUpdate","E":1,"a":"BTC","d":"1","T":1}}'
        )
        assert stream._deliver(ended) is False
        assert stream._deliver(balance) is True
        assert stream._deliver(b"[1, 2]") is True and stream.bad_messages == 1
        assert [o["e"] for o in others] == ["balanceUpdate"]

    run(scenario())


@pytest.fixture(scope="module")
def property_server() -> Iterator[MockBinanceServer]:
    with MockBinanceServer(mock_config()) as srv:
        yield srv


def _updates(client_id: str, venue_id: int, cancel: bool) -> list[ExecutionUpdate]:
    def event(x: str, status: str, qty: str, cum: str, trade_id: int, ts: int) -> ExecutionUpdate:
        return ExecutionUpdate(
            "spot", "BTCUSDT", client_id, venue_id, x, status, "LIMIT", "BUY", Decimal(qty),
            Decimal("39000.00"), Decimal(cum), trade_id, Decimal("0.00001"), "BTC", True, ts, ts,
        )  # fmt: skip

    events = [
        event("NEW", "NEW", "0", "0", -1, 1),
        event("TRADE", "PARTIALLY_FILLED", "0.01", "0.01", 501, 2),
        event("TRADE", "PARTIALLY_FILLED", "0.01", "0.02", 502, 3),
    ]
    if cancel:
        return [*events, event("CANCELED", "CANCELED", "0", "0.02", -1, 4)]
    return [*events, event("TRADE", "FILLED", "0.01", "0.03", 503, 4)]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), cancel=st.booleans())
def test_any_order_and_duplication_of_events_gives_the_same_order(
    property_server: MockBinanceServer, data: st.DataObject, cancel: bool
) -> None:
    srv = property_server

    async def scenario() -> None:
        async with gateway(srv, "spot") as gw:
            ids = ClientOrderIdGenerator(100 + len(srv.mock.spot.orders))
            order = make_order(gw, ids, "BTCUSDT", BUY, OrderType.LIMIT, "0.03", price="39000.00")
            await gw.place(order)
            events = _updates(order.client_order_id.to_text(), int(order.venue_order_id), cancel)
            shuffled = data.draw(
                st.permutations(events + data.draw(st.lists(st.sampled_from(events), max_size=6)))
            )
            records: Records = []
            for update in shuffled:
                records += gw.on_user_update(update)
            assert order.status is (OrderStatus.CANCELED if cancel else OrderStatus.FILLED)
            assert order.filled_quantity == (2000 if cancel else 3000)
            trade_ids = sorted(int(f["trade_id"][0]) for f in fills(records))
            assert trade_ids == ([501, 502] if cancel else [501, 502, 503])

    run(scenario())
