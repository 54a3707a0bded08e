"""Directed takes on the float32 reference pipeline: controls -> latent constraints -> takes.

The latent window holds more than the take when poses carry over: a start imposes the start
pose and the frames before it (latent frames 0..c-1; the take begins at the pose), an end the
end pose and the frames after it, a loop repeats its first frames after the period. Those
extra frames are generated with the take, then cropped, so pose, velocity and acceleration
continue across the join. Keys pin single frames. A constrained take keeps the constraints'
world: with a pinned root, its height is set by the pinned frames, not by the lowest vertex.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from motionbridge.daemon.engine.api import GeneratedTake, GenerationRequest, StepInfo
from motionbridge.daemon.model import constraints as C
from motionbridge.daemon.model import sampling
from motionbridge.daemon.model.decode import decode_latent, smooth_rotations, smooth_translation
from motionbridge.daemon.model.encode import LATENT_DIM, POSITIONS, ROTATIONS, TRANSL, motion_features, normalize
from motionbridge.daemon.tracks import clip_from_rotations
from motionbridge.rigs.smplx import smplx_skeleton

from . import blend
from .previews import due, preview_clips
from .spec import CONTEXT_FRAMES, Controls, Layout, Poses, layout


@dataclass(frozen=True)
class Imposed:
    known: C.Known
    transl: np.ndarray  # (L, 3) the known root translation in metres (for the vertical placement)
    shift_xz: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))  # sampled this far from the world (m)


def imposed(controls: Controls, lay: Layout, mean: np.ndarray, std: np.ndarray) -> Imposed | None:
    spans: list[tuple[int, Poses]] = []
    if controls.start is not None:
        spans.append((0, controls.start))
    if controls.end is not None:
        spans.append((lay.offset + lay.frames - 1, controls.end))
    if controls.source is not None:  # keep the frames around the regenerated span
        (a, b), src = controls.span, controls.source
        spans += [(0, _rows(src, 0, a)), (b + 1, _rows(src, b + 1, len(src)))]
    if controls.keys is not None:
        for i, f in enumerate(controls.key_frames):
            spans.append((lay.offset + f, _rows(controls.keys, i, i + 1)))
    values = np.zeros((lay.latent_frames, LATENT_DIM))
    mask = np.zeros((lay.latent_frames, LATENT_DIM), dtype=bool)
    transl = np.zeros((lay.latent_frames, 3))
    shift = latent_shift(spans, float(mean[1]))
    for first, poses in spans:
        if len(poses) == 0:
            continue
        rows = slice(first, first + len(poses))
        root = poses.transl if poses.transl is not None else np.zeros((len(poses), 3))
        values[rows] = normalize(motion_features(poses.rotations, root - shift), mean, std)
        mask[rows, ROTATIONS] = mask[rows, POSITIONS] = True
        if poses.transl is not None:
            mask[rows, TRANSL] = True
            transl[rows] = root
    if controls.path is not None:
        rows, xz = path_targets(controls.path, lay)
        feats = np.zeros((len(rows), LATENT_DIM))
        feats[:, [0, 2]] = xz - smplx_skeleton().rest_translations[0, [0, 2]] - shift[[0, 2]]
        values[rows, 0:3:2] = normalize(feats, mean, std)[:, 0:3:2]
        mask[rows, 0:3:2] = True
    if not mask.any():
        return None
    known = C.Known(torch.from_numpy(values).float(), torch.from_numpy(mask))
    return Imposed(known, transl, shift[[0, 2]])


def latent_shift(spans: list[tuple[int, Poses]], mean_height: float) -> np.ndarray:
    """(3,) how far pinned roots are from where the model samples them. A take file's root sits
    where the decoder placed it (its lowest vertex on the floor), not where the latent had it.
    A pinned first frame is moved to where the model's takes start: the origin on the ground
    plane, the latent's mean root height (measured on the smooth fixture, a start pose 0.9 m
    off the model's root height and 1.5 m from the origin pulled the free frames back: a
    velocity seam of 7x). Other pinned roots (keys, an end without a start, the kept frames
    after a range from frame 0) keep their ground-plane place and have their mean height moved
    to the latent's mean root height (measured on the smooth fixture: two keys of a walk
    pinned 1.2 m above the sampled frames, which then sat 0.2 m under the floor and bobbed up
    to each key). The constraints are sampled moved by -shift and the take moved back after
    the decode (x/z here, the height by the pinned frames as before). Zeros without a pinned
    root."""
    for first, poses in spans:
        if first == 0 and len(poses) and poses.transl is not None:
            return np.asarray(poses.transl[0], dtype=np.float64) - np.array([0.0, mean_height, 0.0])
    heights = [poses.transl[:, 1] for _, poses in spans if len(poses) and poses.transl is not None]
    if heights:
        return np.array([0.0, float(np.concatenate(heights).mean()) - mean_height, 0.0])
    return np.zeros(3)


def path_targets(path: np.ndarray, lay: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Latent rows and (n, 2) pelvis x/z the path puts there: every whole frame from its
    first point to its last, in straight lines between points."""
    frames = np.arange(int(np.ceil(path[0, 0] - 1e-6)), int(np.floor(path[-1, 0] + 1e-6)) + 1)
    xz = np.stack([np.interp(frames, path[:, 0], path[:, 1]), np.interp(frames, path[:, 0], path[:, 2])], axis=1)
    return lay.offset + frames, xz


