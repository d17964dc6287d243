"""``qk``: the QuantKubera command line.

Subcommands: ``demo``, ``backtest``, ``bars``, ``new strategy``, ``rings ls|cleanup``,
``wal recover|verify|dump``, ``instruments ls``, ``schemas``, ``data import|ls|export|compact-wal``,
``runs ls|show|compare``, ``secrets set|list|delete``, ``sweep``, ``walkforward``, ``status``, ``stop``, ``mock-venue binance``.
``start``, ``kill-switch on|off``, ``replay``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from qk.schemas.enums import RecordType


def _cmd_demo(args: argparse.Namespace) -> int:
    from qk.cli.demo import run_demo

    report = run_demo(args.out, records=args.records, seed=args.seed)
    print(
        f"simulated feed -> ring -> WAL writer process -> replay: {report.records:,} trades "
        f"of {report.instrument}"
    )
    print(
        f"  prices   open {report.open}  high {report.high}  low {report.low}  "
        f"close {report.close}  vwap {report.vwap}  volume {report.volume}"
    )
    print(f"  feed     {report.feed_records_per_s:,.0f} records/s into the ring")
    print(
        f"  wal      durable up to seq {report.wal_durable_seq:,}  "
        f"({report.wal_segments} segment(s), {report.wal_bytes / 2**20:.1f} MiB in {report.wal_dir})"
    )
    print(
        f"  replay   {report.replay_records_per_s:,.0f} records/s, "
        f"{'byte-identical to what the feed published' if report.replay_matches else 'MISMATCH'}"
    )
    print(f"report: {args.out / 'report.json'}")
    return 0 if report.replay_matches and report.wal_durable_seq >= report.records else 1


def _cmd_rings_ls(args: argparse.Namespace) -> int:
    from qk.rings import Ring, RingError, list_rings

    names = list(list_rings())
    if not names:
        print("no rings")
    for name in names:
        try:
            with Ring.attach(name) as ring:
                info = ring.info()
                print(
                    f"{name}: {info.slot_size} B x {info.capacity} slots, published "
                    f"{ring.published:,}, producer pid {info.producer_pid or '-'}, "
                    f"{'closed' if info.closed else 'open'}"
                )
                for c in ring.consumers():
                    print(
                        f"  consumer {c.name!r} {c.policy.name.lower()} cursor {c.cursor:,} "
                        f"gaps {c.gaps:,} pid {c.pid} {'alive' if c.alive else 'DEAD'}"
                    )
        except RingError as exc:
            print(f"{name}: {exc}")
    return 0


def _cmd_rings_cleanup(args: argparse.Namespace) -> int:
    from qk.rings import cleanup_stale

    removed = cleanup_stale()
    print("\n".join(f"removed {name}" for name in removed) or "nothing stale")
    return 0


def _cmd_wal_recover(args: argparse.Namespace) -> int:
    from qk.wal import recover

    report = recover(args.dir, verify_all=args.verify_all)
    print(f"{args.dir}: {len(report.segments)} segment(s), last seq {report.last_seq:,}")
    for d in report.dropped:
        print(
            f"  dropped {d.length:,} bytes of segment {d.segment_index} at offset {d.offset} "
            f"after seq {d.last_good_seq:,}: {d.reason}; saved to {d.quarantine_path}"
        )
    if report.clean:
        print("  clean: nothing dropped")
    return 0


def _cmd_wal_verify(args: argparse.Namespace) -> int:
    from qk.wal import WalCorruptError, WalReader

    frames = 0
    streams: dict[int, int] = {}
    last = 0
    try:
        with WalReader(args.dir, verify=True) as reader:
            for batch in reader.batches():
                frames += len(batch)
                last = int(batch.seq[-1])
                for stream in set(batch.stream.tolist()):
                    streams[stream] = streams.get(stream, 0) + int((batch.stream == stream).sum())
            stopped = reader.stopped_at
    except WalCorruptError as exc:
        print(f"CORRUPT: {exc}")
        return 1
    print(f"{args.dir}: {frames:,} frames, CRC32C verified, last seq {last:,}")
    for stream, count in sorted(streams.items()):
        print(f"  stream {stream}: {count:,} frames")
    if stopped is not None:
        path, offset, reason = stopped
        print(f"TORN TAIL: {path} at offset {offset}: {reason} (run `qk wal recover`)")
        return 1
    return 0


def _cmd_wal_dump(args: argparse.Namespace) -> int:
    from qk.wal import WalReader

    with WalReader(args.dir) as reader:
        for n, rec in enumerate(reader.records(start_seq=args.start_seq, start_ts=args.start_ts)):
            if n >= args.limit:
                break
            kind = "-"
            if len(rec.payload) >= 2:
                code = int.from_bytes(rec.payload[:2], "little")
                kind = RecordType(code).name if code in RecordType._value2member_map_ else "?"
            print(
                f"seq {rec.seq:>10} ts {rec.ts_event:>20} stream {rec.stream:>3}:{rec.stream_seq:<10} "
                f"{len(rec.payload):>5} B {kind}"
            )
    return 0


def _cmd_instruments_ls(args: argparse.Namespace) -> int:
    from qk.instruments import load_instruments

    for inst in load_instruments(args.file):
        print(
            f"{inst.instrument_id:>4} {inst.venue.name:<8} {inst.symbol:<24} "
            f"{inst.asset_class.name:<8} {inst.kind.name:<10} tick {inst.tick_size} lot {inst.lot_size}"
        )
    return 0


def _cmd_schemas(args: argparse.Namespace) -> int:
    from qk.schemas import SCHEMA_HASH, dtype_of

    print(f"schema hash {SCHEMA_HASH:#018x}")
    for rt in RecordType:
        print(f"{rt.value:>4} {rt.name:<24} {dtype_of(rt).itemsize:>4} bytes")
    return 0


def _cmd_new_strategy(args: argparse.Namespace) -> int:
    from qk.strategy.template import render_strategy

    files = render_strategy(args.name)
    root: Path = args.root
    existing = [rel for rel in files if (root / rel).exists()]
    if existing:
        raise ValueError(f"refusing to overwrite {', '.join(existing)}")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from qk.backtest.cli import run

    return run(args)


def _cmd_bars(args: argparse.Namespace) -> int:
    from qk.bars.cli import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    """The ``qk`` argument parser."""
    parser = argparse.ArgumentParser(prog="qk", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="simulated feed -> ring -> WAL writer -> replay, with a report"
    )
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory")
    demo.add_argument("--records", type=int, default=200_000, help="number of simulated trades")
    demo.add_argument("--seed", type=int, default=7, help="seed of the simulated feed")
    demo.set_defaults(func=_cmd_demo)

    rings = sub.add_parser("rings", help="inspect or clean up shared-memory rings").add_subparsers(
        dest="rings_command", required=True
    )
    rings.add_parser("ls", help="list rings and their consumers").set_defaults(func=_cmd_rings_ls)
    rings.add_parser("cleanup", help="unlink rings no live process uses").set_defaults(
        func=_cmd_rings_cleanup
    )

    wal = sub.add_parser("wal", help="recover, verify or dump a WAL directory").add_subparsers(
        dest="wal_command", required=True
    )
    rec = wal.add_parser("recover", help="truncate a torn tail, quarantining what is dropped")
    rec.add_argument("dir", type=Path)
    rec.add_argument("--verify-all", action="store_true", help="check every segment's CRCs")
    rec.set_defaults(func=_cmd_wal_recover)
    ver = wal.add_parser("verify", help="check every frame's CRC32C and sequence")
    ver.add_argument("dir", type=Path)
    ver.set_defaults(func=_cmd_wal_verify)
    dump = wal.add_parser("dump", help="print frames")
    dump.add_argument("dir", type=Path)
    dump.add_argument("--start-seq", type=int)
    dump.add_argument("--start-ts", type=int, help="first frame with ts_event >= this (ns)")
    dump.add_argument("--limit", type=int, default=20)
    dump.set_defaults(func=_cmd_wal_dump)

    inst = sub.add_parser("instruments", help="instrument master files").add_subparsers(
        dest="instruments_command", required=True
    )
    ls = inst.add_parser("ls", help="list the instruments of a file")
    ls.add_argument("--file", type=Path, default=Path("configs/instruments.toml"))
    ls.set_defaults(func=_cmd_instruments_ls)

    sub.add_parser("schemas", help="record types and sizes").set_defaults(func=_cmd_schemas)

    new = sub.add_parser("new", help="create from a template").add_subparsers(
        dest="new_command", required=True
    )
    new_strategy = new.add_parser(
        "strategy", help="a documented strategy skeleton, its deployment descriptor and a test"
    )
    new_strategy.add_argument("name", help="snake_case module name, e.g. mean_reversion")
    new_strategy.add_argument("--root", type=Path, default=Path("."), help="project root")
    new_strategy.set_defaults(func=_cmd_new_strategy)

    from qk.bars.cli import configure_parser as configure_bars

    bars = sub.add_parser("bars", help="trades file (CSV/Parquet) -> one bars CSV per timeframe")
    configure_bars(bars)
    bars.set_defaults(func=_cmd_bars)

    from qk.backtest.cli import configure_parser as configure_backtest

    backtest = sub.add_parser("backtest", help="run a deployment descriptor over trades")
    configure_backtest(backtest)
    backtest.set_defaults(func=_cmd_backtest)

    # Commands whose package owns its own arguments: each module's register(sub).
    from qk.data.cli import register as register_data
    from qk.research.cli import register as register_research
    from qk.runs.cli import register as register_runs
    from qk.runtime.cli import register as register_runtime
    from qk.secrets.cli import register as register_secrets
    from qk.supervisor.cli import register as register_supervisor
    from qk.venues.binance.mock.cli import register as register_mock_binance

    for register in (
        register_data,
        register_runs,
        register_research,
        register_secrets,
        register_runtime,
        register_supervisor,
        register_mock_binance,
    ):
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qk``. Expected failures print one clear line and exit 2."""
    from qk.instruments import InstrumentError
    from qk.rings import RingError
    from qk.wal import WalError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (OSError, ValueError, RuntimeError, WalError, RingError, InstrumentError) as exc:
        print(f"qk: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
