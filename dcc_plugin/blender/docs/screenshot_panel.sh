#!/usr/bin/env bash
# Screenshot of the MotionBridge panel in a real Blender UI, headless (Xvfb, Mesa llvmpipe).
#
#   BLENDER=/opt/blender-4.5/blender bash dcc_plugin/blender/docs/screenshot_panel.sh OUT.png
#
# 1. builds the extension zip the way `motionbridge install blender` does (wheels for the
#    Blender's own Python version) and installs it into a private user-resources folder;
# 2. starts `motionbridge serve` on the tiny parity fixture (MOTIONBRIDGE_PARITY_DIR, default
#    ../shared/parity: random weights, so the motion is noise) on CPU;
# 3. runs Blender with its UI under xvfb-run with screenshot_panel.py, which drives the panel
#    (connect, detect, generate two takes, then detect a rig it cannot map) and saves the
#    window: OUT.png, OUT_generating.png, OUT_hover.png, OUT_rename.png, OUT_error.png,
#    OUT_mapping.png.
#
# Needs: python with this repo's dependencies and torch (the daemon), xvfb-run and xwd
# (Debian: xvfb, x11-apps) where Blender runs, and a Blender 4.2+ with its UI.
# BLENDER_PREFIX runs Blender (and xvfb-run) through a prefix command, e.g. a chroot holding a
# distribution's Blender: BLENDER_PREFIX="chroot /srv/sid" BLENDER=blender (the repo and
# WORK_DIR must be visible at the same paths inside it).
# SCREEN sets the Xvfb screen (default 1100x820x24): the window fills it.
set -euo pipefail

OUT=$(realpath -m "${1:?usage: screenshot_panel.sh OUT.png}")
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
BLENDER=${BLENDER:-blender}
read -r -a PREFIX <<< "${BLENDER_PREFIX:-}"
PARITY=${MOTIONBRIDGE_PARITY_DIR:-$REPO/../shared/parity}
SCREEN=${SCREEN:-1100x820x24}
PORT=${PORT:-7741}
WORK=$(mktemp -d "${WORK_DIR:-${TMPDIR:-/tmp}}/mb-screenshot.XXXXXX")
DAEMON_PID=""
cleanup() {
  # the daemon runs in its own process group (setsid): signal the group, as systemd does,
  # so its model worker stops too; escalate if it has not drained after 20 s
  if [[ -n "$DAEMON_PID" ]]; then
    kill -TERM -- "-$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# this checkout's code, whatever is pip-installed (the same import root tests/conftest.py builds)
mkdir -p "$WORK/pkgroot/motionbridge"
for folder in daemon dcc_plugin exporters rigs install; do ln -s "$REPO/$folder" "$WORK/pkgroot/motionbridge/$folder"; done
export PYTHONPATH="$WORK/pkgroot${PYTHONPATH:+:$PYTHONPATH}"
mb() { python -m motionbridge.daemon.cli "$@"; }

blender_py=$("${PREFIX[@]}" "$BLENDER" --background --factory-startup --python-expr \
  'import sys; print("PYVER=%d.%d" % sys.version_info[:2])' 2>/dev/null | sed -n 's/^PYVER=//p')
blender_ver=$("${PREFIX[@]}" "$BLENDER" --version 2>/dev/null | sed -n 's/^Blender \([0-9]*\.[0-9]*\).*/\1/p' | head -1)
[[ -n "$blender_py" && -n "$blender_ver" ]] || { echo "cannot run $BLENDER" >&2; exit 1; }
echo "Blender $blender_ver (Python $blender_py)"

# 1. the extension, with pyzmq/msgpack/pygltflib wheels for that Python (Blender refuses others);
#    unpacked into the private user folder (MOTIONBRIDGE_BLENDER="": the Blender may sit in a chroot)
python -m pip download --quiet --only-binary=:all: --python-version "$blender_py" \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$WORK/wheels" pyzmq msgpack pygltflib
mb install blender --zip-only "$WORK/motionbridge.zip" --wheels-dir "$WORK/wheels" --blender-python "$blender_py"
MOTIONBRIDGE_BLENDER="" mb install blender --from-zip "$WORK/motionbridge.zip" --prefix "$WORK/config" \
  --blender-version "$blender_ver" --blender-python "$blender_py"

# 2. the daemon on the parity fixture; wait until its model worker is up
setsid python -m motionbridge.daemon.cli serve --parity "$PARITY" --device cpu --bind "tcp://127.0.0.1:$PORT" \
  > "$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 300); do
  grep -q '"worker ready"' "$WORK/daemon.log" && break
  kill -0 "$DAEMON_PID" 2>/dev/null || { echo "the daemon exited:" >&2; tail -5 "$WORK/daemon.log" >&2; exit 1; }
  sleep 1
done

# 3. Blender's UI under Xvfb; its own user resources, so nothing of the user's is read or changed
if ! BLENDER_USER_RESOURCES="$WORK/config/$blender_ver" MOTIONBRIDGE_CONFIG_DIR="$WORK/settings" \
    timeout 900 "${PREFIX[@]}" xvfb-run -a -s "-screen 0 $SCREEN" \
    "$BLENDER" --factory-startup --enable-event-simulate \
    --python "$REPO/dcc_plugin/blender/docs/screenshot_panel.py" -- "$OUT" "tcp://127.0.0.1:$PORT" \
    || [[ ! -s "$OUT" ]]; then
  echo "no screenshot written; the daemon's last lines:" >&2
  tail -5 "$WORK/daemon.log" >&2
  exit 1
fi
echo "wrote $OUT"
