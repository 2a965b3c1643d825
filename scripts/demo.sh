#!/usr/bin/env bash
# Set up a virtual environment (once) and run the demo: synthetic speech -> int8 TFLM model -> C array.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_venv.sh
setup_venv
exec "$VENV/bin/tinykws" demo "$@"
