"""Skeletons, clips, retargeting presets and axis/unit handling (numpy only).

Importable inside any DCC's Python: nothing here needs torch, scipy or a DCC module (the FBX
reader imports pyassimp lazily, only when an FBX file is read).
"""

from . import quat
from .axes import STANDARD_FPS, convert_axes, convert_handedness, convert_units, resample
from .canonical import CANONICAL_BONES, REQUIRED
from .description import RigDescription, preset, preset_names, read_mapping_file
from .detect import Detection, detect_rig
from .io import read_skeleton
from .load import load_rig, rig_skeleton
from .retarget import RetargetOptions, RetargetResult, retarget
from .skeleton import (
    Clip,
    RigError,
    Skeleton,
    forward_kinematics,
    skeleton_from_parent_names,
    skeleton_from_world,
)

__all__ = [
    "CANONICAL_BONES", "REQUIRED", "STANDARD_FPS", "Clip", "Detection", "RetargetOptions", "RetargetResult",
    "RigDescription", "RigError", "Skeleton", "convert_axes", "convert_handedness", "convert_units", "detect_rig",
    "forward_kinematics", "load_rig", "preset", "preset_names", "quat", "read_mapping_file", "read_skeleton", "resample",
    "retarget", "rig_skeleton", "skeleton_from_parent_names", "skeleton_from_world",
]
