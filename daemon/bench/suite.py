"""The measurements of `motionbridge bench` for one model (see cli.py)."""

from __future__ import annotations

import dataclasses
import gc
import time
from pathlib import Path

import numpy as np
import torch

from motionbridge.daemon.bench.timing import peak_gib, peak_reset, sync, timed
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.decode import decode_batched
from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.engine.text.cache import CachedText

PROMPT = "A person walks forward, then turns left and waves."


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


MODES = {
    "fp32": FastConfig(dtype="float32"),
    "bf16": FastConfig(dtype="bfloat16"),
    "bf16_graphs": FastConfig(dtype="bfloat16", cuda_graphs=True),
    "bf16_compiled": FastConfig.for_device("cuda", "bfloat16"),  # the GPU default (side stream, scope 'stack')
    "bf16_one_stream": FastConfig(dtype="bfloat16", cuda_graphs=True, compile_blocks=True),
    "bf16_blocks": dataclasses.replace(FastConfig.for_device("cuda", "bfloat16"), compile_scope="blocks"),
    "fp32_graphs": FastConfig(cuda_graphs=True),
    "fp32_compiled": FastConfig(cuda_graphs=True, compile_blocks=True),
    "bf16_compiled_model": FastConfig(dtype="bfloat16", cuda_graphs=True, compile_blocks=True, compile_scope="model"),
    "bf16_per_step_mod": FastConfig(dtype="bfloat16", cuda_graphs=True, compile_blocks=True, precompute_modulation=False),
}


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def world_joints_cm(decoded) -> np.ndarray:
    joints = decoded.keypoints3d + decoded.transl[:, :, None, :]
    return joints.detach().float().cpu().numpy() * 100.0


def reference_generate(model, cfg, feat: CachedText, frames: int, seeds, cfg_scale: float, device, name: str):
    """Our float32 reference path, as the official code runs: 360-frame latent, 128 text rows."""
    from motionbridge.daemon.model.loading import LoadedModel
    from motionbridge.daemon.model.pipeline import MotionPipeline
    from motionbridge.daemon.model.text_encoder import TextFeatures

    pipe = MotionPipeline(LoadedModel(model, cfg, Path(name), "0" * 64, name), None, device, torch.float32)
    b, n = len(seeds), feat.ctxt.shape[0]
    ctxt = torch.zeros(b, cfg.pipeline.max_length_llm, feat.ctxt.shape[1], device=device)
    ctxt[:, :n] = feat.ctxt.to(device)
    features = TextFeatures(feat.vtxt.reshape(1, 1, -1).expand(b, 1, -1).to(device), ctxt, torch.full((b,), n, device=device))
    cond = pipe.conditioning(features, frames, cfg_scale)
    latent = pipe.sample(cond, pipe.noise(seeds))[:, :frames].clone()
    return latent, pipe.decode(latent)


