"""``qk-bench``: run a benchmark suite and print or save its flat metric → number JSON.

Each suite is a module in this package with ``run(quick: bool) -> dict[str, float]``. Figures are
meaningful as ratios against the baselines the same suite measures in the same run: the machines are
shared and noisy.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from pathlib import Path

import orjson

SUITES = {
    "backtest": "qk.bench.backtest",
    "binance": "qk.bench.binance",
    "e2e": "qk.bench.e2e",
    "ingest": "qk.bench.ingest",
    "metrics": "qk.bench.metrics",
    "ring": "qk.bench.ring",
    "sweep": "qk.bench.sweep",
    "wal": "qk.bench.wal",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qk-bench", description=__doc__)
    parser.add_argument("suite", choices=sorted(SUITES), help="which benchmark suite to run")
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the metrics here")
    args = parser.parse_args(argv)

    module = importlib.import_module(SUITES[args.suite])
    metrics: dict[str, float] = module.run(quick=args.quick)
    for key in sorted(metrics):
        print(f"{key:32s} {metrics[key]:>16,.3f}")
    print(
        f"# {platform.node()} {platform.machine()} python {platform.python_version()}",
        file=sys.stderr,
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(
            orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
