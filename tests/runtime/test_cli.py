"""``qk start``, ``qk kill-switch`` and ``qk replay`` through their argparse registration."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from qk.runtime.cli import register
from qk.runtime.control import ControlError
from qk.runtime.plan import PlanError
from tests.runtime.conftest import RecordedSession, leftovers, momentum_paper

pytestmark = pytest.mark.timeout(120)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    code: int = args.func(args)
    return code


def test_start_then_replay_verify_and_out(
    recorded_session: RecordedSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, session_name = recorded_session.root, recorded_session.name
    assert recorded_session.code == 0
    assert f"session {session_name}: exit 0" in recorded_session.stdout
    summary = recorded_session.summary
    assert summary["records_per_ring"]["md"] == 3000
    assert leftovers(session_name) == []

    wal = root / session_name / "wal"
    assert _run("replay", "--wal", str(wal), "--verify") == 0
    assert "identical to what the session recorded" in capsys.readouterr().out
    replay_dir = tmp_path / "replay"
    assert _run("replay", "--wal", str(wal), "--out", str(replay_dir)) == 0
    report = json.loads((replay_dir / "replay.json").read_text())
    assert report["matches"] is True
    size = (replay_dir / "bars.records").stat().st_size
    assert size > 0 and report["counts"]["bars"] == summary["records_per_ring"]["bars"]

    # A different order size makes every intent differ: verify names the first one.
    plan = json.loads((root / session_name / "plan.json").read_text())
    changed = tmp_path / "changed.toml"
    assert summary["processes"]["strategy:1"]["intents"] > 0
    text = momentum_paper().read_text().replace('quantity = "0.01"', 'quantity = "0.02"')
    changed.write_text(
        text.replace('"../strategies/', f'"{momentum_paper().parents[1]}/strategies/')
    )
    plan["descriptor"] = str(changed)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan))
    assert _run("replay", "--wal", str(wal), "--plan", str(plan_path), "--verify") == 1
    assert "MISMATCH: first difference at intents.1 record" in capsys.readouterr().out


def test_replay_without_a_plan_says_so(tmp_path: Path) -> None:
    (tmp_path / "wal").mkdir()
    with pytest.raises(PlanError, match="cannot read session plan"):
        _run("replay", "--wal", str(tmp_path / "wal"), "--verify")


def test_kill_switch_needs_a_running_session(session_name: str) -> None:
    with pytest.raises(ControlError, match="not running"):
        _run("kill-switch", "on", "--session", session_name)


def test_start_rejects_a_bad_session_name(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="invalid session name"):
        _run("start", "--mode", "paper", "--config", str(momentum_paper()), "--session", "a/b",
             "--root", str(tmp_path))  # fmt: skip
