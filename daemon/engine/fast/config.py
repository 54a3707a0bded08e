"""FastConfig: which fast modes a FastEngine uses (dtype, buckets, CUDA graphs, compiling)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import torch

from motionbridge.daemon.engine.fast.device_tables import COMPILE_MODES, COMPILE_SCOPES
from motionbridge.daemon.engine.fast.sampler import DEFAULT_FRAME_BUCKETS, DEFAULT_ROW_BUCKETS, DEFAULT_TEXT_BUCKETS

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class FastConfig:
    dtype: str = "float32"  # network activations and weights: float32 (exact) or bfloat16
    buckets: bool = False  # pad frames / text / rows to fixed buckets (static shapes)
    cuda_graphs: bool = False  # capture one Euler step per bucket shape (implies buckets)
    frame_buckets: tuple[int, ...] = DEFAULT_FRAME_BUCKETS
    text_buckets: tuple[int, ...] = DEFAULT_TEXT_BUCKETS
    row_buckets: tuple[int, ...] = DEFAULT_ROW_BUCKETS
    max_rows: int = 64  # seeds per sampling batch (the network sees up to twice as many rows)
    text_cache_size: int = 4096
    text_cache_dir: str | None = None
    text_batch: int = 32
    compile_blocks: bool = False  # torch.compile the DiT (see device_tables.compile_blocks)
    compile_scope: str = "blocks"  # 'blocks' (regional, quick), 'stack' (+ single blocks as one graph), 'model
    compile_mode: str = "default"  # or 'max-autotune-no-cudagraphs'
    compile_dynamic: bool | None = False  # static shapes: faster kernels; None (automatic) measured no better
    fused_modulation: bool = True  # every block's adaLN modulation in one stacked matmul per step
    precompute_modulation: bool = True  # ... or, with fused_modulation, one matmul for all steps
    precompute_text_mib: int = 256  # refined text of all steps up front while the table fits (0: per step)
    text_kv_mib: int = 512  # every block's text keys/values of all steps up front while they fit, and the
    # loop on the motion tokens alone (fast/text_stream.py; needs both tables above; 0: off)
    graph_tables_mib: int = 64  # per-step tables up to this size are made by a captured prologue (compile/graphs.py)
    text_side_stream: bool = False  # double blocks' text half on a second CUDA stream (fast/side_stream.py)
    background_compile: bool = False  # with compile_blocks: a shape not compiled yet runs uncompiled at once
    # while it compiles on a background thread (compile/paths.py, compile/shape_compiler.py)
    compile_wait_ms: int = 0  # ... after waiting this long for its compile (quick when only loading or re-using code)
    compile_in_child: bool = False  # with background_compile: each compile job first compiles its shape in
    # a child process, filling the disk caches, so the in-process compile only loads code (compile/child_job.py)
    compile_child_timeout_s: float = 600.0  # ... and kills that child after this long (the shape FAILED)
    ready_load_s: float = 15.0  # a warm-up loads shapes whose code is cached before READY, this long at
    # most all told (serve's target: READY within 30 s with warm caches; a static 1.0B shape loads in
    # 2.7 s on an H100, a dynamic code variant in 75 s, which then loads in the background instead)
    graph_segment_steps: int = 5  # a small batch's Euler loop is captured in graphs of this many steps;
    # the step hook (progress, cancelling, previews) runs after each of them (graphs.CapturedStep)
    loop_capture_on_use: int = 2  # ... from a shape's n-th take on; before that one step is captured
    # and replayed per step (capturing the loop is a whole loop's launches, paid back only by repeats)
    batch_invariant: bool = False  # each seed sampled and each prompt encoded alone, so a take's
    # float sums (GEMM kernels chosen by row count, padding to a neighbour's length) depend on its own
    # request only: the same bytes whatever shares its batch, in-process, in a daemon or after a resume

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; pass one of {', '.join(DTYPES)}")
        if self.compile_scope not in COMPILE_SCOPES:
            raise ValueError(f"unknown compile_scope {self.compile_scope!r}; pass one of {', '.join(COMPILE_SCOPES)}")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(f"unknown compile_mode {self.compile_mode!r}; pass one of {', '.join(COMPILE_MODES)}")
        if self.text_side_stream and self.compile_blocks and self.compile_scope == "model":
            raise ValueError("text_side_stream compiles the double blocks in pieces; pass compile_scope='blocks' or 'stack' with it")
        if self.graph_segment_steps < 1:
            raise ValueError(f"graph_segment_steps must be >= 1, got {self.graph_segment_steps}")
        if self.loop_capture_on_use < 1:
            raise ValueError(f"loop_capture_on_use must be >= 1, got {self.loop_capture_on_use}")
        for name in ("precompute_text_mib", "text_kv_mib", "graph_tables_mib"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 turns that table off), got {getattr(self, name)}")
        if self.compile_wait_ms < 0:
            raise ValueError(f"compile_wait_ms must be >= 0, got {self.compile_wait_ms}")
        if not self.ready_load_s >= 0:
            raise ValueError(f"ready_load_s must be >= 0, got {self.ready_load_s}")
        if not self.compile_child_timeout_s > 0:
            raise ValueError(f"compile_child_timeout_s must be > 0, got {self.compile_child_timeout_s}")
        if self.max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {self.max_rows}")

    def code_variants(self, duration_s: float, text_tokens: int, avoid: Collection[int] = (), fps: float = 30.0) -> list[tuple[float, int, int]]:
        """(duration, prompt tokens, seeds) of requests that meet every code variant a dynamic
        compile (`compile_dynamic`) specialises on: one row and several (torch specialises a
        size of 1), the text-table loop and the joint one (many rows or the longest prompt
        bucket overflow the text table). Once these ran, other shapes run the same code
        (tests/daemon/engine/fast/test_dynamic_compile.py); without a dynamic compile, only
        the request's own shape. What serve's warm-up compiles (FastEngine.warm_up).
        `avoid`: the network's fixed sizes (compile/dynamic_inputs.fixed_sizes). A dynamic size traced equal
        to one of them is tied to it (Dynamo matches strides to sizes by value), and the code
        then holds for that one size: on the tiny model, 64 frames against a width of 64
        recompiled every later length. The frames and text buckets traced here skip them."""
        if not self.compile_dynamic:
            return [(duration_s, text_tokens, 1)]
        frames = next((b for b in self.frame_buckets if b >= round(duration_s * fps) and b not in avoid), None)
        duration_s = duration_s if frames is None else frames / fps
        text = next((b for b in self.text_buckets if b >= text_tokens and b not in avoid), text_tokens)
        longest = max((b for b in self.text_buckets if b not in avoid), default=max(self.text_buckets))
        return [(duration_s, text, 1), (duration_s, text, 2), (duration_s, text, 4), (duration_s, longest, 1)]

    @property
    def static_shapes(self) -> bool:
        return self.buckets or self.cuda_graphs

    @classmethod
    def for_device(cls, device: torch.device | str, dtype: str | None = None) -> FastConfig:
        """The engine's defaults where none are given: on a GPU in bfloat16 (the default there),
        CUDA graphs over compiled blocks, the single blocks and final layer compiled as one graph
        (scope 'stack'), the double blocks' text half on a side stream when a batch runs the
        joint loop; a shape that is not compiled yet runs uncompiled while it compiles in the
        background (compile/paths.py), first in a child process (`compile_in_child`,
        compile/child_job.py). On a GPU in float32 (the exact modes): CUDA graphs of the
        uncompiled network with the joint loop, the configuration that matches the official
        latents on the GPU (tests/daemon/engine/fast/test_engine_exact.py). The compiled float32
        path's wrong latents on an H100 (session 8) were the graph pool's fault, since fixed
        (compile/graphs.py PoolTenancy), and it matches too (session 9); making it the float32
        default again waits for a timing of both. On the CPU, the exact float32 path. Batches whose
        text table fits `text_kv_mib` run the motion-only loop (fast/text_stream.py: 1.0B
        101.6 -> 93.4 ms per clip on one H200). 'stack' rather than 'blocks': 0.5-2.6 ms faster
        per clip in 11 of 12 paired H200 runs; 'model' cannot take the side stream
        (bench/README.md). float32 is batch-invariant (`batch_invariant`); bfloat16 batches for
        throughput."""
        if torch.device(device).type == "cuda":
            dtype = dtype or "bfloat16"
            if dtype == "float32":
                return cls(dtype=dtype, cuda_graphs=True, text_kv_mib=0, batch_invariant=True)
            return cls(dtype=dtype, cuda_graphs=True, compile_blocks=True, compile_scope="stack", text_side_stream=True,
                       background_compile=True, compile_in_child=True)
        dtype = dtype or "float32"
        return cls(dtype=dtype, batch_invariant=dtype == "float32")
