#!/usr/bin/env bash
# Fresh machine -> a take on disk: installs MotionBridge with the daemon and exporter extras into a
# virtual environment (the active one, else `.venv` here; see venv.sh; CPU torch 2.13.0 where no
# torch is installed yet), then runs the main job in-process: `motionbridge generate`. Uses the
# official weights in $MOTIONBRIDGE_HOME when they are there (`motionbridge weights download`),
# else the tiny parity fixture in ../shared/parity, so the whole path runs on any machine (the
# fixture's motion is noise: it proves the plumbing).
#   bash install/quickstart.sh ["PROMPT"] [extra generate options, e.g. --out take.glb --rig mixamo]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
prompt="${1:-A person walks forward, then turns left and waves.}"
shift || true

source install/venv.sh
mb_use_venv "$here"
if ! "$PY" -c "import torch" 2>/dev/null; then torch_spec="torch==2.13.0"; else torch_spec=""; fi
"$PY" -m pip install -q --disable-pip-version-check $torch_spec -e ".[daemon,exporters]"

home="${MOTIONBRIDGE_HOME:-$HOME/.cache/motionbridge}"
weights=()
if [ ! -f "$home/HY-Motion-1.0/config.yml" ]; then
  fixture="$(cd "$here/.." && pwd)/shared/parity"
  if [ -f "$fixture/model/config.yml" ]; then
    echo "No official weights in $home (get them with: motionbridge weights download)."
    echo "Running on the tiny parity fixture instead: the motion is noise, the pipeline is real."
    weights=(--checkpoint "$fixture/model" --qwen "$fixture/text_encoders/qwen3" --clip "$fixture/text_encoders/clip")
  fi
fi
mkdir -p out
has_out=0; for a in "$@"; do [ "$a" = "--out" ] && has_out=1; done
[ "$has_out" = 1 ] || set -- "$@" --out out/take.fbx
"$(dirname "$PY")/motionbridge" generate "$prompt" --duration 5 --seed 0 "${weights[@]}" "$@"
echo "MotionBridge is installed in $(dirname "$(dirname "$PY")"): run $(dirname "$PY")/motionbridge, or activate it first (source $(dirname "$PY")/activate)."
