"""`--rig PRESET|FILE`: loading each target rig once and retargeting takes onto it.

A rig spec that names no preset and no file is a setup error, reported before any GPU
work (`check_spec`); a rig that exists but cannot be read or mapped as a humanoid fails
only the takes that use it, with the rigs package's message in the manifest.
"""

from __future__ import annotations

import functools
from pathlib import Path

from motionbridge.rigs import Clip
from motionbridge.rigs.load import Target
from motionbridge.rigs.metrics import flat_metrics


class RigLoadError(ValueError):
    """The rig spec names no preset or readable file."""


RIG_FILE_SUFFIXES = (".json", ".toml", ".fbx", ".glb", ".gltf", ".bvh")  # mapping files, character files


def check_spec(spec: str) -> None:
    """A preset name, or a regular file with a rig file's extension (checked before any work,
    so `rig: /etc/passwd` or a device node fails at --check, not halfway through a farm)."""
    from motionbridge.rigs import preset_names

    if spec.lower() in preset_names():
        return
    path = Path(spec)
    if not path.is_file():
        raise RigLoadError(f"rig {spec!r} is neither a preset ({', '.join(preset_names())}) nor an existing file")
    if path.suffix.lower() not in RIG_FILE_SUFFIXES:
        raise RigLoadError(f"rig {spec!r} is not a rig file: pass a mapping (.json/.toml) or a character file "
                           f"(.fbx/.glb/.gltf/.bvh), or a preset ({', '.join(preset_names())})")


@functools.lru_cache(maxsize=32)
def load_target(spec: str) -> Target:
    """The target rig (skeleton and bone mapping) for a preset or a file, cached per process."""
    from motionbridge.rigs import load_rig, rig_skeleton

    mapping = load_rig(spec)
    return Target(spec, rig_skeleton(mapping), mapping.name, mapping=mapping)


def apply(spec: str, clip: Clip) -> tuple[Clip, dict[str, float]]:
    """Retargets `clip` onto the rig; returns the new clip and flat retarget metrics."""
    from motionbridge.rigs.retarget import retarget

    rig = load_target(spec)
    result = retarget(clip, rig.skeleton, rig.mapping)
    return result.clip, flat_metrics(result.metrics)