def _rows(poses: Poses, first: int, stop: int) -> Poses:
    return Poses(poses.rotations[first:stop], None if poses.transl is None else poses.transl[first:stop])


SEAM_RAMP = blend.RAMP  # frames over which free frames next to pinned ones are blended after the decode (0: none)


def decode_directed(pipe, latent: torch.Tensor, imposed_: Imposed | None, loop: C.Loop | None = None, ramp: int | None = None):
    """The official decode, except that pinned frames skip the smoothing, the free frames next
    to them are blended into their motion over `ramp` frames (blend.py; None: SEAM_RAMP), and
    a pinned root sets the take's height (see module docstring)."""
    ramp = SEAM_RAMP if ramp is None else ramp
    mean, std = pipe.model.get_buffer("mean"), pipe.model.get_buffer("std")
    if imposed_ is None and (loop is None or not ramp):
        return decode_latent(latent.float(), mean, std, pipe.body)
    length = latent.shape[1]
    mask = imposed_.known.mask if imposed_ is not None else torch.zeros((length, LATENT_DIM), dtype=torch.bool)
    pinned = C.pinned_from_mask(mask)
    smooth_rot = C.keep_pinned_rotations(smooth_rotations, pinned)
    smooth_transl = C.keep_pinned_translation(smooth_translation, pinned)
    if ramp and loop is not None:
        smooth_rot = blend.looped_rotations(smooth_rot, pinned.rotations, loop.period, ramp)
        smooth_transl = blend.looped_translation(smooth_transl, pinned.translation, loop.period, ramp)
    elif ramp:
        smooth_rot = blend.blended_rotations(smooth_rot, pinned.rotations, ramp)
        smooth_transl = blend.blended_translation(smooth_transl, pinned.translation, ramp)
    decoded = decode_latent(latent.float(), mean, std, pipe.body, smooth=True, smooth_rot=smooth_rot, smooth_transl=smooth_transl)
    return decoded if imposed_ is None else placed(decoded, imposed_)


def placed(decoded, imposed_: Imposed):
    """`decoded` moved to the constraints' world: a pinned root's height sets the take's (one
    offset, the mean over the pinned frames), and the ground-plane shift the constraints were
    sampled with (latent_shift) is undone. In place; returns `decoded`."""
    rows = imposed_.known.mask[:, TRANSL][:, 1].cpu().numpy()  # frames whose height is known
    if rows.any():
        got = decoded.transl[:, : len(rows)][:, torch.from_numpy(rows), 1].double().cpu().numpy()
        shift = (imposed_.transl[rows, 1][None, :] - got).mean(axis=1)
        decoded.transl[..., 1] += torch.from_numpy(shift).to(decoded.transl)[:, None]
    decoded.transl[..., 0] += float(imposed_.shift_xz[0])
    decoded.transl[..., 2] += float(imposed_.shift_xz[1])
    return decoded


@dataclass
class Directed:
    """A directed sample before it becomes takes: the whole latent window that was sampled."""

    latent: torch.Tensor  # (B, latent_frames, 201)
    layout: Layout
    imposed: Imposed | None
    loop: C.Loop | None
    warnings: tuple[str, ...]
    timings: dict


GUIDANCE: tuple[float, float] | None = None  # (weight, from t): reconstruction guidance on top of replacement


