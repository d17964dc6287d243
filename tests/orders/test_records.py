"""Orders to and from OrderIntent, OrderAck, OrderUpdate and FillEvent records."""

from __future__ import annotations

import numpy as np
import pytest

from qk.orders import (
    ClientOrderId,
    InvalidOrderTransition,
    Order,
    OrderEventKind,
    OrderRecordMismatch,
    OrderStatus,
)
from qk.orders.records import (
    ack_event,
    ack_record,
    apply_ack_record,
    apply_fill_record,
    fill_from_record,
    fill_record,
    intent_record,
    order_from_intent,
    order_from_update,
    update_record,
)
from qk.schemas import dtype_of, new_records
from qk.schemas.enums import (
    AckResult,
    OrderAction,
    OrderFlag,
    OrderType,
    Product,
    RejectReason,
    Side,
    TimeInForce,
)
from tests.orders.conftest import fill, make_order, order_in

E = OrderEventKind
S = OrderStatus

STATIC = (
    "client_order_id",
    "instrument_id",
    "side",
    "order_type",
    "time_in_force",
    "flags",
    "product",
    "quantity",
    "price",
    "trigger_price",
    "expire_time",
)


def _rich_order() -> Order:
    return Order(
        client_order_id=ClientOrderId(12, 99),
        instrument_id=4,
        side=Side.SELL,
        order_type=OrderType.STOP_LIMIT,
        quantity=75,
        price=1_234_50,
        trigger_price=1_230_00,
        time_in_force=TimeInForce.GTD,
        flags=OrderFlag.REDUCE_ONLY | OrderFlag.POST_ONLY,
        product=Product.CARRY,
        expire_time=1_800_000_000_000_000_000,
        ts_init=1_700_000_000_000_000_000,
    )


def test_intent_when_round_tripped_then_same_order_fields() -> None:
    order = _rich_order()

    record = intent_record(order, seq=5, source=3)
    back = order_from_intent(record)

    assert record.dtype == dtype_of("OrderIntent")
    assert int(record[0]["action"]) == OrderAction.NEW
    assert (int(record[0]["seq"]), int(record[0]["source"])) == (5, 3)
    assert int(record[0]["strategy_id"]) == 12
    for name in STATIC:
        assert getattr(back, name) == getattr(order, name), name
    assert back.ts_init == order.ts_init
    assert back.status is S.INITIALIZED


def test_intent_when_action_is_cancel_then_no_order_is_created() -> None:
    record = intent_record(_rich_order(), action=OrderAction.CANCEL)

    with pytest.raises(OrderRecordMismatch, match="only NEW creates orders"):
        order_from_intent(record)


def test_intent_when_strategy_id_disagrees_with_client_order_id_then_raises() -> None:
    record = intent_record(_rich_order())
    record["strategy_id"] = 13

    with pytest.raises(OrderRecordMismatch, match="does not match client order id"):
        order_from_intent(record)


def test_reader_when_record_of_other_type_then_raises() -> None:
    with pytest.raises(OrderRecordMismatch, match="expected a OrderIntent record"):
        order_from_intent(new_records("OrderUpdate", 1))


def test_update_when_round_tripped_then_same_state() -> None:
    order = _rich_order()
    for kind in (E.SUBMITTED, E.ACCEPTED, E.TRIGGERED):
        order.apply(kind, ts_event=10, ts_init=11, venue_order_id="987654321")
    order.apply_fill(fill(25, price=1_234_00))
    order.apply_fill(fill(25, price=1_234_50))

    record = update_record(order, seq=8)
    back = order_from_update(record)

    rec = record[0]
    assert (int(rec["event"]), int(rec["status"])) == (E.PARTIALLY_FILLED, S.PARTIALLY_FILLED)
    assert int(rec["leaves_quantity"]) == 25
    assert int(rec["revision"]) == 5
    assert int(rec["ts_event"]) == 2_000 and int(rec["ts_recv"]) == 2_001
    for name in STATIC:
        assert getattr(back, name) == getattr(order, name), name
    assert back.status is order.status
    assert back.filled_quantity == order.filled_quantity
    assert back.revision == order.revision
    assert back.venue_order_id == "987654321"
    assert (back.ts_init, back.ts_last) == (0, order.ts_last)
    assert back.avg_price == order.avg_price  # 1_234_25 exactly: within the 4 extra decimals
    assert back.avg_price_raw() == order.avg_price_raw()


def test_update_when_restored_then_more_events_apply_through_the_table() -> None:
    order = order_in(S.PENDING_CANCEL)
    back = order_from_update(update_record(order))

    back.apply(E.CANCELED, ts_event=5, ts_init=5)

    assert back.status is S.CANCELED
    with pytest.raises(InvalidOrderTransition):
        back.apply(E.ACCEPTED, ts_event=6, ts_init=6)


