# Shared by scripts/serve and scripts/test: a virtual environment with the project installed.
# Usage: . scripts/bootstrap.sh [extras]
set -euo pipefail
PYTHON="${PYTHON:-python3}"
"$PYTHON" - <<'PY' || { echo "Python 3.11 or newer is required (set PYTHON=...)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-${1:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${1:+[$1]}"
  touch "$stamp"
fi
