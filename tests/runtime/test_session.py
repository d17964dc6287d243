"""Paper sessions end to end: real processes, real rings, the WAL, the summary."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from qk.runtime.feed import trade_chunks
from qk.runtime.replay import replay_session
from qk.runtime.session import SessionError, SessionOptions, start_session
from qk.schemas.enums import RecordType
from qk.strategy import load_descriptor
from tests.runtime.conftest import (
    RecordedSession,
    leftovers,
    momentum_paper,
    plan_of,
    records,
    wal_streams,
)

pytestmark = pytest.mark.timeout(120)


def _check_wal_exactly_once(summary: dict, session_dir: Path) -> dict[int, list]:
    """Every ring's records are in the WAL once each, in ring order, as many as were published."""
    plan = plan_of(session_dir)
    streams = wal_streams(plan.wal_dir)
    reports = summary["processes"]
    published = {
        plan.md.stream: reports["feed:sim"]["published"],
        plan.bars.stream: reports["aggregator"]["trades"] + reports["aggregator"]["bars"],
        plan.exec.stream: reports["oms:sim"]["exec_published"],
        plan.intents(plan.strategy_ids[0]).stream: reports[f"strategy:{plan.strategy_ids[0]}"][
            "intents"
        ],
    }
    for stream, count in published.items():
        seqs = [seq for seq, _ in streams.get(stream, [])]
        assert seqs == list(range(count)), f"stream {stream}: {len(seqs)} frames for {count}"
    return streams


def test_records_limited_session_trades_and_logs_everything_once(
    recorded_session: RecordedSession,
) -> None:
    summary = recorded_session.summary
    session_name = recorded_session.name
    session_dir = recorded_session.directory
    assert summary["exit_code"] == 0
    assert (session_dir / "summary.json").exists()
    # Every component ran as its own process, none of them this one.
    pids = [p for ps in summary["pids"].values() for p in ps]
    assert len(pids) == len(set(pids)) == 5
    assert os.getpid() not in pids
    assert summary["fills"] > 0
    streams = _check_wal_exactly_once(summary, session_dir)
    plan = plan_of(session_dir)

    # The md ring carries the plan's random walk, trade for trade.
    deployment = load_descriptor(plan.descriptor)
    expected = next(trade_chunks(plan, deployment.instruments[0]))[:3000]
    md = np.array(records(streams[plan.md.stream]))
    assert len(md) == 3000
    for field in ("ts_event", "price", "quantity", "venue_trade_id"):
        assert [int(r[field]) for r in md] == expected[field].tolist()
    assert [int(r["corr_id"]) for r in md] == list(range(1, 3001))

    # bars: each trade in feed order, its bars right behind it with its corr_id.
    bars = records(streams[plan.bars.stream])
    trades = [r for r in bars if int(r["type"]) == RecordType.TRADE_EVENT]
    assert [int(r["corr_id"]) for r in trades] == list(range(1, 3001))
    last = 0
    for rec in bars:
        if int(rec["type"]) == RecordType.TRADE_EVENT:
            last = int(rec["corr_id"])
        else:
            assert int(rec["type"]) == RecordType.BAR_EVENT
            assert int(rec["corr_id"]) == last

    # The strategy's mirror agrees with the OMS's books.
    oms = summary["processes"]["oms:sim"]
    mirror = summary["processes"]["strategy:1"]
    assert mirror["positions"] == oms["positions"]
    assert mirror["cash"] == oms["cash"]
    assert mirror["equity"] == oms["equity"]
    assert mirror["fills"] == oms["fills"]
    assert oms["intents"] == mirror["intents"] == summary["records_per_ring"]["intents.1"]
    # Every intent was decided on a trade the OMS had processed before applying it.
    journal = [
        r for r in records(streams[plan.exec.stream]) if int(r["type"]) == RecordType.ORDER_INTENT
    ]
    assert len(journal) == oms["intents"]
    assert all(int(r["corr_id"]) <= int(r["seq"]) for r in journal)
    assert leftovers(session_name) == []

    # The decisions replay in one process, byte for byte.
    result = replay_session(Path(plan.wal_dir))
    assert result.matches, [str(d) for d in result.differences]
    assert result.counts["intents.1"] == oms["intents"]


def test_refuses_a_backtest_descriptor_and_an_existing_wal(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match='mode = "paper"'):
        start_session(
            SessionOptions(descriptor=momentum_paper().with_name("momentum_sim.toml"),
                           session="x", root=tmp_path)
        )  # fmt: skip
    wal = tmp_path / "wal"
    wal.mkdir()
    (wal / "segment").write_text("x")
    with pytest.raises(SessionError, match="already holds a log"):
        start_session(
            SessionOptions(descriptor=momentum_paper(), session="y", root=tmp_path, wal_dir=wal)
        )
