"""The host contract: everything the panel needs from a DCC, and nothing more.

A host adapter (Blender, MotionBuilder, Maya) implements this class; the panel, the job
manager and the take bookkeeping in `core` are written against it only, so they are tested
once with a fake host and shared by every DCC.

Threading: the panel calls these methods on the DCC's main thread only. Worker threads
never touch the scene; they hand work back through `run_on_main_thread`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from motionbridge.rigs import Clip, Skeleton

_NO_DIRECTING = "{what} is not supported in {host} yet; use Blender or motionbridge generate's directing flags"
_NO_READ_BACK = "exporting takes from {host} is not supported yet; export from Blender or the command line"


class HostError(RuntimeError):
    """The scene refused an operation; the message says what the user should change."""


@dataclass(frozen=True)
class TakeInfo:
    """A take as the host's scene holds it (an NLA track, an FBTake, an anim layer)."""

    name: str
    rig: str
    frame_start: int
    frame_end: int
    fps: float
    metadata: dict[str, Any] = field(default_factory=dict)


class Host(abc.ABC):
    """Abstract DCC. Rig names are the scene's own object names (an armature, a root joint)."""

    name: str = "host"

    # -- rigs -----------------------------------------------------------------------------
    @abc.abstractmethod
    def list_rigs(self) -> list[str]:
        """Names of the scene's animatable skeletons."""

    @abc.abstractmethod
    def selected_rig(self) -> str | None:
        """The rig the user has selected, or None."""

    @abc.abstractmethod
    def read_rig(self, rig: str) -> Skeleton:
        """The rig's rest skeleton, in the coordinate frame that `apply_take` writes back in."""

    # -- takes ----------------------------------------------------------------------------
    @abc.abstractmethod
    def apply_take(self, rig: str, clip: Clip, take_name: str, metadata: dict[str, Any]) -> TakeInfo:
        """Key `clip` (on `read_rig(rig)`'s skeleton) as a new take named `take_name`, storing
        `metadata` on it. All or nothing: on any failure no part of the take remains."""

    @abc.abstractmethod
    def list_takes(self) -> list[TakeInfo]:
        """The MotionBridge takes in the scene."""

    @abc.abstractmethod
    def delete_take(self, take_name: str) -> None: ...

    @abc.abstractmethod
    def rename_take(self, take_name: str, new_name: str) -> None: ...

    def place_take(self, take_name: str, frame_start: int) -> TakeInfo | None:
        """Move a take just written so its first frame is at scene frame `frame_start` (a
        directed take where its poses came from); None from hosts whose takes stay where
        `apply_take` put them."""
        return None

    def audition_take(self, take_name: str) -> None:  # noqa: B027 - optional: a host without it does nothing
        """Make this take the one that plays (solo it); hosts without takes ignore this."""

    def read_take(self, take_name: str) -> Clip:
        """The take's keys as a Clip on its rig's skeleton (arrays copied out of the scene, so
        a worker can export them). Hosts that cannot read takes back refuse."""
        raise HostError(_NO_READ_BACK.format(host=self.name))

    def export_refusal(self) -> str:
        """'' when `read_take`, and so Export, works here, else the one line saying why not:
        asked before a file dialog opens, so a host that cannot export does not ask for a file."""
        return "" if type(self).read_take is not Host.read_take else _NO_READ_BACK.format(host=self.name)

    # -- preview --------------------------------------------------------------------------
    def show_preview(self, rig: str, clip: Clip) -> None:  # noqa: B027 - optional: a host without it does nothing
        """Drive the rig with a denoising preview (no keys written). Optional."""

    def clear_preview(self, rig: str) -> None:  # noqa: B027 - optional: a host without it does nothing
        """Put the rig back as it was before previews started. Optional."""

    # -- directing (optional: a host without them refuses those panel rows) ---------------
    def current_frame(self) -> float:
        """The playhead, in scene frames."""
        raise HostError(_NO_DIRECTING.format(host=self.name, what="reading the playhead"))

    def scene_fps(self) -> float:
        """The scene's frame rate."""
        raise HostError(_NO_DIRECTING.format(host=self.name, what="reading the frame rate"))

    def read_pose(self, rig: str, frames: Sequence[float]) -> Clip:
        """The rig's pose as it plays at each scene frame (subframes allowed), as a Clip on
        `read_rig(rig)`'s skeleton, one clip frame per entry; the scene's current frame is
        the same after as before."""
        raise HostError(_NO_DIRECTING.format(host=self.name, what="reading the rig's pose"))

    def keyed_frames(self, rig: str) -> list[int]:
        """The scene frames where the rig's own animation (not a MotionBridge take) has keys."""
        raise HostError(_NO_DIRECTING.format(host=self.name, what="reading the rig's keys"))

    def preview_range(self) -> tuple[int, int] | None:
        """The timeline's preview (play) range, first and last frame; None when none is set."""
        raise HostError(_NO_DIRECTING.format(host=self.name, what="reading the preview range"))

    def sample_curve(self, curve: str, rig: str, count: int) -> Any:
        """(count, 3) points along the curve object from its start to its end, in the rig's
        space (the frame `read_rig` reads the skeleton in)."""
        raise HostError(_NO_DIRECTING.format(host=self.name, what="sampling curves"))

    # -- timeline, threads, feedback ------------------------------------------------------
    @abc.abstractmethod
    def set_timeline(self, frame_start: int, frame_end: int, fps: float) -> None: ...

    @abc.abstractmethod
    def run_on_main_thread(self, fn: Callable[[], None]) -> None:
        """Queue `fn` to run soon on the DCC's main thread. Callable from any thread."""

    @abc.abstractmethod
    def report_progress(self, fraction: float, message: str) -> None:
        """Show progress (0..1) and a status line; called on the main thread."""

    @abc.abstractmethod
    def report_error(self, message: str) -> None:
        """Show an error the user can act on; called on the main thread."""


class StatusCallbackHost(Host):
    """A host whose panel shows status through one callback `on_status(fraction, message,
    error)`: the progress and error reports of the contract, written once for every adapter."""

    def __init__(self, on_status: Callable[[float, str, str], None] | None = None) -> None:
        self._on_status = on_status

    def report_progress(self, fraction: float, message: str) -> None:
        if self._on_status is not None:
            self._on_status(fraction, message, "")

    def report_error(self, message: str) -> None:
        if self._on_status is not None:
            self._on_status(0.0, "", message)
