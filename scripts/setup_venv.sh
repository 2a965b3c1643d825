# Sourced by demo.sh and test.sh. `setup_venv [EXTRA]` creates $VENV (default .venv) once and installs
# tinykws into it (with the optional extra, e.g. "test"); pip's output goes to $VENV/install.log
# unless it fails.
VENV=${VENV:-.venv}

setup_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  local log="$VENV/install.log" spec="."
  [ -n "${1:-}" ] && spec=".[$1]"
  echo "setting up $VENV (log: $log) ..."
  "$VENV/bin/python" -m pip install -q --upgrade pip > "$log" 2>&1 || { cat "$log"; exit 1; }
  "$VENV/bin/python" -m pip install -q -e "$spec" >> "$log" 2>&1 || { cat "$log"; exit 1; }
}
