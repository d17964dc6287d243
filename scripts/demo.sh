#!/usr/bin/env bash
# The main job on the embedded default:
#  1. a deterministic backtest of strategies/momentum.py (configs/momentum_sim.toml) over 1,000,000
#     seeded synthetic BTCUSDT trades on the built-in simulated venue, with its report;
#  2. the shared-memory pipeline a paper session runs on: a simulated feed through a ring into the
#     WAL writer process, then replay, byte-identical (the paper session itself is issue 5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
.venv/bin/qk backtest --config configs/momentum_sim.toml --synthetic --out out/demo/backtest "$@"
echo
.venv/bin/qk demo --out out/demo/pipeline
echo
echo "backtest report: out/demo/backtest/report.html (summary.json, trades.csv, orders.csv, equity.csv beside it)"
