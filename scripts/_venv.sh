# Sourced by the other scripts: make .venv (idempotent) and install the project into it.
# A fingerprint of the build inputs decides whether to rebuild, so a second run is quick.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
STAMP=.venv/.qk-installed
FINGERPRINT=$(cat pyproject.toml setup.py cext/*.h cext/*.pxd cext/*.pyx | sha256sum | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$FINGERPRINT" ] || ! .venv/bin/python -c "import qk.rings._ring, qk.wal._frames, qk.schemas._layout" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$FINGERPRINT" > "$STAMP"
fi
