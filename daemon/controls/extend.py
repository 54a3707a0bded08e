"""Takes past the model's 12 s window, and prompt timelines: overlapping windows.

The take is cut where the prompt changes and, within a prompt, into pieces that fit the
window. Each piece after the first is sampled with the previous piece's last HANDSHAKE frames
imposed at its start (replacement, as `--start-from`), so it continues that motion; the
overlap is dropped when the pieces are joined (DoubleTake's handshake, Shafir et al. 2024;
Kimodo chains prompts the same way). The handshake is 5 frames, not DoubleTake's 20: HY-Motion's
latent holds the root's absolute position, its takes start near the origin, and a long
context that has already travelled a metre pulls the new frames back toward it (measured on
the smooth fixture, worst join over seeds 0 to 3, velocity or acceleration over the clip's
p95: 20 frames 1.21, 1.78, 1.66, 0.82; 10 frames 1.31, 1.63 on seeds 0 and 1; 5 frames 1.01,
1.35, 1.72, 0.88; 3 frames 1.02, 1.20, 1.98, 0.98; daemon/controls/README.md).
Every piece but the last is sampled RUN_OUT frames longer and those are dropped: a take's last
frame or two move unlike the rest (measured on the smooth fixture: the last frame's velocity
1.4 to 1.5x, its acceleration 1.1 to 1.7x the take's own p95), so the next piece continues
from frames the model sampled with motion after them.
A join is blended over blend.RAMP = 16 frames: a new window often wants another speed than
the tail it continues, and a longer hand-over spreads the change (measured on the smooth
fixture, worst join of seeds 0 to 3: ramp 12 1.01, 1.35, 1.72, 0.88; 16 1.05, 1.15, 1.48,
0.76; 20 1.10, 1.00, 1.57, 0.67; 24 1.06, 1.00, 1.50, 0.66; choosing among these per join by
the join's measured seam, four decodes per piece: 1.06, 1.00, 1.50, 0.66; so 16).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from motionbridge.daemon.engine.api import GeneratedTake, GenerationRequest, StepInfo
from motionbridge.daemon.model.encode import model_pose
from motionbridge.rigs import Clip

from . import blend
from .spec import Controls, Poses

HANDSHAKE = 5  # context frames imposed from the previous piece (see above)
RUN_OUT = 4  # frames sampled past each piece but the last, then dropped
FPS = 30


@dataclass(frozen=True)
class Piece:
    prompt: str
    first: int  # the take's frame where this piece's new frames begin
    frames: int  # new frames


def pieces(
    frames: int, timeline: tuple[tuple[int, str], ...], window: int, handshake: int = HANDSHAKE, run_out: int = RUN_OUT,
) -> list[Piece]:
    """timeline: (first frame, prompt) sorted, the first at 0. A piece after the first holds
    `handshake` old frames, so at most window - handshake new ones; every piece leaves room for
    `run_out` frames after it (sampled, then dropped)."""
    out: list[Piece] = []
    bounds = [f for f, _ in timeline] + [frames]
    for (start, prompt), stop in zip(timeline, bounds[1:]):
        f = start
        while f < stop:
            room = (window if not out else window - handshake) - run_out
            n = min(room, stop - f)
            out.append(Piece(prompt, f, n))
            f += n
    return out


def generate_extended(
    engine, request: GenerationRequest, frames: int, timeline: tuple[tuple[int, str], ...],
    on_step: Callable[[StepInfo], None] | None = None, preview_every: int = 0,
) -> list[GeneratedTake]:
    """One take per seed, `frames` long, each piece conditioned on the one before; previews
    (`preview_every`) show the pieces made so far and the one being sampled (previews.py)."""
    from .generate import generate
    from .previews import after_parts

    window = engine.pipeline.config.pipeline.train_frames
    plan = pieces(frames, timeline, window)
    takes = []
    for seed in request.seeds:
        parts: list[Clip] = []
        warnings: list[str] = []
        for i, piece in enumerate(plan):
            controls = Controls()
            if parts:
                rotations, transl = model_pose(parts[-1])
                tail = slice(max(0, parts[-1].num_frames - HANDSHAKE), parts[-1].num_frames)
                controls = Controls(start=Poses(rotations[tail], transl[tail], {"handshake_frames": HANDSHAKE}))
            # with a start, output frame 0 repeats the previous piece's last frame: one more, dropped below
            first = 1 if parts else 0
            length = first + piece.frames
            sampled = length + (RUN_OUT if i < len(plan) - 1 else 0)
            sub = GenerationRequest(piece.prompt, max(sampled, 20) / FPS, (seed,), request.cfg, request.game_feat, request.request_id)
            take = generate(engine, sub, controls, after_parts(on_step, parts, first, length), preview_every)[0]
            # the run-out, and a piece shorter than the model's 20 frames, are cropped
            clip = take.clip.replace(rotations=take.clip.rotations[first:length], root_translation=take.clip.root_translation[first:length])
            parts.append(clip)
            warnings += [w for w in take.warnings if w not in warnings]
        meta = dict(parts[0].metadata)
        meta.update(prompt=request.prompt, duration_s=frames / FPS, frames=frames)
        meta["constraints"] = {
            "method": "overlapping windows, each piece's start imposed from the previous piece's tail (replacement inpainting)",
            "extend": {"handshake_frames": HANDSHAKE, "run_out_frames": RUN_OUT, "seam_ramp_frames": blend.RAMP,
                       "pieces": [{"prompt": p.prompt, "first_frame": p.first, "frames": p.frames} for p in plan]},
        }
        rotations = np.concatenate([c.rotations for c in parts])[:frames]
        root = np.concatenate([c.root_translation for c in parts])[:frames]
        clip = Clip(parts[0].skeleton, rotations, root, FPS, meta)
        takes.append(GeneratedTake(request.request_id, int(seed), clip, None, tuple(warnings), {}))
    return takes
