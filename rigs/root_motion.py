"""Root motion: the one set of words for what a take's root does, and the one function that
applies it to a finished clip.

- "world": the root travels as generated (the default);
- "in_place": the horizontal travel is removed, the vertical motion (crouch, jump) is kept;
- "off": the root stays at its rest position.

The retargeter (retarget.py) applies the same words while it builds the hips' path; the daemon
applies them to a take on request (protocol field `root_motion`) and the DCC panel to its
same-topology transfer, both through `apply_root_motion`.
"""

from __future__ import annotations

import numpy as np

from .skeleton import Clip, RigError

ROOT_MOTIONS = ("world", "in_place", "off")
# the retargeter's words before they were unified, still accepted from Python callers
_FORMER_WORDS = {"on": "world", "xz_in_place": "in_place"}


def root_motion_mode(value: object) -> str:
    """One of ROOT_MOTIONS from a word, a former word or a panel checkbox (True = world, False = off)."""
    if isinstance(value, bool):
        return "world" if value else "off"
    if isinstance(value, str) and value in ROOT_MOTIONS:
        return value
    if isinstance(value, str) and value in _FORMER_WORDS:
        return _FORMER_WORDS[value]
    raise RigError(f"root_motion must be one of {ROOT_MOTIONS}, not {value!r}")


def apply_root_motion(clip: Clip, mode: str) -> Clip:
    """The clip with its root moved as `mode` says; "world" returns it unchanged."""
    mode = root_motion_mode(mode)
    if mode == "world":
        return clip
    t = np.array(clip.root_translation, copy=True)
    if mode == "off":
        t[:] = clip.skeleton.rest_translations[0]
    else:
        horizontal = [0, 2] if clip.skeleton.up_axis == "y" else [0, 1]
        t[:, horizontal] = t[:1, horizontal]
    return clip.replace(root_translation=t, metadata={**clip.metadata, "root_motion": mode})
