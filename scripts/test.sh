#!/usr/bin/env bash
# The test command: lint (ruff), types (mypy --strict on qk/), generated files in sync, then pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
echo "== ruff"
.venv/bin/ruff check qk bench tests
echo "== mypy --strict qk"
.venv/bin/mypy --strict qk
echo "== generated record layouts in sync"
.venv/bin/python -m qk.schemas.generate --check
echo "== qk-bench smoke (ring, quick)"
.venv/bin/qk-bench ring --quick --json out/bench/ring-quick.json > /dev/null
echo "== pytest"
exec .venv/bin/pytest -q "$@"
