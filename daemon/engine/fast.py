"""FastEngine: the reference pipeline's numerics with the exact speed-ups of issue 3.

- requests of different prompts, lengths and cfg share one sampling batch (batching.py);
- motion tokens trimmed to the longest take, text tokens to the longest prompt, text RoPE
  positions kept at train_frames, so results equal the reference to float rounding;
- rotary tables and attention masks built once per batch on the device;
- every block's adaLN modulation in one stacked matmul per step (QKV is already one linear per
  stream in the checkpoint layout; the double block's two streams have different inputs);
- one text-encoder row per distinct prompt, and an LRU of recent prompts' features;
- cancelled requests leave the batch between steps; CUDA OOM splits the batch and retries.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Sequence

import torch

from motionbridge.daemon.model.pipeline import MotionPipeline
from motionbridge.daemon.model.sampling import noise_for_seeds, predicted_data, time_grid
from motionbridge.daemon.tracks import clips_from_decoded

from .api import Cancelled, GeneratedTake, GenerationRequest, StepInfo
from .batching import PackedBatch, RowSpec, pack
from .reference import ReferenceEngine, validate_request
from .text_cache import CachedText, TextCache


class FastEngine(ReferenceEngine):
    """Same construction as ReferenceEngine (from_dirs / from_parity)."""

    def __init__(self, pipeline: MotionPipeline, model_name: str | None = None, max_rows: int = 64, text_cache_size: int = 256) -> None:
        super().__init__(pipeline, model_name)
        self.max_rows = max_rows
        self.text_cache = TextCache(text_cache_size)
        self._rope_cache: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._healthy = True
        self._reason = ""

    def health(self) -> dict[str, object]:
        return {"ok": self._healthy, "reason": self._reason}

    def _rope(self, x_len: int, text_len: int):
        key = (x_len, text_len)
        if key not in self._rope_cache:
            dit = self.pipeline.model.motion_transformer
            self._rope_cache[key] = dit.rope(x_len, text_len, self.pipeline.config.pipeline.train_frames, self.pipeline.device)
        return self._rope_cache[key]

    def _text_key(self, prompt: str) -> tuple[str, str, str]:
        te = self.pipeline.text_encoder
        if te is None:
            raise ValueError("this engine has no text encoders")
        identity = f"{te.llm.config.name_or_path}|{te.clip.config.name_or_path}|{te.max_length}"
        return prompt, identity, str(te.llm_dtype)

    def _encode(self, prompts: list[str]) -> dict[str, CachedText]:
        """Features per distinct prompt; only cache misses reach the text encoders."""
        found = {p: self.text_cache.get(self._text_key(p)) for p in prompts}
        missing = [p for p, item in found.items() if item is None]
        if missing:
            features = self.pipeline.encode_text(missing)
            for i, p in enumerate(missing):
                item = CachedText(features.vtxt[i], features.ctxt[i], int(features.ctxt_length[i]), features.row_warnings[i])
                self.text_cache.put(self._text_key(p), item)
                found[p] = item
        return {p: item for p, item in found.items() if item is not None}

    def _rows(self, checked) -> list[RowSpec]:
        pipe = self.pipeline
        texts = self._encode(sorted({req.prompt for req, _ in checked}))
        game = pipe.model.special_game_vtxt_feat[0] if pipe.config.pipeline.enable_special_game_feat else None
        self._text_warnings = {p: t.warnings for p, t in texts.items()}
        rows = []
        for index, (req, _) in enumerate(checked):
            text = texts[req.prompt]
            vtxt = text.vtxt
            if req.game_feat and game is not None:
                vtxt = vtxt + game.to(vtxt)
            for seed in req.seeds:
                rows.append(RowSpec(index, req.request_id, int(seed), pipe.frames_for(req.duration_s), req.cfg,
                                    vtxt, text.ctxt, text.ctxt_length))
        return rows

    @torch.no_grad()
    def _sample(self, rows: list[RowSpec], on_step, is_cancelled, preview_every) -> dict[int, torch.Tensor]:
        """Latents per row index (into `rows`) for rows that were not cancelled."""
        pipe = self.pipeline
        model = pipe.model
        p = pipe.config.pipeline
        live = list(range(len(rows)))
        x = noise_for_seeds([r.seed for r in rows], p.train_frames, pipe.config.network.input_dim, pipe.device)
        batch = pack(rows, model.null_vtxt_feat, model.null_ctxt_input, p.enable_ctxt_null_feat, pipe.device)
        x = x[:, : batch.x_len]
        grid = time_grid(p.validation_steps, pipe.device)
        total = len(grid) - 1

        def build(batch: PackedBatch):
            return self._rope(batch.x_len, batch.text_len), model.motion_transformer.mask(batch.x_mask, batch.ctxt_mask)

        rope, mask = build(batch)
        for k in range(total):
            t0, t1 = grid[k], grid[k + 1]
            x_in = batch.network_input(x)
            out = pipe.network(x_in, batch.ctxt, batch.vtxt, t0.expand(x_in.shape[0]), batch.x_mask, batch.ctxt_mask, rope=rope, attn_mask=mask, fused_modulation=True)
            v = batch.combine(out)
            x_next = x + (t1 - t0) * v
            previews = None
            if preview_every and ((k + 1) % preview_every == 0 or k + 1 == total):
                previews = self._previews(batch, predicted_data(x, t0, v), k + 1)
            x = x_next
            if on_step is not None:
                on_step(StepInfo(k + 1, total, tuple(dict.fromkeys(r.request_id for r in batch.rows)), previews))
            if is_cancelled is not None:
                keep = [i for i, r in enumerate(batch.rows) if not is_cancelled(r.request_id)]
                if not keep:
                    return {}
                if len(keep) < len(batch.rows):
                    live = [live[i] for i in keep]
                    x = x[keep]
                    batch = pack([batch.rows[i] for i in keep], model.null_vtxt_feat, model.null_ctxt_input, p.enable_ctxt_null_feat, pipe.device)
                    x = x[:, : batch.x_len]
                    rope, mask = build(batch)
        return {row: x[i, : rows[row].frames].clone() for i, row in enumerate(live)}

    def _previews(self, batch: PackedBatch, guess: torch.Tensor, step: int):
        out: dict[str, list] = {}
        for i, r in enumerate(batch.rows):
            decoded = self.pipeline.decode(guess[i : i + 1, : r.frames], smooth=False)
            out.setdefault(r.request_id, []).extend(clips_from_decoded(decoded, [{"preview_step": step, "seed": r.seed}]))
        return out

    def _work_items(self, checked) -> list[list[tuple[int, tuple[int, ...]]]]:
        """Groups of (request index, seeds) whose network rows fit max_rows."""
        groups: list[list[tuple[int, tuple[int, ...]]]] = []
        current: list[tuple[int, tuple[int, ...]]] = []
        rows = 0
        for i, (req, _) in enumerate(checked):
            need = len(req.seeds) * (2 if req.cfg > 1 else 1)
            if current and rows + need > self.max_rows:
                groups.append(current)
                current, rows = [], 0
            current.append((i, tuple(req.seeds)))
            rows += need
        if current:
            groups.append(current)
        return groups

    @staticmethod
    def _split(group: list[tuple[int, tuple[int, ...]]]) -> list[list[tuple[int, tuple[int, ...]]]]:
        """Halve a group that ran out of memory: by requests, else by the one request's seeds."""
        if len(group) > 1:
            return [group[: len(group) // 2], group[len(group) // 2 :]]
        index, seeds = group[0]
        half = len(seeds) // 2
        return [[(index, seeds[:half])], [(index, seeds[half:])]]

    @torch.no_grad()
    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        on_step: Callable[[StepInfo], None] | None = None,
        is_cancelled: Callable[[str], bool] | None = None,
        preview_every: int = 0,
    ) -> list[GeneratedTake]:
        checked = [validate_request(r) for r in requests]
        if not checked:
            return []
        takes: dict[int, list[GeneratedTake]] = {}
        queue = self._work_items(checked)
        while queue:
            group = queue.pop(0)
            sub = [(dataclasses.replace(checked[i][0], seeds=seeds), checked[i][1]) for i, seeds in group]
            try:
                results = self._run_group(sub, on_step, is_cancelled, preview_every)
            except torch.cuda.OutOfMemoryError:
                if len(group) == 1 and len(group[0][1]) == 1:
                    raise
                torch.cuda.empty_cache()
                queue[:0] = self._split(group)  # never lose a request: retry in halves
                continue
            except RuntimeError as exc:
                if "illegal memory access" in str(exc) or "CUDA error" in str(exc):
                    self._healthy, self._reason = False, f"sticky CUDA error: {exc}"
                raise
            for local, group_takes in results.items():
                takes.setdefault(group[local][0], []).extend(group_takes)
        if not takes:
            raise Cancelled("every request of the batch was cancelled")
        return [t for i in sorted(takes) for t in takes[i]]

    def _run_group(self, sub, on_step, is_cancelled, preview_every) -> dict[int, list[GeneratedTake]]:
        pipe = self.pipeline
        t0 = time.perf_counter()
        rows = self._rows(sub)
        t_text = time.perf_counter() - t0
        t1 = time.perf_counter()
        latents = self._sample(rows, on_step, is_cancelled, preview_every)
        t_sample = time.perf_counter() - t1
        results: dict[int, list[GeneratedTake]] = {}
        for local, (req, warnings) in enumerate(sub):
            idx = [i for i, r in enumerate(rows) if r.request_index == local and i in latents]
            if not idx:
                continue
            t2 = time.perf_counter()
            decoded = pipe.decode(torch.stack([latents[i] for i in idx]))
            timings = {"text_s": t_text, "sample_s": t_sample, "decode_s": time.perf_counter() - t2}
            all_warnings = tuple(warnings) + tuple(self._text_warnings.get(req.prompt, ()))
            frames = rows[idx[0]].frames
            metas = [{**self._metadata(req, rows[i].seed, frames, all_warnings, timings), "engine": "fast"} for i in idx]
            clips = clips_from_decoded(decoded, metas)
            results[local] = [
                GeneratedTake(req.request_id, rows[i].seed, clip, latents[i].cpu().numpy(), all_warnings, dict(timings))
                for i, clip in zip(idx, clips)
            ]
        return results

