# Shared by scripts/serve and scripts/test: a virtual environment with the project installed
# from the lock files, so every machine gets the versions that were tested.
# Usage: . scripts/bootstrap.sh [runtime|test]      (refresh the locks with scripts/lock)
set -euo pipefail
PYTHON="${PYTHON:-python3}"
"$PYTHON" - <<'PY' || { echo "Python 3.11 or newer is required (set PYTHON=...)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
lock="requirements/${1:-runtime}.txt"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-${1:-runtime}"
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --require-hashes -r requirements/bootstrap.txt
  .venv/bin/python -m pip install --quiet --require-hashes -r "$lock"
  # The project itself: its dependencies are already there, exactly as locked.
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  touch "$stamp"
fi