class ModelBench:
    def __init__(self, name: str, device: torch.device, parity: Path, args) -> None:
        self.name, self.device, self.parity, self.args = name, device, parity, args
        self.durations = _floats(args.durations)
        self.batches = _ints(args.batches)
        default_modes = "fp32,bf16" if device.type == "cpu" else "fp32,bf16,bf16_graphs,bf16_compiled"
        self.modes = (args.modes or default_modes).split(",")
        for m in self.modes:
            if m not in MODES:
                raise ValueError(f"unknown mode {m!r}; pass some of {', '.join(MODES)}")
        self.cuda = device.type == "cuda"

    # -- building -------------------------------------------------------------------------------

    def _config(self, cfg):
        return dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, validation_steps=self.args.steps))

    def _random_text(self, streamed: bool):
        from motionbridge.daemon.bench.random_models import TINY_RANDOM, fixture_tokenizers, random_clip, random_qwen3
        from motionbridge.daemon.engine.text.encoder import FastTextEncoder
        from motionbridge.daemon.engine.text.offload import LayerStreamer

        tiny = self.name == "tiny-random"
        tok_llm, tok_clip = fixture_tokenizers(self.parity)
        dev = str(self.device)
        qwen = random_qwen3(dev, torch.bfloat16, TINY_RANDOM["qwen"] if tiny else None)
        clip = random_clip(dev, torch.bfloat16, TINY_RANDOM["clip"] if tiny else None)
        streamer = LayerStreamer(qwen, self.device) if streamed else None
        return FastTextEncoder(tok_llm, qwen, tok_clip, clip, device=self.device, encoder_id=f"random-{self.name}", streamer=streamer, static_graphs=self.cuda)

    def _random_model(self, dtype):
        from motionbridge.daemon.bench.random_models import model_config, random_flow_model

        cfg = self._config(model_config(self.name))
        return random_flow_model(cfg, str(self.device), dtype), cfg

    # -- measuring ------------------------------------------------------------------------------

    def _generate(self, engine, duration: float, seeds=(0,), prompt: str = PROMPT):
        return engine.generate([GenerationRequest(prompt, duration, tuple(seeds), 5.0)])

    def _latencies(self, engine, prompt_fn=None) -> dict:
        out = {}
        for d in self.durations:
            self._generate(engine, d, prompt=prompt_fn(d, -1) if prompt_fn else PROMPT)  # warm-up (capture, prefix KV)
            counter = iter(range(1000))
            gen = (lambda: self._generate(engine, d, prompt=prompt_fn(d, next(counter)))) if prompt_fn else (lambda: self._generate(engine, d))
            sec, _ = timed(gen, self.device, self.args.repeats)
            out[f"{d:g}s"] = _r(sec * 1000, 2)
        return out

    def _throughput(self, engine) -> dict:
        out = {}
        for b in self.batches:
            self._generate(engine, 5.0, seeds=range(b))
            sec, _ = timed(lambda: self._generate(engine, 5.0, seeds=range(b)), self.device, max(1, self.args.repeats // 2))
            out[str(b)] = {"clips_per_min": _r(60.0 * b / sec, 1), "ms_per_clip": _r(1000 * sec / b, 2)}
        return out

    def _deviation(self, engine, ref_latent, ref_decoded) -> dict:
        take = self._generate(engine, 5.0)[0]
        latent = torch.from_numpy(take.latent)[None]
        decoded = decode_batched(latent.to(self.device), engine.model.mean, engine.model.std, engine.body)
        return {
            "latent_max_abs": _r(float((latent - ref_latent.cpu()).abs().max()), 7),
            "joints_max_abs_cm": _r(float(np.abs(world_joints_cm(decoded) - world_joints_cm(ref_decoded)).max()), 5),
        }

    def _decode_ms(self, engine, latent) -> dict:
        """The engine's own take decode (graph-replayed with CUDA graphs on), and the eager one."""
        out = {}
        eager = lambda x: decode_batched(x, engine.model.mean, engine.model.std, engine.body)  # noqa: E731
        for label, decode in (("", engine.decoder or eager), ("eager_", eager)):
            for b in (1, 8):
                batch = latent.expand(b, -1, -1).contiguous().to(self.device)
                decode(batch)
                sec, _ = timed(lambda: decode(batch), self.device, max(self.args.repeats, 10))
                out[f"{label}batch{b}_ms_per_clip"] = _r(1000 * sec / b, 3)
            if engine.decoder is None:
                break
        return out

    def run(self) -> dict:
        res: dict = {"model": self.name}
        if self.cuda and self.name != "tiny":
            from motionbridge.daemon.bench.low_vram import low_vram

            res["low_vram"] = low_vram(self, MODES[self.modes[-1]], PROMPT)  # Qwen3 streamed, int8, int4 (low_vram.py)
        t0 = time.perf_counter()
        if self.name == "tiny":
            engine0 = FastEngine.from_parity(self.parity, device=str(self.device))
            model, cfg, text = engine0.model, self._config(engine0.config), engine0.text
        else:
            model, cfg = self._random_model(torch.float32)
            text = self._random_text(streamed=False)
        sync(self.device)
        res["build_s"] = _r(time.perf_counter() - t0, 2)
        res["params_dit"] = sum(p.numel() for p in model.motion_transformer.parameters())
        feat = text.encode([PROMPT])[0]
        res["text_encode_ms"] = self._text_ms(text)
        frames = round(5.0 * 30)
        ref_s, (ref_latent, ref_decoded) = timed(lambda: reference_generate(model, cfg, feat, frames, [0], 5.0, self.device, self.name), self.device, 1)
        rb = self.args.reference_batch
        ref_b_s, _ = timed(lambda: reference_generate(model, cfg, feat, frames, list(range(rb)), 5.0, self.device, self.name), self.device, 1)
        res["reference_fp32"] = {"latency_ms_5s": _r(ref_s * 1000, 1), f"clips_per_min_batch{rb}": _r(60 * rb / ref_b_s, 1)}
        res["modes"] = {}
        for mode in self.modes:
            if MODES[mode].cuda_graphs and not self.cuda:
                continue
            res["modes"][mode] = self._mode(mode, model, cfg, text, feat, ref_latent, ref_decoded, main=mode == self.modes[-1])
        main = res["modes"].get(self.modes[-1], {})
        if main.get("latency_ms_text_cached", {}).get("5s"):
            res["speedup_latency_5s"] = _r(res["reference_fp32"]["latency_ms_5s"] / main["latency_ms_text_cached"]["5s"], 2)
        if main.get("throughput"):
            best = max(v["clips_per_min"] for v in main["throughput"].values())
            res["speedup_throughput"] = _r(best / res["reference_fp32"][f"clips_per_min_batch{rb}"], 2)
        return res

    def _text_ms(self, text) -> dict:
        out = {}
        static = text.static
        for label, use, graphs in (("full_prompt", False, False), ("prefix_kv_cache", True, False), ("static_graphs", True, True)):
            if graphs and static is None:
                continue
            text.use_prefix_cache = use
            text.static = static if graphs else None
            text.encode([PROMPT + " warm"])
            counter = iter(range(1000))
            sec, _ = timed(lambda: text.encode([f"{PROMPT} {next(counter)}"]), self.device, self.args.repeats)
            out[label] = _r(sec * 1000, 2)
        text.use_prefix_cache = True
        text.static = static
        return out

    def _mode(self, mode, model, cfg, text, feat, ref_latent, ref_decoded, main: bool) -> dict:
        peak_reset(self.device)
        t0 = time.perf_counter()
        engine = FastEngine(model, cfg, text, MODES[mode], device=self.device, model_name=self.name)
        engine.cache.put(PROMPT, feat)
        sync(self.device)
        out: dict = {"engine_start_s": _r(time.perf_counter() - t0, 3)}
        t1 = time.perf_counter()
        self._generate(engine, 5.0)
        sync(self.device)
        out["first_request_s"] = _r(time.perf_counter() - t1, 3)
        out["deviation_vs_fp32_reference"] = self._deviation(engine, ref_latent, ref_decoded)
        if main:
            out["latency_ms_text_cached"] = self._latencies(engine)
            out["latency_ms_with_text"] = self._latencies(engine, lambda d, k: f"{PROMPT} ({mode} {d:g} {k})")
            out["throughput"] = self._throughput(engine)
            out["decode"] = self._decode_ms(engine, ref_latent)
        else:
            sec, _ = timed(lambda: self._generate(engine, 5.0), self.device, self.args.repeats)
            out["latency_ms_text_cached"] = {"5s": _r(sec * 1000, 2)}
        out["peak_vram_gib"] = peak_gib(self.device)
        engine = None  # drops the last reference (its GPU memory) before the next mode
        gc.collect()
        return out