def sample(
    pipe, req: GenerationRequest, controls: Controls, on_step: Callable[[StepInfo], None] | None = None, preview_every: int = 0,
) -> Directed:
    """Text -> constrained Euler loop, for a checked request (see reference.validate_request);
    on_step gets a preview clip per seed every `preview_every` steps (previews.py)."""
    total = pipe.config.pipeline.validation_steps
    t0 = time.perf_counter()
    features = pipe.encode_text([req.prompt] * len(req.seeds))
    t_text = time.perf_counter() - t0
    frames = pipe.frames_for(req.duration_s)
    lay, warnings = layout(controls, frames, pipe.config.pipeline.train_frames)
    controls.check_frames(lay.frames)
    mean = pipe.model.get_buffer("mean").double().cpu().numpy()
    std = pipe.model.get_buffer("std").double().cpu().numpy()
    imp = imposed(controls, lay, mean, std)
    noise = pipe.noise(req.seeds)
    loop = C.Loop(lay.frames, CONTEXT_FRAMES) if controls.loop else None
    project = C.projection(imp.known if imp else None, loop)
    cond = pipe.conditioning(features, lay.latent_frames, req.cfg, req.game_feat)

    last = [0]  # the step of the previous call back: a captured loop calls back once per segment

    def step(k, t_k, x_k, v_k, x_next):
        previous, last[0] = (last[0] if last[0] < k else 0), k  # 0: a new loop (a fast engine's next seed)
        if on_step is not None:
            previews = None
            if due(k, preview_every, total, previous):  # a fast engine's loop may hold some of the seeds' rows only
                rows = getattr(pipe, "sampling_rows", range(len(req.seeds)))
                seeds = [req.seeds[j] for j in rows]
                place = None if imp is None else functools.partial(placed, imposed_=imp)
                previews = {req.request_id: preview_clips(pipe, seeds, lay, project, place, k, t_k, x_k, v_k)}
            on_step(StepInfo(k, total, (req.request_id,), previews))
        return False

    t1 = time.perf_counter()
    if imp is not None and GUIDANCE is not None:
        velocity = C.reconstruction_guidance(pipe.velocity(cond), imp.known, *GUIDANCE)
        with torch.no_grad():
            latent = sampling.euler(velocity, noise, sampling.time_grid(total, pipe.device), step, project)
    else:
        latent = pipe.sample(cond, noise, step, project)
    latent = latent[:, : lay.latent_frames].clone()
    timings = {"text_s": t_text, "sample_s": time.perf_counter() - t1}
    return Directed(latent, lay, imp, loop, tuple(features.warnings) + tuple(warnings), timings)


def generate(
    engine, request: GenerationRequest, controls: Controls, on_step: Callable[[StepInfo], None] | None = None,
    preview_every: int = 0, seam_ramp: int | None = None,
) -> list[GeneratedTake]:
    """One request on a ReferenceEngine with `controls`; one take per seed, its metadata
    recording the constraints. Previews (`preview_every`) only read the loop's state: the
    takes are the same with and without them. seam_ramp: the seam blend's ramp (None: SEAM_RAMP)."""
    from motionbridge.daemon.engine.reference import validate_request

    req, warnings = validate_request(request)
    pipe = engine.pipeline
    if controls.source is not None:  # the regenerated take is as long as its source
        req = dataclasses.replace(req, duration_s=len(controls.source) / pipe.config.pipeline.output_mesh_fps)
    run = sample(pipe, req, controls, on_step, preview_every)
    lay, loop = run.layout, run.loop
    t2 = time.perf_counter()
    decoded = decode_directed(pipe, run.latent, run.imposed, run.loop, seam_ramp)
    timings = {**run.timings, "decode_s": time.perf_counter() - t2}
    all_warnings = tuple(warnings) + run.warnings
    crop = slice(lay.offset, lay.offset + lay.frames)
    rotations = decoded.rotations()[:, crop].double().cpu().numpy()
    transl = decoded.transl[:, crop].double().cpu().numpy()
    record = {**controls.record(), "latent_frames": lay.latent_frames, "take_starts_at_latent_frame": lay.offset}
    takes = []
    for i, seed in enumerate(req.seeds):
        meta = engine._metadata(req, seed, lay.frames, all_warnings, timings)
        meta["constraints"] = dict(record)
        if loop is not None:  # the cycle tiles by moving each repeat this far (metres, ground plane)
            travel = decoded.transl[i, lay.frames] - decoded.transl[i, 0]
            meta["constraints"]["loop"] = {**record["loop"], "travel_xz_m": [float(travel[0]), float(travel[2])]}
        clip = clip_from_rotations(rotations[i], transl[i], meta)
        takes.append(GeneratedTake(req.request_id, int(seed), clip, run.latent[i, crop].cpu().numpy(), all_warnings, dict(timings)))
    return takes
