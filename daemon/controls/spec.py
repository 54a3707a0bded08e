"""What a directed take must do: start from a pose, end on one, pass through keys, loop.

Read and checked before any weights load (numpy only). Poses come from MotionBridge take
files (`.npz` tracks, on SMPL-X or on any rig, which is reverse-retargeted) or from a keys
file:

    KEYS.npz  (np.savez, no pickle)
        frames            (K,) int      output frame of each key, 0-based, distinct
        rotations         (K, J, 4)     local SMPL-X rotations, xyzw; J = 55, 52 or 22 (the
                                        model drives joints 0..21; others are ignored)
        root_translation  (K, 3)        optional: the pelvis position as in a take file
                                        (metres, Y-up); without it the keys fix the pose only
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionbridge.daemon.model.encode import model_pose
from motionbridge.rigs import Clip, RigError, quat, resample
from motionbridge.rigs.smplx import NUM_BODY_JOINTS, smplx_skeleton

CONTEXT_FRAMES = 3  # frames imposed at a start/end: pose, velocity and acceleration carry over
KEY_JOINT_COUNTS = (55, 52, 22)


@dataclass(frozen=True)
class Poses:
    """Model poses: (n, 22, 3, 3) local rotations and (n, 3) latent root translation (None:
    the root is free), with what the take's metadata records about where they came from."""

    rotations: np.ndarray
    transl: np.ndarray | None
    record: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rotations)


@dataclass(frozen=True)
class Controls:
    start: Poses | None = None  # the last frames up to the start pose (output frame 0 is the last one)
    end: Poses | None = None  # the end pose and the frames after it (the output's last frame is the first)
    keys: Poses | None = None  # one pose per key
    key_frames: tuple[int, ...] = ()
    loop: bool = False
    source: Poses | None = None  # --regenerate: the take whose frames outside `span` are kept
    span: tuple[int, int] = (0, -1)  # first and last frame regenerated
    path: np.ndarray | None = None  # --path: (P, 3) rows of (frame, x, z), frames increasing
    path_record: dict = field(default_factory=dict)
    timeline: tuple[tuple[int, str], ...] = ()  # --extend/--prompt-at: (first frame, prompt), from frame 0
    extend_frames: int = 0  # the extended take's length

    def __post_init__(self) -> None:
        others = (self.start, self.end, self.keys, self.source, self.path)
        if self.timeline and (self.loop or any(c is not None for c in others)):
            raise ValueError("--extend and --prompt-at cannot be combined with the other directing flags yet")
        if self.loop and (self.start is not None or self.end is not None):
            raise ValueError("--loop cannot be combined with --start-from or --end-at: a loop's end is its own start")
        if self.source is not None and (self.loop or self.start is not None or self.end is not None):
            raise ValueError("--regenerate cannot be combined with --start-from, --end-at or --loop: the kept frames are its start and end")
        if self.keys is not None and len(self.keys) != len(self.key_frames):
            raise ValueError(f"{len(self.keys)} key poses but {len(self.key_frames)} key frames")

    def __bool__(self) -> bool:
        return any(c is not None for c in (self.start, self.end, self.keys, self.source, self.path)) or self.loop or bool(self.timeline)

    def check_frames(self, frames: int) -> None:
        """ValueError if a key lies outside a take of `frames` frames."""
        bad = [f for f in self.key_frames if not 0 <= f < frames]
        if bad:
            raise ValueError(f"key frame {bad[0]} is outside the take (frames 0 to {frames - 1} at this --duration)")
        if self.path is not None and self.path[-1, 0] > frames - 1 + 1e-6:
            raise ValueError(f"--path runs to {self.path[-1, 0] / 30:.3g} s, past the take's end ({(frames - 1) / 30:.3g} s at this --duration)")

    def record(self) -> dict:
        out: dict = {"method": "replacement inpainting in the Euler loop (MDM in-betweening / RePaint)"}
        if self.start is not None:
            out["start_from"] = self.start.record
        if self.end is not None:
            out["end_at"] = self.end.record
        if self.keys is not None:
            out["keys"] = {**self.keys.record, "frames": list(self.key_frames)}
        if self.loop:
            out["loop"] = {"context_frames": CONTEXT_FRAMES}
        if self.path is not None:
            out["path"] = dict(self.path_record)
        if self.source is not None:
            out["regenerate"] = {**self.source.record, "frames": list(self.span)}
        return out


@dataclass(frozen=True)
class Layout:
    latent_frames: int  # frames sampled
    offset: int  # latent frame of the take's frame 0
    frames: int  # frames of the take


