"""One registry of take writers, keyed by file extension.

A writer is `write(path, takes, names, **options) -> list[str] | None`; it must write through
`atomic.atomic_path` so that a failure leaves nothing partial, and returns the warnings it
has for the user (e.g. joint names it had to sanitise). Two-part extensions such as
`.amass.npz` take precedence over their last part.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motionbridge.rigs import Clip

from .atomic import ExportError

Writer = Callable[..., "list[str] | None"]
log = logging.getLogger("motionbridge.exporters")

# extension -> "module:function", imported on first use so optional packages stay optional
WRITERS: dict[str, str] = {
    ".npz": "motionbridge.exporters.npz:write",
    ".amass.npz": "motionbridge.exporters.amass:write",
    ".fbx": "motionbridge.exporters.fbx:write",
    ".glb": "motionbridge.exporters.gltf:write",
    ".gltf": "motionbridge.exporters.gltf:write",
    ".bvh": "motionbridge.exporters.bvh:write",
    ".usd": "motionbridge.exporters.usd:write",
    ".usda": "motionbridge.exporters.usd:write",
    ".usdc": "motionbridge.exporters.usd:write",
}


@dataclass
class ExportResult:
    path: Path
    warnings: list[str] = field(default_factory=list)


def register(extension: str, target: str) -> None:
    WRITERS[extension.lower()] = target


def supported_extensions() -> list[str]:
    return sorted(WRITERS)


def extension_of(path: str | os.PathLike[str]) -> str:
    suffixes = [x.lower() for x in Path(path).suffixes]
    two = "".join(suffixes[-2:])
    return two if len(suffixes) >= 2 and two in WRITERS else "".join(suffixes[-1:])


def writer_for(path: str | os.PathLike[str]) -> Writer:
    ext = extension_of(path)
    if ext not in WRITERS:
        raise ExportError(f"unknown output extension {ext or '(none)'!r} for {path}; use one of {', '.join(supported_extensions())}")
    module_name, func = WRITERS[ext].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExportError(f"writing {ext} needs an optional package ({exc.name}); pip install 'motionbridge[exporters]'") from exc
    return getattr(module, func)


def export(path: str | os.PathLike[str], takes: Sequence[Clip], names: Sequence[str] | None = None, **options: Any) -> ExportResult:
    """Write one or more takes to `path` (the extension picks the format); report warnings."""
    if not takes:
        raise ExportError(f"nothing to write to {path}: no takes")
    names = list(names) if names is not None else [t.metadata.get("take_name") or f"take{i}" for i, t in enumerate(takes)]
    if len(names) != len(takes):
        raise ExportError(f"{len(takes)} takes but {len(names)} names")
    writer = writer_for(path)
    warnings = list(writer(Path(path), list(takes), names, **options) or [])
    for message in warnings:
        log.warning("%s: %s", path, message)
    return ExportResult(Path(path), warnings)


def write(path: str | os.PathLike[str], takes: Sequence[Clip], names: Sequence[str] | None = None, **options: Any) -> Path:
    """Write one or more takes to `path`; the extension picks the format."""
    return export(path, takes, names, **options).path
