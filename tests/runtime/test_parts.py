"""The runtime's parts without processes: the plan, the exec merge, record packing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.runtime.plan import PlanError, SessionPlan, load_plan, validate_session_name
from qk.runtime.strategy_host import ExecMerge
from qk.runtime.wire import pack
from qk.schemas import as_record, new_records


def _plan(**kwargs: object) -> SessionPlan:
    values: dict[str, object] = {
        "session": "s1", "session_dir": "/tmp/s1", "wal_dir": "/tmp/s1/wal",
        "descriptor": "/tmp/d.toml", "strategy_ids": (1,),
    }  # fmt: skip
    values.update(kwargs)
    return SessionPlan(**values)  # type: ignore[arg-type]


def test_plan_rings_have_distinct_names_and_streams(tmp_path: Path) -> None:
    plan = _plan(strategy_ids=(1, 7))
    rings = plan.rings()
    assert len({r.name for r in rings}) == len({r.stream for r in rings}) == 6
    assert plan.intents(7).name == "s1.intents.7"
    assert plan.ring_roles()[plan.intents(7).stream] == "intents.7"
    with pytest.raises(PlanError, match="strategy 9 is not part"):
        plan.intents(9)
    path = tmp_path / "plan.json"
    plan.save(path)
    assert load_plan(path) == plan


@pytest.mark.parametrize(
    ("change", "message"),
    [({"speed": -1}, "speed"), ({"records": -1}, "records"), ({"interval_ms": 0}, "interval_ms"),
     ({"strategy_ids": ()}, "at least one strategy"), ({"session": "a:b"}, "invalid session")],
)  # fmt: skip
def test_plan_refuses_bad_values(change: dict[str, object], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        _plan(**change)


def test_load_plan_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{")
    with pytest.raises(PlanError, match=f"{bad} is not JSON"):
        load_plan(bad)
    bad.write_text(json.dumps({"session": "s", "bogus": 1}))
    with pytest.raises(PlanError, match="unexpected keyword argument 'bogus'"):
        load_plan(bad)
    with pytest.raises(PlanError, match="cannot read"):
        load_plan(tmp_path / "missing.json")
    assert validate_session_name("ok.name-1") == "ok.name-1"


def test_pack_zero_pads_each_record() -> None:
    trade = new_records("TradeEvent", 1)
    trade["price"] = 123
    bar = new_records("BarEvent", 1)
    bar["close"] = 456
    slots = pack([trade, bar[0]], 128)
    assert slots.shape == (2, 128)
    assert not slots[0, trade.itemsize :].any()
    assert int(as_record(slots[0])["price"][0]) == 123
    assert int(as_record(slots[1])["close"][0]) == 456


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def on_exec(self, record: np.ndarray) -> None:
        self.seen.append(("exec", int(record[0]["seq"])))

    def on_market(self, record: np.ndarray) -> None:
        self.seen.append(("md", int(record[0]["corr_id"]) - 1))


@given(
    st.lists(st.integers(0, 30), max_size=40).map(sorted),
    st.lists(st.integers(0, 30), min_size=1, max_size=40).map(sorted),
    st.integers(0, 5),
)
def test_exec_merge_puts_each_exec_record_before_the_trade_at_its_seq(
    exec_seqs: list[int], trade_positions: list[int], chunk: int
) -> None:
    recorder = _Recorder()
    merge = ExecMerge(recorder)  # type: ignore[arg-type]
    execs = []
    for seq in exec_seqs:
        record = new_records("FillEvent", 1)
        record["seq"] = seq
        execs.append(record)
    # However far ahead the exec records arrive (the host guarantees only that every record
    # with seq <= p has arrived before trade p), the delivered order is the same.
    added = 0
    for position in trade_positions:
        while added < len(execs) and int(execs[added][0]["seq"]) <= position:
            merge.add([execs[added]])
            added += 1
        merge.add(execs[added : added + chunk])
        added = min(len(execs), added + chunk)
        trade = new_records("TradeEvent", 1)
        trade["corr_id"] = position + 1
        merge.before_market(trade)
    merge.add(execs[added:])
    merge.flush()
    expected: list[tuple[str, int]] = []
    pending = list(exec_seqs)
    for position in trade_positions:
        while pending and pending[0] <= position:
            expected.append(("exec", pending.pop(0)))
        expected.append(("md", position))
    expected += [("exec", s) for s in pending]
    assert recorder.seen == expected