def layout(controls: Controls, frames: int, window: int) -> tuple[Layout, list[str]]:
    """Where the take sits in the sampled latent window; `frames` as the duration asks (a
    regenerated take keeps its source's length)."""
    if controls.source is not None:
        if len(controls.source) > window:
            raise ValueError(f"--regenerate works on takes of at most {window} frames (the model's window); this one has {len(controls.source)}")
        return Layout(len(controls.source), 0, len(controls.source)), []
    before = len(controls.start) - 1 if controls.start is not None else 0
    after = len(controls.end) - 1 if controls.end is not None else 0
    extra = before + after + (CONTEXT_FRAMES if controls.loop else 0)
    warnings = []
    if frames + extra > window:
        warnings.append(f"the model's window is {window} frames and the constraints need {extra} of them: the take is {window - extra} frames long")
        frames = window - extra
    return Layout(frames + extra, before, frames), warnings


def prompt_timeline(prompt: str, prompt_at: list[str], duration_s: float) -> tuple[tuple[int, str], ...]:
    """The positional prompt from 0 s, then each "SECONDS:PROMPT" from its time on."""
    from motionbridge.daemon.protocol import limits

    entries = [(0, prompt)]
    for item in prompt_at:
        seconds, sep, text = item.partition(":")
        try:
            t = float(seconds)
        except ValueError:
            t = float("nan")
        if not sep or not np.isfinite(t):
            raise ValueError(f"--prompt-at {item!r}: write SECONDS:PROMPT, e.g. 4:A person sits down.")
        if not 0 < t < duration_s:
            raise ValueError(f"--prompt-at {item!r}: {t:g} s is not inside the take (0 to {duration_s:g} s)")
        entries.append((int(round(t * limits.FPS)), limits.check_prompt(text).value))
    entries.sort(key=lambda e: e[0])
    starts = [f for f, _ in entries]
    if len(set(starts)) != len(starts):
        raise ValueError("two --prompt-at entries (or one at 0 s) start on the same frame")
    return tuple(entries)


def split_take_spec(text: str) -> tuple[Path, int | None]:
    """"take.npz@12" -> (take.npz, 12); "take.npz" -> (take.npz, None)."""
    path, sep, frame = text.rpartition("@")
    if not sep or not path:
        return Path(text), None
    try:
        return Path(path), int(frame)
    except ValueError:
        raise ValueError(f"{text!r}: the frame after @ must be a whole number, e.g. take.npz@12") from None


def read_take(path: Path) -> tuple[Clip, list[str]]:
    """One take from a MotionBridge .npz, on SMPL-X at 30 fps (retargeted back from a rig and
    resampled as needed, each said in a warning)."""
    from motionbridge.exporters.atomic import ExportError
    from motionbridge.exporters.npz import read

    if not path.is_file():
        raise ValueError(f"take file {path} does not exist")
    try:
        takes = read(path)
    except ExportError as exc:
        raise ValueError(str(exc)) from None
    if len(takes) != 1:
        raise ValueError(f"{path} holds {len(takes)} takes; constraints read one take per file (motionbridge convert can split them)")
    try:
        return as_model_take(takes[0], str(path))
    except RigError as exc:
        raise ValueError(f"{path}: {exc}") from None


def as_model_take(clip: Clip, name: str = "the take") -> tuple[Clip, list[str]]:
    """Any take or pose (a DCC's character at the playhead, a file) -> SMPL-X at 30 fps, with
    a warning for each change: retargeted back from a rig, resampled. RigError when the rig is
    not a humanoid MotionBridge knows."""
    warnings = []
    if clip.skeleton.names[:NUM_BODY_JOINTS] != smplx_skeleton().names[:NUM_BODY_JOINTS]:
        from motionbridge.rigs.reverse_retarget import to_smplx

        clip = to_smplx(clip)
        warnings.append(f"{name} is on a {clip.metadata['reverse_retarget']['rig']} rig: its poses were retargeted back to SMPL-X")
    if abs(clip.fps - 30.0) > 1e-6:
        warnings.append(f"{name} is at {clip.fps:g} fps: resampled to the model's 30 fps")
        clip = resample(clip, 30.0)
    return clip, warnings


def _frame(clip: Clip, frame: int | None, default: int, path: Path, flag: str) -> int:
    f = default if frame is None else frame
    if not 0 <= f < clip.num_frames:
        raise ValueError(f"{flag} {path}@{f}: the take has frames 0 to {clip.num_frames - 1}")
    return f


def _poses(clip: Clip, first: int, stop: int, record: dict) -> Poses:
    rotations, transl = model_pose(clip)
    return Poses(rotations[first:stop], transl[first:stop], record)


def start_poses(clip: Clip, frame: int | None, path: Path) -> Poses:
    """The start pose (default the take's last frame) and up to 2 frames before it."""
    f = _frame(clip, frame, clip.num_frames - 1, path, "--start-from")
    first = max(0, f - CONTEXT_FRAMES + 1)
    return _poses(clip, first, f + 1, {"file": str(path), "frame": f, "context_frames": f + 1 - first})


