#!/usr/bin/env bash
# The test command: installs what the suite needs into a virtual environment (the active one,
# else `.venv` here; see venv.sh; idempotent), then runs it. The suite runs on transformers 4.53
# (the official pin, which made the parity fixture); with no arguments (the whole suite, as CI
# runs it) the text-encoder and parity tests then run a second time against the newest 5.x, in an
# overlay environment: the suite's packages under transformers 5 and what it needs.
# Before pytest, the quality gates (install/gates.sh: ruff, mypy) run; a finding fails the run, after
# the suite has run all the same so one pass shows everything.
# pytest's exit code 5 ("no tests collected") is a failure here: a suite that ran nothing is not green.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
source install/venv.sh
mb_use_venv "$here" || exit 1
export PY
bash install/dev_setup.sh || { echo "dependency install failed"; exit 1; }
bash install/gates.sh
gates_rc=$?
MOTIONBRIDGE_TEST_VENV="$PY" "$PY" -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
if [ "$#" = 0 ] && [ "$rc" = 0 ]; then
  overlay="$here/.venv-transformers5"
  if [ ! -x "$overlay/bin/python" ]; then
    "$PY" -m venv --without-pip "$overlay" || exit 1
    # the overlay sees the suite's packages after its own: only transformers 5 and what it needs land in it
    "$PY" -c 'import sysconfig; print("import site; site.addsitedir(%r)" % sysconfig.get_paths()["purelib"])' > "$("$overlay/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/motionbridge-base.pth"
    "$overlay/bin/python" -m pip install -q --disable-pip-version-check "transformers>=5,<6" || { echo "transformers 5 install failed"; exit 1; }
  fi
  echo "== text encoders and parity against transformers $("$overlay/bin/python" -c 'import transformers; print(transformers.__version__)')"
  "$overlay/bin/python" -m pytest -q tests/daemon/model/test_parity.py tests/daemon/engine/text/test_encoder.py \
    tests/daemon/engine/fast/test_text_stream.py tests/daemon/engine/text/test_graphs.py tests/daemon/engine/text/test_quantized.py \
    tests/daemon/model/test_qwen_checkpoint.py
  rc=$?
fi
if [ "$gates_rc" != 0 ]; then echo "the quality gates (ruff, mypy) reported findings: failing"; exit 1; fi
exit "$rc"
