"""Request limits and validation, shared by the CLI, the daemon and the plugin core.

Stdlib only, so the light protocol module and DCC Pythons can import it.
Errors are ValueErrors whose message says what to pass instead; warnings are returned,
never raised, because unwise-but-valid input still runs.
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from dataclasses import dataclass
from typing import Generic, TypeVar

FPS = 30  # HY-Motion's native frame rate
MIN_FRAMES = 20
MAX_FRAMES = 360  # 12 s: the model's training window
MAX_PROMPT_CHARS = 2000  # hard limit; past 128 *tokens* the text encoder truncates with a warning
MAX_PROMPT_TOKENS = 128
MAX_DURATION_S = 60.0  # hard limit; past 12 s the length is clamped with a warning
MAX_SEEDS = 64
MAX_SEED = 2**63 - 1
MIN_CFG, MAX_CFG = 1.0, 30.0
MODELS = ("1.0", "lite")


T = TypeVar("T")


@dataclass(frozen=True)
class Checked(Generic[T]):
    """A validated value (normalised: text, seconds, seeds, cfg, model name) and its warnings."""

    value: T
    warnings: tuple[str, ...] = ()


def check_prompt(prompt: object) -> Checked[str]:
    if isinstance(prompt, bytes):
        try:
            prompt = prompt.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("prompt is not valid UTF-8; pass UTF-8 text") from None
    if not isinstance(prompt, str):
        raise ValueError(f"prompt must be text, got {type(prompt).__name__}")
    text = unicodedata.normalize("NFC", prompt).strip()
    if not text:
        raise ValueError("prompt is empty; describe the motion, e.g. 'A person walks forward.'")
    if "\x00" in text:
        raise ValueError("prompt contains a NUL character; pass plain text")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(
            f"prompt is {len(text)} characters, over the {MAX_PROMPT_CHARS}-character limit; "
            f"shorten it (only the first {MAX_PROMPT_TOKENS} tokens reach the model anyway)"
        )
    warnings = []
    letters = [c for c in text if c.isalpha()]
    if letters and sum(1 for c in letters if ord(c) < 128) / len(letters) < 0.8:
        warnings.append("prompt looks non-English; HY-Motion was trained on English prompts, results may be poor")
    return Checked(text, tuple(warnings))


def check_duration(duration_s: object) -> Checked[float]:
    # a number, not something that converts to one: True, "1.5" and " 2 " are caller bugs
    # (command lines and batch files parse their text before they get here)
    if isinstance(duration_s, bool) or not isinstance(duration_s, numbers.Real):
        raise ValueError(f"duration must be a number of seconds, got {duration_s!r}")
    d = float(duration_s)
    if not math.isfinite(d) or d <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration_s!r}")
    if d > MAX_DURATION_S:
        raise ValueError(f"duration {d:g} s is over the {MAX_DURATION_S:g} s limit; the model makes at most 12 s")
    warnings = []
    if round(d * FPS) > MAX_FRAMES:
        warnings.append(f"duration {d:g} s is past the model's 12 s window; the take is clamped to 12 s")
    elif round(d * FPS) < MIN_FRAMES:
        warnings.append(f"duration {d:g} s is shorter than {MIN_FRAMES} frames; the take is lengthened to {MIN_FRAMES / FPS:.2f} s")
    return Checked(d, tuple(warnings))


def num_frames(duration_s: float) -> int:
    """Official rule: round half to even, then clamp to [20, 360]."""
    return max(min(MAX_FRAMES, MIN_FRAMES), min(MAX_FRAMES, int(round(duration_s * FPS))))


def check_seeds(seeds: object) -> Checked[tuple[int, ...]]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise ValueError("seeds must be a non-empty list of integers, e.g. [0, 1, 2]")
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"{len(seeds)} seeds is over the limit of {MAX_SEEDS} per request; split the request")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            raise ValueError(f"seed {s!r} is out of range; pass integers from 0 to {MAX_SEED}")
    return Checked(tuple(int(s) for s in seeds))


def check_cfg(cfg: object) -> Checked[float]:
    if isinstance(cfg, bool) or not isinstance(cfg, (int, float)):
        raise ValueError(f"cfg must be a number >= {MIN_CFG:g}, got {cfg!r}")
    c = float(cfg)
    if not math.isfinite(c) or c < MIN_CFG or c > MAX_CFG:
        raise ValueError(f"cfg must be between {MIN_CFG:g} and {MAX_CFG:g} (1 = no guidance, 5 = default), got {cfg!r}")
    return Checked(c)


def check_model(model: object) -> Checked[str]:
    name = str(model).lower().removeprefix("hy-motion-").removeprefix("hy-motion")
    aliases = {"1.0": "1.0", "1": "1.0", "full": "1.0", "lite": "lite", "1.0-lite": "lite"}
    if name not in aliases:
        raise ValueError(f"unknown model {model!r}; pass one of {', '.join(MODELS)}")
    return Checked(aliases[name])
