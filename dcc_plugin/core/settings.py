"""Per-user plugin settings, persisted as JSON in the user's config folder.

One file for every DCC (`motionbridge/plugin.json`), so switching from Maya to Blender keeps
the server and the defaults. Writes are atomic; a damaged file falls back to defaults with a
warning instead of breaking the panel.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from motionbridge.daemon.protocol import limits
from motionbridge.daemon.protocol.frames import DEFAULT_ENDPOINT

CONFIG_ENV = "MOTIONBRIDGE_CONFIG_DIR"  # overrides the folder (tests, studio deployments)
FILE_NAME = "plugin.json"


@dataclass(frozen=True)
class Settings:
    endpoint: str = DEFAULT_ENDPOINT
    server_key_path: str = ""  # the daemon's public CURVE certificate; empty = plain TCP
    client_key_path: str = ""  # this user's secret CURVE certificate
    timeout_s: float = 5.0
    duration_s: float = 5.0
    variations: int = 2  # seeds per generate: seed_start .. seed_start + variations - 1
    seed_start: int = 0
    cfg: float = 5.0
    model: str = ""  # empty = the daemon's default
    preview_every: int = 5  # denoising steps between live previews; 0 = off
    root_motion: bool = True
    foot_lock: bool = True
    rig_preset: str = ""  # empty = auto-detect
    prompter_url: str = ""  # the prompt assistant's OpenAI-compatible API; empty = $MOTIONBRIDGE_PROMPTER_URL

    def validated(self) -> Settings:
        """Raise ValueError naming the first bad field; returns self."""
        if not isinstance(self.endpoint, str) or not self.endpoint.startswith(("tcp://", "ipc://")):
            raise ValueError(f"server endpoint {self.endpoint!r} is not valid; use tcp://HOST:PORT, e.g. {DEFAULT_ENDPOINT}")
        if not (isinstance(self.timeout_s, (int, float)) and 0.1 <= self.timeout_s <= 120):
            raise ValueError(f"timeout must be 0.1 to 120 seconds, got {self.timeout_s!r}")
        limits.check_duration(self.duration_s)
        limits.check_cfg(self.cfg)
        if self.model:
            limits.check_model(self.model)
        if isinstance(self.variations, bool) or not isinstance(self.variations, int) or not 1 <= self.variations <= limits.MAX_SEEDS:
            raise ValueError(f"variations must be 1 to {limits.MAX_SEEDS}, got {self.variations!r}")
        limits.check_seeds([self.seed_start + i for i in range(self.variations)])
        if isinstance(self.preview_every, bool) or not isinstance(self.preview_every, int) or self.preview_every < 0:
            raise ValueError(f"preview_every must be 0 (off) or a positive step count, got {self.preview_every!r}")
        if not isinstance(self.prompter_url, str) or (self.prompter_url and not self.prompter_url.startswith(("http://", "https://"))):
            raise ValueError(f"prompter address {self.prompter_url!r} is not valid; use http://HOST:PORT/v1, e.g. http://127.0.0.1:8000/v1")
        for key in ("server_key_path", "client_key_path"):
            path = getattr(self, key)
            if path and not Path(path).expanduser().is_file():
                raise ValueError(f"{key.replace('_', ' ')} {path!r} does not exist; pick the certificate file `motionbridge keys` wrote")
        return self

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(self.seed_start + i for i in range(self.variations))

    def updated(self, **changes: Any) -> Settings:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {', '.join(f.name for f in fields(self))}")
        return replace(self, **changes).validated()


def config_dir() -> Path:
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "MotionBridge"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "MotionBridge"
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "motionbridge"


def settings_path() -> Path:
    return config_dir() / FILE_NAME


def load(path: Path | None = None) -> tuple[Settings, list[str]]:
    """Settings from disk, and warnings for anything that had to be ignored."""
    path = path or settings_path()
    if not path.is_file():
        return Settings(), []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return Settings(), [f"settings file {path} is unreadable ({exc}); using defaults"]
    known = {f.name: f for f in fields(Settings)}
    warnings, good = [], Settings()
    for key, value in raw.items():
        if key not in known:
            warnings.append(f"ignored unknown setting {key!r} in {path}")
            continue
        try:
            good = good.updated(**{key: value})
        except (TypeError, ValueError) as exc:
            warnings.append(f"ignored setting {key!r} in {path}: {exc}")
    return good, warnings


def save(settings: Settings, path: Path | None = None) -> Path:
    """Validate, then write atomically (temp file in the same folder, fsync, rename)."""
    settings.validated()
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(settings), fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
