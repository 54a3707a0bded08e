"""Maya implementation of the host contract: the selected joint hierarchy, keyed through
motionbridge.rigs, one animation layer per take. `maya.utils.executeDeferred` is the
thread-safe way back to the main thread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import maya.utils
from maya import cmds

from motionbridge.dcc_plugin.core.host import HostError, StatusCallbackHost, TakeInfo
from motionbridge.dcc_plugin.core.takes_list import RIG_KEY
from motionbridge.rigs import Clip, Skeleton

from . import scene, scene_io


class MayaHost(StatusCallbackHost):
    name = "maya"

    def __init__(self, on_status: Callable[[float, str, str], None] | None = None) -> None:
        super().__init__(on_status)
        self._rigs: dict[str, tuple[Skeleton, list[str]]] = {}  # rig -> skeleton and joints, as read_rig read them

    def run_on_main_thread(self, fn: Callable[[], None]) -> None:
        maya.utils.executeDeferred(fn)

    def list_rigs(self) -> list[str]:
        return scene.root_joints()

    def selected_rig(self) -> str | None:
        for node in cmds.ls(selection=True, long=True) or []:
            root = scene.root_of(node)
            if root is not None:
                return root
        return None

    def read_rig(self, rig: str) -> Skeleton:
        if not cmds.objExists(rig) or cmds.objectType(rig) != "joint":
            raise HostError(f"{rig!r} is not a joint; select the character's root joint (or any joint of it)")
        self._rigs[rig] = scene.read_skeleton(rig)
        return self._rigs[rig][0]

    def _rig(self, rig: str) -> tuple[Skeleton, list[str]]:
        if rig not in self._rigs:
            self.read_rig(rig)
        return self._rigs[rig]

    def apply_take(self, rig: str, clip: Clip, take_name: str, metadata: dict[str, Any]) -> TakeInfo:
        _, joints = self._rig(rig)
        info = scene.key_take(joints, clip, take_name, {**metadata, RIG_KEY: rig})  # the takes list shows it
        return TakeInfo(info.name, rig, info.frame_start, info.frame_end, info.fps, info.metadata)

    def list_takes(self) -> list[TakeInfo]:
        return scene.list_takes()

    def _check_take(self, take_name: str) -> None:
        if take_name not in scene.take_layers():
            raise HostError(f"no MotionBridge take named {take_name!r}")

    def read_take(self, take_name: str) -> Clip:
        """The take's layer curves on the joints of the rig it was keyed on (skeleton as that
        rig was read for Generate in this session, else as it is now)."""
        self._check_take(take_name)
        metadata = scene.take_metadata(take_name)
        rig = str(metadata.get(RIG_KEY, ""))
        if not rig or not cmds.objExists(rig):
            raise HostError(f"take {take_name!r} was keyed on {rig or 'a skeleton'}, which is no longer in the scene; it cannot be exported")
        skeleton, joints = self._rig(rig)
        try:
            return scene.read_take(take_name, joints, skeleton, metadata)
        except HostError:
            raise
        except RuntimeError as exc:
            raise HostError(f"could not read take {take_name!r}: {str(exc).strip()}") from None

    def delete_take(self, take_name: str) -> None:
        self._check_take(take_name)
        try:
            cmds.delete(take_name)
        except RuntimeError as exc:  # cmds raises plain RuntimeErrors; the panel shows HostErrors
            raise HostError(f"could not delete take {take_name!r}: {str(exc).strip()}") from None

    def rename_take(self, take_name: str, new_name: str) -> None:
        self._check_take(take_name)
        try:
            given = str(cmds.rename(take_name, new_name))
        except RuntimeError as exc:
            raise HostError(f"could not rename take {take_name!r}: {str(exc).strip()}") from None
        if given != new_name:  # Maya replaced characters or made the name unique: the list would lose the row
            cmds.rename(given, take_name)
            raise HostError(f"Maya would call the take {given!r}, not {new_name!r}: node names take letters, digits "
                            "and _ and are unique in the scene; pick another name")

    def audition_take(self, take_name: str) -> None:
        scene.audition(take_name)

    def set_timeline(self, frame_start: int, frame_end: int, fps: float) -> None:
        scene.set_timeline(frame_start, frame_end, fps)

    # -- directing (untested in Maya: type-checked only) --------------------------------
    def current_frame(self) -> float:
        return scene_io.current_frame()

    def scene_fps(self) -> float:
        return scene_io.scene_fps()

    def read_pose(self, rig: str, frames: Sequence[float]) -> Clip:
        skeleton, joints = self._rig(rig)
        return scene_io.read_pose(joints, skeleton, frames)

    def keyed_frames(self, rig: str) -> list[int]:
        return scene_io.keyed_frames(self._rig(rig)[1])

    def preview_range(self) -> tuple[int, int] | None:
        """Maya's playback range (it has no separate preview range)."""
        return scene_io.playback_range()

    def sample_curve(self, curve: str, rig: str, count: int) -> Any:
        return scene_io.sample_curve(curve, count)

