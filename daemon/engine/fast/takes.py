"""Take assembly of the fast engine: decode the sampled latents and attach each take's metadata."""

from __future__ import annotations

import time

import torch
from torch import Tensor

from motionbridge.daemon.engine.api import GeneratedTake, GenerationRequest
from motionbridge.daemon.engine.fast.decode import decode_batched
from motionbridge.daemon.model.sampling import predicted_data
from motionbridge.daemon.tracks import clips_from_decoded


def assemble_takes(engine, rows, latents, checked, cancelled, text_warnings, timings) -> list[GeneratedTake]:
    """The takes of a sampled batch: decoded by clip length (graph-replayed when the engine has
    graphs), with their metadata; rows of cancelled requests are dropped."""
    t2 = time.perf_counter()
    decoded: dict[int, tuple] = {}
    by_frames: dict[int, list[int]] = {}
    for idx, r in enumerate(rows):
        if r.key[0] not in cancelled:
            by_frames.setdefault(r.frames, []).append(idx)
    for idxs in by_frames.values():
        latent = torch.stack([latents[i] for i in idxs])
        motion = engine.decoder(latent) if engine.decoder is not None else decode_batched(latent, engine.model.mean, engine.model.std, engine.body)
        rot = motion.rotations()
        for n, i in enumerate(idxs):
            decoded[i] = (rot[n], motion.transl[n])
    timings = dict(timings, decode_s=time.perf_counter() - t2)
    takes = []
    for idx, r in enumerate(rows):
        if idx not in decoded:
            continue
        req, warnings = checked[r.key[0]]
        all_warnings = tuple(warnings) + tuple(text_warnings[req.prompt])
        rot, transl = decoded[idx]
        meta = _metadata(engine, req, r.seed, r.frames, all_warnings, timings)
        clip = _clip(rot, transl, meta)
        takes.append(GeneratedTake(req.request_id, r.seed, clip, latents[idx].float().cpu().numpy(), all_warnings, dict(timings)))
    return takes


def preview_clips(engine, chunk, checked, t_k, x_k, v_k, k) -> dict:
    """request id -> a cheap preview clip per seed of the data predicted at step k."""
    guess = predicted_data(x_k[: len(chunk)], t_k, v_k[: len(chunk)])
    out: dict[str, list] = {}
    for i, r in enumerate(chunk):
        decoded = decode_batched(guess[i : i + 1, : r.frames], engine.model.mean, engine.model.std, engine.body, smooth=False)
        out.setdefault(checked[r.key[0]][0].request_id, []).extend(clips_from_decoded(decoded, [{"preview_step": k, "seed": r.seed}]))
    return out


def _metadata(engine, req: GenerationRequest, seed: int, frames: int, warnings, timings) -> dict:
    return {
        "prompt": req.prompt, "seed": int(seed), "cfg": float(req.cfg), "duration_s": float(req.duration_s),
        "frames": int(frames), "game_feat": bool(req.game_feat), "request_id": req.request_id,
        "model": engine.model_name, "checkpoint_sha256": engine.checkpoint_sha256, "engine": "fast",
        "device": str(engine.device), "dtype": engine.fast.dtype, "cuda_graphs": engine.fast.cuda_graphs,
        "torch_version": torch.__version__, "timings": dict(timings), "warnings": list(warnings),
    }


def _clip(rot: Tensor, transl: Tensor, meta: dict):
    from motionbridge.daemon.tracks import clip_from_rotations

    return clip_from_rotations(rot.detach().cpu().double().numpy(), transl.detach().cpu().double().numpy(), meta)
