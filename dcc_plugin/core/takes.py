"""Take names and the metadata stored on every take.

Names are readable (`mb_<prompt words>_s<seed>`), unique within the scene and stable: the
same prompt, seed and existing names always give the same name, so re-running a script or a
test produces the same takes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

PREFIX = "mb"
MAX_WORDS = 4
MAX_NAME = 60  # FBTake and Blender names are capped (63 bytes in Blender)
METADATA_KEY = "motionbridge"  # the custom property / attribute the JSON lives under
_STOP_WORDS = {"a", "an", "the", "person", "someone", "character", "man", "woman", "is", "and", "then"}


def _slug(prompt: str) -> str:
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    kept = [w for w in words if w not in _STOP_WORDS] or words
    return "_".join(kept[:MAX_WORDS]) or "take"


def take_name(prompt: str, seed: int, existing: Iterable[str] = ()) -> str:
    """A new take name, unique among `existing`."""
    taken = set(existing)
    base = f"{PREFIX}_{_slug(prompt)}"[: MAX_NAME - 24] + f"_s{int(seed)}"
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def check_take_name(name: str, existing: Iterable[str]) -> str:
    """Validate a user rename; returns the cleaned name."""
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned:
        raise ValueError("take name is empty; type a name such as 'walk_fast_v2'")
    if len(cleaned) > MAX_NAME:
        raise ValueError(f"take name is {len(cleaned)} characters; keep it to {MAX_NAME}")
    if any(c in cleaned for c in '\\/:*?"<>|\x00'):
        raise ValueError('take name cannot contain \\ / : * ? " < > |; use letters, digits, _ or -')
    if cleaned in set(existing):
        raise ValueError(f"a take named {cleaned!r} already exists; pick another name")
    return cleaned


@dataclass
class TakeMetadata:
    """What produced a take, stored on the take itself so it travels with the scene."""

    prompt: str
    seed: int
    cfg: float
    duration_s: float
    model: str = ""
    model_hash: str = ""
    daemon_version: str = ""
    rig_preset: str = ""
    retarget_metrics: dict[str, float] = field(default_factory=dict)
    request_id: str = ""
    num_frames: int = 0
    fps: float = 30.0
    created_utc: str = ""
    plugin_host: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["retarget_metrics"] = {k: float(v) for k, v in self.retarget_metrics.items()}
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TakeMetadata:
        known = set(cls.__dataclass_fields__)
        missing = {"prompt", "seed", "cfg", "duration_s"} - set(d)
        if missing:
            raise ValueError(f"take metadata is missing {sorted(missing)}; it was not written by MotionBridge")
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_json(cls, text: str) -> TakeMetadata:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"take metadata is not valid JSON ({exc.msg}); re-generate the take") from None
        if not isinstance(d, dict):
            raise ValueError("take metadata must be a JSON object")
        return cls.from_dict(d)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _number(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v


def metadata_for(
    *,
    prompt: str,
    seed: int,
    cfg: float,
    duration_s: float,
    clip_metadata: Mapping[str, Any],
    server_info: Mapping[str, Any],
    rig_preset: str,
    retarget_metrics: Mapping[str, Any],
    request_id: str,
    num_frames: int,
    fps: float,
    host: str,
) -> TakeMetadata:
    """Merge what the request said, what the daemon reported and what retargeting measured."""
    metrics = {k: v for k, v in ((k, _number(v)) for k, v in retarget_metrics.items()) if v is not None}
    return TakeMetadata(
        prompt=str(clip_metadata.get("prompt", prompt)),
        seed=int(clip_metadata.get("seed", seed)),
        cfg=float(clip_metadata.get("cfg", cfg)),
        duration_s=float(duration_s),
        model=str(clip_metadata.get("model", server_info.get("model", ""))),
        model_hash=str(clip_metadata.get("checkpoint_sha256") or clip_metadata.get("model_hash") or server_info.get("model_hash", "")),
        daemon_version=str(server_info.get("daemon", server_info.get("version", ""))),
        rig_preset=rig_preset,
        retarget_metrics=metrics,
        request_id=request_id,
        num_frames=int(num_frames),
        fps=float(fps),
        created_utc=utc_now(),
        plugin_host=host,
    )
