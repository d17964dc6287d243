#!/usr/bin/env bash
# The test command: lint (ruff), types (mypy --strict on qk/), generated files in sync, then pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
echo "== ruff"
.venv/bin/ruff check qk bench tests strategies
echo "== mypy --strict qk"
.venv/bin/mypy --strict qk
echo "== generated record layouts in sync"
.venv/bin/python -m qk.schemas.generate --check
echo "== qk-bench --quick (the benchmarks run in CI; figures in out/bench/)"
.venv/bin/qk-bench ring --quick --json out/bench/ring-quick.json
.venv/bin/qk-bench wal --quick --json out/bench/wal-quick.json
.venv/bin/qk-bench ingest --quick --json out/bench/ingest-quick.json
.venv/bin/qk-bench backtest --quick --json out/bench/backtest-quick.json
.venv/bin/qk-bench metrics --quick --json out/bench/metrics-quick.json
.venv/bin/qk-bench sweep --quick --json out/bench/sweep-quick.json
.venv/bin/qk-bench binance --quick --json out/bench/binance-quick.json
.venv/bin/qk-bench e2e --quick --json out/bench/e2e-quick.json
echo "== pytest"
exec .venv/bin/pytest -q "$@"