def test_update_when_order_unknown_then_status_and_kind_written_as_proposed_values() -> None:
    record = update_record(order_in(S.UNKNOWN))

    assert (int(record[0]["status"]), int(record[0]["event"])) == (13, 15)
    assert order_from_update(record).status is S.UNKNOWN


def test_update_when_fresh_order_then_event_initialized() -> None:
    record = update_record(make_order())

    assert int(record[0]["event"]) == E.INITIALIZED
    assert int(record[0]["leaves_quantity"]) == 10


def test_update_when_filled_and_leaves_disagree_then_raises() -> None:
    record = update_record(order_in(S.PARTIALLY_FILLED))
    record["leaves_quantity"] = 1

    with pytest.raises(OrderRecordMismatch, match="filled 3 \\+ leaves 1"):
        order_from_update(record)


def test_fill_when_round_tripped_then_same_fill_and_cumulative_quantities() -> None:
    order = order_in(S.ACCEPTED)
    first, second = fill(4, price=250_010), fill(6, price=250_020)
    order.apply_fill(first)
    order.apply_fill(second)

    records = [fill_record(order, f) for f in (first, second)]

    assert [fill_from_record(r) for r in records] == [first, second]
    assert [int(r[0]["filled_quantity"]) for r in records] == [4, 10]
    assert [int(r[0]["leaves_quantity"]) for r in records] == [6, 0]
    assert records[0][0]["fee_currency"] == b"USDT"


def test_fill_record_when_applied_to_order_then_booked_once() -> None:
    source = order_in(S.ACCEPTED)
    execution = fill(4)
    source.apply_fill(execution)
    record = fill_record(source, execution)
    target = order_in(S.ACCEPTED)

    first = apply_fill_record(target, record)
    second = apply_fill_record(target, record)

    assert first is not None and second is None
    assert target.filled_quantity == 4


def test_fill_record_when_for_other_order_then_raises() -> None:
    source = order_in(S.ACCEPTED)
    execution = fill(4)
    source.apply_fill(execution)
    other = make_order(sequence=2)

    with pytest.raises(OrderRecordMismatch, match="is for client order id"):
        apply_fill_record(other, fill_record(source, execution))


@pytest.mark.parametrize(
    ("status", "action", "result", "event", "after"),
    [
        (S.SUBMITTED, OrderAction.NEW, AckResult.ACCEPTED, E.ACCEPTED, S.ACCEPTED),
        (S.SUBMITTED, OrderAction.NEW, AckResult.REJECTED, E.REJECTED, S.REJECTED),
        (S.PENDING_CANCEL, OrderAction.CANCEL, AckResult.ACCEPTED, E.CANCELED, S.CANCELED),
        (S.PENDING_CANCEL, OrderAction.CANCEL, AckResult.REJECTED, E.CANCEL_REJECTED, S.ACCEPTED),
        (S.PENDING_MODIFY, OrderAction.MODIFY, AckResult.ACCEPTED, E.MODIFIED, S.ACCEPTED),
        (S.PENDING_MODIFY, OrderAction.MODIFY, AckResult.REJECTED, E.MODIFY_REJECTED, S.ACCEPTED),
    ],
)
def test_ack_when_applied_then_table_event_and_status(
    status: OrderStatus, action: OrderAction, result: AckResult, event: E, after: OrderStatus
) -> None:
    order = order_in(status)
    order.venue_order_id = "55"
    record = ack_record(
        order,
        action=action,
        result=result,
        ts_event=50,
        ts_recv=51,
        reject_reason=RejectReason.VENUE if result is AckResult.REJECTED else RejectReason.NONE,
        venue_error_code=-2011 if result is AckResult.REJECTED else 0,
    )

    assert ack_event(record) is event
    applied = apply_ack_record(order, record)

    assert applied.kind is event
    assert order.status is after
    assert (applied.ts_event, applied.ts_init) == (50, 51)


def test_ack_when_cancel_all_then_raises_no_order_event() -> None:
    record = ack_record(
        order_in(S.ACCEPTED),
        action=OrderAction.CANCEL_ALL,
        result=AckResult.ACCEPTED,
        ts_event=1,
        ts_recv=1,
    )

    with pytest.raises(OrderRecordMismatch, match="maps to no order event"):
        ack_event(record)


def test_reader_when_scalar_record_given_then_accepted() -> None:
    array = intent_record(make_order())

    assert order_from_intent(array[0]).client_order_id == ClientOrderId(7, 1)
    assert isinstance(array[0], np.void)


def test_update_when_status_contradicts_filled_quantity_then_raises() -> None:
    record = update_record(order_in(S.ACCEPTED))
    record["status"] = S.PARTIALLY_FILLED

    with pytest.raises(OrderRecordMismatch, match="snapshot status PARTIALLY_FILLED with 0"):
        order_from_update(record)
