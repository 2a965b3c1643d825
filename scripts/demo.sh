#!/usr/bin/env bash
# Set up a virtual environment (once) and run the demo: synthetic speech -> int8 TFLM model -> C array.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
log="$VENV/install.log"
echo "setting up $VENV (log: $log) ..."
"$VENV/bin/python" -m pip install -q --upgrade pip > "$log" 2>&1 || { cat "$log"; exit 1; }
"$VENV/bin/python" -m pip install -q -e . >> "$log" 2>&1 || { cat "$log"; exit 1; }
exec "$VENV/bin/tinykws" demo "$@"
