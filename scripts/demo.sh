#!/usr/bin/env bash
# The main job on the embedded default, on the built-in simulated venue:
#  1. a deterministic backtest of strategies/momentum.py (configs/momentum_sim.toml) over 1,000,000
#     seeded synthetic BTCUSDT trades, with its report (out/demo/backtest/report.html);
#  2. a 10-second paper session of the same strategy (configs/momentum_paper.toml): supervised
#     feed, aggregator, strategy, OMS and WAL-writer processes over shared-memory rings, with its
#     summary (out/sessions/demo/summary.json);
#  3. a replay of that session from its WAL, checked byte for byte against what it recorded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
.venv/bin/qk backtest --config configs/momentum_sim.toml --synthetic --out out/demo/backtest "$@"
echo
rm -rf out/sessions/demo
.venv/bin/qk start --mode paper --config configs/momentum_paper.toml --duration 10 --session demo \
    2> out/demo/paper.log
echo
.venv/bin/qk replay --wal out/sessions/demo/wal --verify 2>> out/demo/paper.log
echo
echo "backtest report: out/demo/backtest/report.html (summary.json, trades.csv, orders.csv, equity.csv beside it)"
echo "paper session:   out/sessions/demo/summary.json (processes' logs in out/demo/paper.log)"
