#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine: system libraries
# (assimp for the independent FBX reader), the Khronos glTF validator (npm) and the Python
# packages (CPU torch pinned to the local 2.13.0 wheel; the dev extra, with the pinned ruff and mypy
# that install/gates.sh runs) into the virtual environment $PY belongs to (run_tests.sh sets it;
# else the active one or `.venv`, see venv.sh). Safe to re-run: each step is skipped when what it
# installs is already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ldconfig -p 2>/dev/null | grep -q libassimp.so.5; then
  echo "== apt: libassimp5"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libassimp5 >/dev/null
fi

# the review page's tests drive a real headless Chromium over the DevTools protocol
if ! command -v chromium >/dev/null; then
  echo "== apt: chromium"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# gltf-validator publishes only 2.0.0-dev.* versions (no bin script), so "@2" matches nothing:
# pin the latest and test for the package folder.
if [ ! -f tests/.tools/node_modules/gltf-validator/package.json ] && command -v npm >/dev/null; then
  echo "== npm: gltf-validator"
  mkdir -p tests/.tools
  npm install --silent --no-audit --no-fund --prefix tests/.tools gltf-validator@2.0.0-dev.3.10 >/dev/null
fi

if [ -z "${PY:-}" ]; then source install/venv.sh; mb_use_venv "$here"; fi
# the stamp lives in the environment, so a new environment installs again
stamp="$("$PY" -c 'import sys; print(sys.prefix)')/.motionbridge-deps-$(sha1sum pyproject.toml setup.py | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "== pip: motionbridge[dev] (torch==2.13.0 CPU) into $("$PY" -c 'import sys; print(sys.prefix)')"
  "$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0" -e ".[dev]"
  touch "$stamp"
fi

# the oldest and newest bpy on PyPI for Python 3.11 besides the installed one: the Blender
# tests run on each (tests/dcc_plugin/blender/bpy_builds.py); 4.2 and 4.3 have no layered Actions
for v in 4.2.0 5.0.1; do
  if [ ! -d "tests/.tools/bpy-$v/bpy" ]; then
    echo "== pip: bpy $v into tests/.tools"
    "$PY" -m pip install -q --disable-pip-version-check --no-deps --target "tests/.tools/bpy-$v" "bpy==$v"
  fi
done
