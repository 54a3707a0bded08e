# Sourced by quickstart.sh, run_tests.sh and dev_setup.sh: picks the Python that MotionBridge is
# installed into and run with, and never the system's own. An active virtual environment
# ($VIRTUAL_ENV) is used as it is; otherwise `.venv` in the checkout is created (with uv when it is
# on PATH, else `python3 -m venv`) and used. Sets PY and puts its bin folder first on PATH.
mb_use_venv() {
  local root="$1"
  if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
    PY="$VIRTUAL_ENV/bin/python"
  else
    local venv="$root/.venv"
    if [ ! -x "$venv/bin/python" ]; then
      echo "== creating the virtual environment $venv"
      if command -v uv >/dev/null 2>&1; then
        # installs go through the environment's own pip (from ensurepip: offline), which reads the
        # machine's pip config (index, local wheels, constraints); uv's installer would not
        uv venv --quiet --python "$(command -v python3)" "$venv" && "$venv/bin/python" -m ensurepip --upgrade --default-pip >/dev/null \
          || { echo "error: uv could not make $venv" >&2; rm -rf "$venv"; return 1; }
      else
        python3 -m venv "$venv"
      fi
    fi
    PY="$venv/bin/python"
  fi
  if ! "$PY" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
    echo "error: $PY is not a virtual environment; refusing to install into it" >&2
    return 1
  fi
  export PATH="$(dirname "$PY"):$PATH"
}
