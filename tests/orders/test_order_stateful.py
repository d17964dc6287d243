"""Stateful property test: no sequence of events breaks an order's invariants.

Hypothesis drives one order with any mix of status events (duplicates, out of order, after a
cancel request, after reconciliation...), fills (partial, complete, duplicate trade ids,
overfills) and modifies. After every step the invariants hold:

- filled <= quantity and leaves = quantity - filled;
- the average fill price equals sum(price * qty) / sum(qty) computed here, independently;
- FILLED exactly when filled == quantity; PARTIALLY_FILLED only with 0 < filled < quantity;
- a terminal status stays terminal, except CANCELED/EXPIRED -> FILLED (documented rows);
- every applied event is recorded once, in a consistent chain, and refused events change nothing;
- the order survives an OrderUpdate round trip.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from qk.orders import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    ClientOrderId,
    Fill,
    InvalidFill,
    InvalidModify,
    InvalidOrderTransition,
    Order,
    OrderEventKind,
    OrderOverfill,
    OrderStatus,
)
from qk.orders.records import order_from_update, update_record
from qk.schemas.enums import OrderType, Side
from tests.orders.conftest import snapshot

E = OrderEventKind
S = OrderStatus

STATUS_EVENTS = [
    e for e in OrderEventKind if e not in (E.INITIALIZED, E.FILLED, E.PARTIALLY_FILLED, E.MODIFIED)
]
LEAVING_TERMINAL = {(S.CANCELED, S.FILLED), (S.EXPIRED, S.FILLED)}


class OrderLifecycle(RuleBasedStateMachine):
    """One order, driven by arbitrary events; a model alongside it."""

    order: Order

    sequence = 0

    @initialize(quantity=st.integers(1, 12))
    def create(self, quantity: int) -> None:
        self.sequence += 1
        self.order = Order(
            client_order_id=ClientOrderId(5, self.sequence),
            instrument_id=9,
            side=Side.BUY,
            order_type=OrderType.STOP_LIMIT,
            quantity=quantity,
            price=10_000,
            trigger_price=9_900,
        )
        self.executions: dict[int, tuple[int, int]] = {}  # trade id -> (price, qty)
        self.applied = 0
        self.changes: list[tuple[OrderStatus, OrderStatus]] = []
        self.previous = S.INITIALIZED
        self.clock = 0
        # Every run starts submitted: INITIALIZED only allows DENIED (a dead end that would eat
        # half the runs) or SUBMITTED; test_transitions covers both.
        self.order.apply(E.SUBMITTED, ts_event=0, ts_init=0)
        self._after_apply(S.INITIALIZED, E.SUBMITTED)

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _after_apply(self, before: OrderStatus, kind: OrderEventKind) -> None:
        assert (before, kind) in TRANSITIONS
        self.applied += 1
        if self.order.status is not before:
            self.changes.append((before, self.order.status))

    @precondition(lambda self: self.order.is_terminal)
    @rule(quantity=st.integers(1, 12))
    def next_order(self, quantity: int) -> None:
        """Start over once the order is done, so runs spend their steps on live orders.

        Events on terminal orders stay covered: fills and possible events still reach them
        first, and test_transitions tries every refused pair.
        """
        self.create(quantity)

    @precondition(lambda self: not self.order.is_terminal)
    @rule(kind=st.sampled_from(STATUS_EVENTS), reconciliation=st.booleans())
    def status_event(self, kind: OrderEventKind, reconciliation: bool) -> None:
        before, state = self.order.status, snapshot(self.order)
        ts = self._tick()
        try:
            self.order.apply(kind, ts_event=ts, ts_init=ts, reconciliation=reconciliation)
        except InvalidOrderTransition as exc:
            assert (before, kind) not in TRANSITIONS
            assert (exc.status, exc.event) == (before, kind)
            assert snapshot(self.order) == state
            return
        self._after_apply(before, kind)

    @rule(data=st.data(), reconciliation=st.booleans())
    def possible_status_event(self, data: st.DataObject, reconciliation: bool) -> None:
        """Pick among the events the table allows now, so long lifecycles get explored too."""
        allowed = sorted(
            k for (s, k) in TRANSITIONS if s is self.order.status and k in STATUS_EVENTS
        )
        if not allowed:
            return
        kind = data.draw(st.sampled_from(allowed))
        before = self.order.status
        ts = self._tick()
        self.order.apply(kind, ts_event=ts, ts_init=ts, reconciliation=reconciliation)
        self._after_apply(before, kind)

    @rule(
        trade_id=st.integers(1, 8),
        price=st.integers(9_990, 10_010),
        quantity=st.integers(1, 12),
    )
    def fill(self, trade_id: int, price: int, quantity: int) -> None:
        before, state = self.order.status, snapshot(self.order)
        ts = self._tick()
        execution = Fill(trade_id=trade_id, price=price, quantity=quantity, ts_event=ts)
        known = self.executions.get(trade_id)
        try:
            event = self.order.apply_fill(execution)
        except InvalidFill:
            assert known is not None and known != (price, quantity)
            assert snapshot(self.order) == state
            return
        except OrderOverfill:
            assert known is None
            assert sum(q for _, q in self.executions.values()) + quantity > self.order.quantity
            assert snapshot(self.order) == state
            return
        except InvalidOrderTransition as exc:
            assert known is None
            assert (before, exc.event) not in TRANSITIONS
            assert snapshot(self.order) == state
            return
        if known is not None:
            assert event is None and known == (price, quantity)
            assert snapshot(self.order) == state
            return
        assert event is not None
        self.executions[trade_id] = (price, quantity)
        self._after_apply(before, event.kind)

    @precondition(lambda self: self.order.is_open)
    @rule(price=st.none() | st.integers(9_000, 11_000), quantity=st.none() | st.integers(1, 14))
    def modified(self, price: int | None, quantity: int | None) -> None:
        before, state = self.order.status, snapshot(self.order)
        ts = self._tick()
        try:
            self.order.apply_modified(ts_event=ts, ts_init=ts, price=price, quantity=quantity)
        except InvalidOrderTransition:
            assert (before, E.MODIFIED) not in TRANSITIONS
            assert snapshot(self.order) == state
            return
        except InvalidModify:
            assert quantity is not None and quantity <= self.order.filled_quantity
            assert snapshot(self.order) == state
            return
        self._after_apply(before, E.MODIFIED)

    @invariant()
    def quantities_add_up(self) -> None:
        order = self.order
        filled = sum(q for _, q in self.executions.values())
        assert 0 <= order.filled_quantity == filled <= order.quantity
        assert order.leaves_quantity == order.quantity - order.filled_quantity

    @invariant()
    def average_price_is_exact(self) -> None:
        total_qty = sum(q for _, q in self.executions.values())
        total_notional = sum(p * q for p, q in self.executions.values())
        if total_qty == 0:
            assert self.order.avg_price is None
        else:
            assert self.order.avg_price == Fraction(total_notional, total_qty)
            assert self.order.avg_price_raw() == round(Fraction(total_notional * 10**4, total_qty))

    @invariant()
    def status_agrees_with_quantities(self) -> None:
        order = self.order
        assert (order.status is S.FILLED) == (order.filled_quantity == order.quantity)
        if order.status is S.PARTIALLY_FILLED:
            assert 0 < order.filled_quantity < order.quantity

    @invariant()
    def terminal_stays_terminal_except_documented_edges(self) -> None:
        previous, current = self.previous, self.order.status
        if previous in TERMINAL_STATUSES and current is not previous:
            assert (previous, current) in LEAVING_TERMINAL
        self.previous = current

    @invariant()
    def every_event_recorded_once_in_a_chain(self) -> None:
        events = self.order.events
        assert len(events) == self.applied == self.order.revision
        status = S.INITIALIZED
        for event in events:
            assert event.status_before is status
            status = event.status_after
        assert status is self.order.status
        assert self.order.status_changes() == self.changes

    @invariant()
    def survives_an_update_record_round_trip(self) -> None:
        back = order_from_update(update_record(self.order))
        assert (back.status, back.filled_quantity, back.quantity, back.price) == (
            self.order.status,
            self.order.filled_quantity,
            self.order.quantity,
            self.order.price,
        )
        assert back.avg_price_raw() == self.order.avg_price_raw()


OrderLifecycle.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
test_order_lifecycle = OrderLifecycle.TestCase
