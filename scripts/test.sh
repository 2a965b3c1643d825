#!/usr/bin/env bash
# Set up a virtual environment (once) and run the test suite.
#   bash scripts/test.sh            fast tests
#   TINYKWS_RUN_SLOW=1 bash scripts/test.sh   everything, as CI does
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
log="$VENV/install.log"
echo "setting up $VENV (log: $log) ..."
"$VENV/bin/python" -m pip install -q --upgrade pip > "$log" 2>&1 || { cat "$log"; exit 1; }
"$VENV/bin/python" -m pip install -q -e ".[test]" >> "$log" 2>&1 || { cat "$log"; exit 1; }
if [ "${TINYKWS_RUN_SLOW:-0}" = 1 ]; then
  exec "$VENV/bin/python" -m pytest -p no:cacheprovider -q
else
  exec "$VENV/bin/python" -m pytest -p no:cacheprovider -q -m "not slow"
fi
