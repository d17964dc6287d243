#!/usr/bin/env bash
# The main job on the embedded default: a simulated feed through a shared-memory ring into the WAL
# writer process, then replay, with a report (out/demo/report.json).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
exec .venv/bin/qk demo --out out/demo "$@"
