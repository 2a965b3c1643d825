#!/usr/bin/env bash
# Set up a virtual environment (once) and run the demo: synthetic speech -> int8 TFLM model -> C array.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e .
exec "$VENV/bin/tinykws" demo "$@"
