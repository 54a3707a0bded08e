"""Skeletons, clips, retargeting presets and axis/unit handling (numpy only).

Importable inside any DCC's Python: nothing here needs torch or a DCC module.
"""

from . import quat
from .skeleton import Clip, RigError, Skeleton, forward_kinematics, skeleton_from_world

__all__ = ["Clip", "RigError", "Skeleton", "forward_kinematics", "skeleton_from_world"]
