"""Where compiled code outlives the process: Inductor's caches under $MOTIONBRIDGE_HOME.

Inductor keeps its FX-graph and AOTAutograd caches and the Triton kernels it builds under
TORCHINDUCTOR_CACHE_DIR (by default a folder in /tmp, often wiped at boot). Pointing it at
$MOTIONBRIDGE_HOME/compile-cache makes a restarted daemon load each shape's code from disk:
on one H100, 2.7 s for a 1.0B shape instead of 27.7 s compiled from nothing
(bench/compile_probe.py). Inductor writes each entry to a temporary file and renames it into
place, so a daemon killed while compiling leaves no half-written entry behind (tested on the
CPU: tests/daemon/engine/compile/test_cache.py).
"""

from __future__ import annotations

import os
from pathlib import Path


def compile_cache_dir(home: Path | str | None = None) -> Path:
    if home is None:
        from motionbridge.daemon.model.loading import home as motionbridge_home

        home = motionbridge_home()
    return Path(home) / "compile-cache"


def use_compile_cache(home: Path | str | None = None) -> Path:
    """Points Inductor and Triton at the cache folder, unless the environment already names
    one (TORCHINDUCTOR_CACHE_DIR / TRITON_CACHE_DIR win). Call before the first compile."""
    root = Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or compile_cache_dir(home) / "torchinductor")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root)
    os.environ.setdefault("TRITON_CACHE_DIR", str(root / "triton"))
    root.mkdir(parents=True, exist_ok=True)
    return root
