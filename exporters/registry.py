"""One registry of take writers, keyed by file extension.

A writer is `write(path, takes, names, **options) -> None`; it must write through
`atomic.atomic_path` so that a failure leaves nothing partial.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from motionbridge.rigs import Clip

from .atomic import ExportError

Writer = Callable[..., None]

# extension -> "module:function", imported on first use so optional packages stay optional
WRITERS: dict[str, str] = {
    ".npz": "motionbridge.exporters.npz:write",
}


def register(extension: str, target: str) -> None:
    WRITERS[extension.lower()] = target


def supported_extensions() -> list[str]:
    return sorted(WRITERS)


def writer_for(path: str | os.PathLike[str]) -> Writer:
    ext = "".join(Path(path).suffixes[-1:]).lower()
    if ext not in WRITERS:
        raise ExportError(f"unknown output extension {ext or '(none)'!r} for {path}; use one of {', '.join(supported_extensions())}")
    module_name, func = WRITERS[ext].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExportError(f"writing {ext} needs an optional package ({exc.name}); pip install 'motionbridge[exporters]'") from exc
    return getattr(module, func)


def write(path: str | os.PathLike[str], takes: Sequence[Clip], names: Sequence[str] | None = None, **options: Any) -> Path:
    """Write one or more takes to `path`; the extension picks the format."""
    if not takes:
        raise ExportError(f"nothing to write to {path}: no takes")
    names = list(names) if names is not None else [t.metadata.get("take_name") or f"take{i}" for i, t in enumerate(takes)]
    if len(names) != len(takes):
        raise ExportError(f"{len(takes)} takes but {len(names)} names")
    writer = writer_for(path)
    writer(Path(path), list(takes), names, **options)
    return Path(path)
