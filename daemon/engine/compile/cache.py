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

import hashlib
import json
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


# -- which code is in the cache -------------------------------------------------------------
# Inductor's cache answers "is this graph compiled?" only by compiling it (a hit takes seconds,
# a miss minutes). A marker per compiled shape (or dynamic code variant), written once its code
# is in the cache with the seconds its in-process compile took, lets a starting daemon tell the
# two apart: marked shapes that load within a budget are loaded in-process before READY (a
# static 1.0B shape: 2.7 s on an H100), the others compile or load in the background (a dynamic
# code variant from a warm cache: 75 s on that H100). A shape compiled from nothing in-process
# (`motionbridge warm`, a benchmark's warm-up) records its whole compile, so the first start after
# it loads that shape in the background; the load then records its own seconds for the next start.
MARKS = "motionbridge-compiled"


def inductor_cache_dir() -> Path:
    """The folder Inductor writes its caches to (TORCHINDUCTOR_CACHE_DIR or its default)."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    return Path(cache_dir())


def _mark_path(identity: dict) -> Path:
    text = json.dumps(identity, sort_keys=True, default=str)
    return inductor_cache_dir() / MARKS / f"{hashlib.sha256(text.encode()).hexdigest()[:40]}.json"


def mark_code_cached(identity: dict, seconds: float) -> None:
    """Records that the code of `identity` is in the cache and how long the in-process part of
    its compile took (loading it in a later process takes about that long); atomic (a process
    killed while writing leaves no marker)."""
    path = _mark_path(identity)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"identity": identity, "seconds": round(float(seconds), 3)}, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


def forget_code_cached(identity: dict) -> None:
    """Removes `identity`'s marker (before its code is loaded in-process: a start killed while
    loading, or hung on a cache that no longer holds the code, must not make the next start
    wait for the same load before READY; the compile job marks it again once loaded)."""
    _mark_path(identity).unlink(missing_ok=True)


def cached_code_seconds(identity: dict) -> float | None:
    """The recorded in-process compile seconds of `identity`'s cached code, or None when no
    marker holds exactly it (anything else, a truncated or foreign file included, counts as not
    cached: the shape then compiles in the background)."""
    try:
        mark = json.loads(_mark_path(identity).read_text(encoding="utf-8"))
        same = mark["identity"] == json.loads(json.dumps(identity, sort_keys=True, default=str))
        return float(mark["seconds"]) if same else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
