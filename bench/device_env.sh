# Source on the device machine from the repo root: the carried wheels into /tmp/site, the
# motionbridge.<folder> symlinks, and the environment the bench scripts expect.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl 2>&1 | tail -2 || true
mkdir -p .pkgroot/motionbridge
for d in daemon dcc_plugin exporters rigs install; do ln -sfn "$PWD/$d" ".pkgroot/motionbridge/$d"; done
export PYTHONPATH=$PWD/.pkgroot:/tmp/site PYTHONUNBUFFERED=1 MOTIONBRIDGE_PARITY_DIR=$PWD/.parity
