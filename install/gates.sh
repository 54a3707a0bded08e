#!/usr/bin/env bash
# The quality gates: `ruff check` over the folders listed below, then `mypy` over the packages
# pyproject.toml's [tool.mypy] names. install/run_tests.sh runs both before the suite; the
# pre-commit hooks (.pre-commit-config.yaml) run each half. Exit status 1 on any finding.
#   bash install/gates.sh [ruff|mypy]     (both when no argument)
# Uses $PY's environment (run_tests.sh sets it), else the active virtual environment, else `.venv`
# here; install/dev_setup.sh installs the pinned ruff and mypy there. Creates no environment.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

# What ruff checks: the whole repository (pyproject.toml's extend-exclude leaves out the test tools
# and virtual environments).
RUFF_PATHS=(.)

if [ -z "${PY:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ]; then PY="$VIRTUAL_ENV/bin/python"; else PY="$here/.venv/bin/python"; fi
fi
if ! "$PY" -c 'import mypy, ruff' 2>/dev/null; then
  echo "error: ruff and mypy are not installed in $PY's environment; run bash install/dev_setup.sh" >&2
  exit 1
fi

# .pkgroot/motionbridge/<folder> -> <folder>, so mypy sees each top-level package under its import
# name (tests/conftest.py makes the same links for the suite), and .pkgroot/stubs holds the
# MotionBuilder SDK stubs, which motionbuilder-stubs installs as bare .pyi files that mypy does not
# look for in site-packages.
make_import_root() {
  mkdir -p .pkgroot/motionbridge .pkgroot/stubs
  local init folder
  for init in */__init__.py; do
    folder="${init%/__init__.py}"
    ln -sfn "$here/$folder" ".pkgroot/motionbridge/$folder"
  done
  "$PY" - <<'PY' || return 1
import importlib.metadata, pathlib, sys
try:
    files = importlib.metadata.files("motionbuilder-stubs") or []
except importlib.metadata.PackageNotFoundError:
    sys.exit("motionbuilder-stubs is not installed; run bash install/dev_setup.sh")
for f in files:
    if f.name.endswith(".pyi"):
        link = pathlib.Path(".pkgroot/stubs") / f.name
        link.unlink(missing_ok=True)
        link.symlink_to(pathlib.Path(f.locate()).resolve())
PY
}

run_ruff() {
  echo "== ruff check ${RUFF_PATHS[*]}"
  "$PY" -m ruff check "${RUFF_PATHS[@]}"
}

run_mypy() {
  echo "== mypy (the packages in pyproject.toml's [tool.mypy])"
  make_import_root && "$PY" -m mypy
}

case "${1:-all}" in
  ruff) run_ruff ;;
  mypy) run_mypy ;;
  all) rc=0; run_ruff || rc=1; run_mypy || rc=1; exit "$rc" ;;
  *) echo "usage: bash install/gates.sh [ruff|mypy]" >&2; exit 2 ;;
esac
