#!/usr/bin/env bash
# The test command: installs what the suite needs (idempotent), then runs it.
# pytest's exit code 5 ("no tests collected") is a failure here: a suite that ran nothing is not green.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash install/dev_setup.sh || { echo "dependency install failed"; exit 1; }
python3 -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$rc"