def end_poses(clip: Clip, frame: int | None, path: Path) -> Poses:
    """The end pose (default the take's first frame) and up to 2 frames after it."""
    f = _frame(clip, frame, 0, path, "--end-at")
    stop = min(clip.num_frames, f + CONTEXT_FRAMES)
    return _poses(clip, f, stop, {"file": str(path), "frame": f, "context_frames": stop - f})


def regenerate_poses(clip: Clip, span: str, path: Path) -> tuple[Poses, tuple[int, int]]:
    """--regenerate A:B --from TAKE: the whole take, and frames A..B (inclusive) to redo."""
    first, sep, last = span.partition(":")
    try:
        a, b = int(first), int(last)
    except ValueError:
        raise ValueError(f"--regenerate {span!r}: give the first and last frame to redo, e.g. 20:45") from None
    if not sep or not 0 <= a <= b < clip.num_frames:
        raise ValueError(f"--regenerate {span}: needs 0 <= A <= B <= {clip.num_frames - 1} (the frames of {path})")
    return _poses(clip, 0, clip.num_frames, {"file": str(path)}), (a, b)


def read_path(path: Path) -> tuple[np.ndarray, dict]:
    """PATH.json {"points": [[seconds, x, z], ...]}: where the pelvis is on the ground plane
    (metres, Y-up, as a take file's root_translation x and z); followed in straight lines
    between points, free before the first and after the last."""
    import json

    if not path.is_file():
        raise ValueError(f"path file {path} does not exist")
    try:
        points = json.loads(path.read_text(encoding="utf-8"))["points"]
        rows = np.array(points, dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"path file {path} must be JSON like {{\"points\": [[0, 0, 0], [2, 1.5, 0]]}} (seconds, x, z): {exc}") from None
    if rows.ndim != 2 or rows.shape[1] != 3 or len(rows) == 0:
        raise ValueError(f"path file {path}: every point is [seconds, x, z]; got an array of shape {rows.shape}")
    if not np.isfinite(rows).all():
        raise ValueError(f"path file {path}: points must be finite numbers (found NaN or infinity)")
    if rows[0, 0] < 0 or (np.diff(rows[:, 0]) <= 0).any():
        raise ValueError(f"path file {path}: point times must start at 0 s or later and increase")
    frames = rows.copy()
    frames[:, 0] *= 30.0
    return frames, {"file": str(path), "points": len(rows)}


def read_keys(path: Path) -> tuple[Poses, tuple[int, ...]]:
    """A keys file (layout in the module docstring) -> poses in key-frame order."""
    if not path.is_file():
        raise ValueError(f"keys file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read keys file {path}: {exc}") from None
    missing = [k for k in ("frames", "rotations") if k not in arrays]
    if missing:
        raise ValueError(f"keys file {path} has no {missing[0]!r} array (it needs frames, rotations and optionally root_translation)")
    frames, rot = arrays["frames"], arrays["rotations"]
    if frames.ndim != 1 or not np.issubdtype(frames.dtype, np.integer) or len(frames) == 0:
        raise ValueError(f"keys file {path}: 'frames' must be a non-empty 1-D array of whole numbers, got {frames.dtype} {frames.shape}")
    count = len(frames)
    if rot.shape[0] != count or rot.ndim != 3 or rot.shape[1:] not in [(j, 4) for j in KEY_JOINT_COUNTS]:
        raise ValueError(f"keys file {path}: 'rotations' must be ({count}, J, 4) xyzw with J = 55, 52 or 22 SMPL-X joints, got {rot.shape}")
    if len(set(frames.tolist())) != count:
        raise ValueError(f"keys file {path}: frame {_first_duplicate(frames)} is keyed twice")
    root = arrays.get("root_translation")
    if root is not None and root.shape != (count, 3):
        raise ValueError(f"keys file {path}: 'root_translation' must be ({count}, 3), got {root.shape}")
    for name, a in (("rotations", rot), ("root_translation", root)):
        if a is not None and not (np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all()):
            raise ValueError(f"keys file {path}: {name!r} must hold finite numbers (found NaN, infinity or non-numbers)")
    norms = np.linalg.norm(rot[:, :NUM_BODY_JOINTS].astype(np.float64), axis=-1)
    if np.abs(norms - 1).max() > 1e-3:
        raise ValueError(f"keys file {path}: 'rotations' must be unit quaternions (xyzw); one has length {norms.flat[np.abs(norms - 1).argmax()]:.4g}")
    order = np.argsort(frames)
    matrices = quat.to_matrix(quat.normalize(rot[order, :NUM_BODY_JOINTS].astype(np.float64)))
    transl = None if root is None else root[order].astype(np.float64) - smplx_skeleton().rest_translations[0]
    record = {"file": str(path), "root": root is not None}
    return Poses(matrices, transl, record), tuple(int(f) for f in frames[order])


def _first_duplicate(frames: np.ndarray) -> int:
    seen: set[int] = set()
    for f in frames.tolist():
        if f in seen:
            return f
        seen.add(f)
    return -1
