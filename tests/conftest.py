"""Test setup shared by the whole suite.

The source folders map to `motionbridge.<folder>` (pyproject's package-dir). So that the
suite always tests *this* checkout, whatever is pip-installed, we build a tiny import root of
symlinks (`.pkgroot/motionbridge/<folder>` -> `<folder>`) and put it first on sys.path and on
PYTHONPATH for subprocesses (daemon, Blender, CLI).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FOLDERS = ("daemon", "dcc_plugin", "exporters", "rigs", "install")


def _make_import_root() -> Path:
    root = REPO / ".pkgroot"
    pkg = root / "motionbridge"
    pkg.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        link = pkg / folder
        target = REPO / folder
        if link.is_symlink() and link.resolve() == target.resolve():
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
    return root


IMPORT_ROOT = _make_import_root()
sys.path.insert(0, str(IMPORT_ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(IMPORT_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
# Inductor's cache for this run only: the fast engine marks the shapes whose code is in it
# (daemon/engine/compile/cache.py), and a marker left by an earlier run or another checkout in the
# machine's default /tmp/torchinductor_<user> would change what a warm-up does
if not os.environ.get("TORCHINDUCTOR_CACHE_DIR"):
    import tempfile

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="mb-tests-inductor-")
# Drop any motionbridge already imported from elsewhere (e.g. a site-packages install).
for _name in [m for m in sys.modules if m == "motionbridge" or m.startswith("motionbridge.")]:
    del sys.modules[_name]


def parity_dir() -> Path:
    return Path(os.environ.get("MOTIONBRIDGE_PARITY_DIR", REPO.parent / "shared" / "parity")).resolve()


@pytest.fixture(scope="session")
def parity() -> Path:
    d = parity_dir()
    if not (d / "cases.json").is_file():
        pytest.fail(f"parity fixture not found at {d}; set MOTIONBRIDGE_PARITY_DIR")
    return d


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
