"""load_rig: one entry point for a preset name, a mapping file or a character file; Target:
a rig ready to receive clips (the batch runner's `--rig` and the DCC panel's Target)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .description import RigDescription, preset, preset_names, read_mapping_file
from .detect import detect_rig
from .io import SKELETON_SUFFIXES, read_skeleton
from .skeleton import RigError, Skeleton


def load_rig(spec: str | Path | RigDescription | Skeleton) -> RigDescription:
    """A preset ("mixamo", "ue5_manny", ...), a mapping file (.json/.toml), or a character
    file (.fbx/.glb/.gltf/.bvh, detected and bound to its skeleton)."""
    if isinstance(spec, RigDescription):
        return spec
    if isinstance(spec, Skeleton):
        return detect_rig(spec).mapping
    text = str(spec)
    if text.lower() in preset_names():
        return preset(text.lower())
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in (".json", ".toml"):
        return read_mapping_file(path)
    if suffix in SKELETON_SUFFIXES:
        return detect_rig(read_skeleton(path)).mapping
    raise RigError(
        f"unknown rig {text!r}: pass a preset ({', '.join(preset_names())}), a mapping file (.json/.toml) "
        f"or a character file ({', '.join(SKELETON_SUFFIXES)})"
    )


def rig_skeleton(desc: RigDescription) -> Skeleton:
    """The description's own skeleton, or, for a bare preset, a stand-in character of that
    family (all its bones, T-pose, SMPL-X proportions, the family's up axis and units)."""
    if desc.skeleton is not None:
        return desc.skeleton
    from .humanoid import build_rig

    return build_rig(desc, pose="T", up_axis=desc.up_axis, units=desc.units)


@dataclass(frozen=True)
class Target:
    """A rig ready to receive clips: its skeleton and how source joints map onto it."""

    rig: str  # what the user named: a preset, a file, or a rig in the DCC scene
    skeleton: Skeleton
    preset: str = ""  # the preset the mapping came from; "" for a custom mapping
    confidence: float = 1.0  # of the automatic detection; 1.0 when named or mapped by hand
    mapping: RigDescription | None = None  # bound to `skeleton`; None for the SMPL-X same-topology path
    unmapped_required: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.rig}: {self.preset or 'custom mapping'} ({self.confidence:.0%})"
