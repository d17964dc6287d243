"""``qk start``, ``qk kill-switch`` and ``qk replay``: the paper runtime's commands
(``docs/runtime.md``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from qk.runtime.control import send_command
from qk.runtime.plan import validate_session_name
from qk.runtime.session import SessionOptions, print_summary, start_session
from qk.schemas.enums import ControlCommandKind

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``start``, ``kill-switch`` and ``replay`` to the ``qk`` subcommands."""
    start = sub.add_parser("start", help="run a paper session: supervised processes over rings")
    start.add_argument("--mode", required=True, choices=["paper"],
                       help="paper: the simulated venue (live arrives with the gateway)")  # fmt: skip
    start.add_argument("--config", type=Path, required=True, help="deployment descriptor (TOML)")
    start.add_argument("--duration", type=float, default=None,
                       help="stop cleanly after this many seconds (default: until qk stop)")  # fmt: skip
    start.add_argument("--wal", type=Path, default=None,
                       help="WAL directory (default out/sessions/SESSION/wal)")  # fmt: skip
    start.add_argument("--session", default="qk", help="session name (default qk)")
    start.add_argument("--speed", type=float, default=100.0,
                       help="market-time speed-up of the simulated feed; 0 = as fast as possible")  # fmt: skip
    start.add_argument("--seed", type=int, default=7, help="random-walk seed (default 7)")
    start.add_argument("--records", type=int, default=0,
                       help="stop the feed after this many trades (default: no limit)")  # fmt: skip
    start.add_argument("--interval-ms", type=float, default=50.0,
                       help="mean market time between simulated trades (default 50 ms)")  # fmt: skip
    start.add_argument("--data", type=Path, default=None,
                       help="replay this trades recording instead of the random walk")  # fmt: skip
    start.add_argument("--round", action="store_true",
                       help="round the recording's values to the instrument's precision")  # fmt: skip
    start.add_argument("--root", type=Path, default=Path("out/sessions"),
                       help="folder of session folders (default out/sessions)")  # fmt: skip
    start.set_defaults(func=_cmd_start)

    kill = sub.add_parser("kill-switch", help="engage or release the kill switch of a session")
    kill.add_argument("state", choices=["on", "off"])
    kill.add_argument("--strategy", type=int, default=0, help="one strategy id (default: all)")
    kill.add_argument("--session", default="qk", help="session name (default qk)")
    kill.set_defaults(func=_cmd_kill_switch)

    replay = sub.add_parser(
        "replay", help="re-run a paper session's decisions from its WAL and compare them"
    )
    replay.add_argument("--wal", type=Path, required=True, help="the session's WAL directory")
    replay.add_argument("--plan", type=Path, default=None,
                        help="the session's plan.json (default: next to the WAL directory)")  # fmt: skip
    action = replay.add_mutually_exclusive_group(required=True)
    action.add_argument("--out", type=Path, help="write the replayed streams and replay.json here")
    action.add_argument("--verify", action="store_true",
                        help="only compare; exit 1 naming the first differing record")  # fmt: skip
    replay.set_defaults(func=_cmd_replay)


def _cmd_start(args: argparse.Namespace) -> int:
    options = SessionOptions(
        descriptor=args.config,
        session=validate_session_name(args.session),
        duration=args.duration,
        wal_dir=args.wal,
        root=args.root,
        speed=args.speed,
        seed=args.seed,
        records=args.records,
        interval_ms=args.interval_ms,
        data=args.data,
        data_round=args.round,
    )
    summary = start_session(options)
    print_summary(summary)
    print(f"summary: {Path(summary['wal']).parent / 'summary.json'}")
    return int(summary["exit_code"])


def _cmd_replay(args: argparse.Namespace) -> int:
    from qk.runtime.replay import replay_session, write_replay

    result = replay_session(args.wal, args.plan)
    counts = "  ".join(f"{k} {v:,}" for k, v in result.counts.items())
    print(f"replayed: {counts}")
    if args.out is not None:
        write_replay(result, args.out)
        print(f"replay: {args.out / 'replay.json'}")
    if result.matches:
        print("identical to what the session recorded")
        return 0
    print(f"MISMATCH: first difference at {result.differences[0]}")
    for extra in result.differences[1:]:
        print(f"  also: {extra}")
    return 1


def _cmd_kill_switch(args: argparse.Namespace) -> int:
    kind = (
        ControlCommandKind.KILL_SWITCH if args.state == "on" else ControlCommandKind.RESUME_TRADING
    )
    command_id = send_command(
        validate_session_name(args.session), kind, strategy_id=args.strategy,
        detail=f"qk kill-switch {args.state}",
    )  # fmt: skip
    scope = f"strategy {args.strategy}" if args.strategy else "every strategy"
    print(
        f"kill switch {args.state} for {scope} sent to session {args.session} (command {command_id})"
    )
    return 0
