#!/usr/bin/env bash
# Set up a virtual environment (once) and run the test suite.
#   bash scripts/test.sh            fast tests
#   TINYKWS_RUN_SLOW=1 bash scripts/test.sh   everything, as CI does
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_venv.sh
setup_venv test
if [ "${TINYKWS_RUN_SLOW:-0}" = 1 ]; then
  exec "$VENV/bin/python" -m pytest -p no:cacheprovider -q
else
  exec "$VENV/bin/python" -m pytest -p no:cacheprovider -q -m "not slow"
fi
