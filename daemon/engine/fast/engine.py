"""FastEngine: the engine contract with batching, trimming, bf16, CUDA graphs and caches.

Exact modes (float32, no buckets) match the reference engine to float32 rounding; the fast
modes (bf16, length buckets + CUDA graphs) have the tolerances measured by `motionbridge bench`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import Tensor

from motionbridge.daemon.engine.api import Cancelled, Engine, GeneratedTake, GenerationRequest, StepInfo
from motionbridge.daemon.engine.compile.child_job import child_compiles
from motionbridge.daemon.engine.compile.decode_graphs import GraphedDecoder
from motionbridge.daemon.engine.compile.dynamic_inputs import compiling_without_views, fixed_sizes
from motionbridge.daemon.engine.compile.graphs import CapturedStep, GraphCache, UseCounts
from motionbridge.daemon.engine.compile.paths import COMPILED, UNCOMPILED, Choice, NetworkPath, choose_for, compile_job, load_cached_first, sharing_copy
from motionbridge.daemon.engine.compile.shape_compiler import READY, ShapeCompiler
from motionbridge.daemon.engine.fast.config import DTYPES, FastConfig
from motionbridge.daemon.engine.fast.constraint_buffers import graph_key, load_into, on_buffers
from motionbridge.daemon.engine.fast.decode import LevelBody
from motionbridge.daemon.engine.fast.device_tables import compile_blocks, pad_projections, tables_on_device
from motionbridge.daemon.engine.fast.progress import step_hook
from motionbridge.daemon.engine.fast.sampler import Row, bucket_up, build_batch, make_step, run_euler
from motionbridge.daemon.engine.fast.side_stream import overlap_text_stream
from motionbridge.daemon.engine.fast.step_tables import StepTables
from motionbridge.daemon.engine.fast.takes import assemble_takes
from motionbridge.daemon.engine.fast.text_stream import MotionNetwork
from motionbridge.daemon.engine.faults import is_oom, is_sticky
from motionbridge.daemon.engine.reference import validate_request
from motionbridge.daemon.engine.text.cache import CachedText, TextCache
from motionbridge.daemon.engine.text.encoder import FastTextEncoder
from motionbridge.daemon.model.config import ModelConfig
from motionbridge.daemon.model.decode import BodyModel
from motionbridge.daemon.model.mmdit import MotionFlowModel
from motionbridge.daemon.model.sampling import num_frames


class FastEngine(Engine):
    def __init__(
        self,
        model: MotionFlowModel,
        config: ModelConfig,
        text: FastTextEncoder | None,
        fast: FastConfig = FastConfig(),
        *,
        device: torch.device | str = "cpu",
        model_name: str = "HY-Motion",
        model_hash: str = "",
        checkpoint_sha256: str = "",
        compile_with: Callable | str | None = None,
    ) -> None:
        """`compile_with` (f -> compiled f, or its "module:function" name, which a compile child
        can import too) replaces torch.compile with the config's settings (tests inject one
        that counts calls, waits or fails)."""
        self.device = torch.device(device)
        self.fast = fast
        if fast.cuda_graphs and self.device.type != "cuda":
            raise ValueError("cuda_graphs needs a CUDA device; pass cuda_graphs=False on the CPU")
        self.model = model
        self.config = config
        self.model_name = model_name
        self.model_hash = model_hash  # a prefix, for HELLO and STATUS
        self.checkpoint_sha256 = checkpoint_sha256  # the whole digest, for the takes' metadata
        self.dtype = DTYPES[fast.dtype]
        dit = model.motion_transformer
        if next(dit.parameters()).dtype != self.dtype or fast.compile_blocks:  # leave the caller's model untouched
            dit = copy.deepcopy(dit).to(self.dtype)
        tables_on_device(dit, self.device)
        self._child, compile_with = child_compiles(fast, compile_with, self._compile_event)  # compile/child_job.py
        compile_fn = compile_with or (lambda f: torch.compile(f, dynamic=fast.compile_dynamic, mode=fast.compile_mode))
        compile_fn = compile_fn if fast.compile_blocks else None
        if compile_fn is not None and fast.compile_dynamic:  # guards on views' bases recompiled (compile/dynamic_inputs.py)
            compile_fn = compiling_without_views(compile_fn)
        # our own copy when compiling: the unaligned 201-wide projections padded (device_tables)
        self._input_pad, self._out_dim = pad_projections(dit) if fast.compile_blocks else (0, None)
        # the path that needs no compiling, for shapes still compiling (compile/paths.py)
        twin = sharing_copy(dit) if compile_fn is not None and fast.background_compile else None
        if fast.text_side_stream:
            overlap_text_stream(dit, self.device, compile_fn)
        if compile_fn is not None:
            compile_blocks(dit, fast.compile_dynamic, fast.compile_scope, fast.compile_mode, compile_fn)
        self.dit = dit
        self.tables = StepTables(dit, fast, self.dtype, self.device, self._autocast, compile_fn)
        # the loop's network in the text-table mode: motion tokens only (fast/text_stream.py)
        self._motion_network = MotionNetwork(dit, compile_fn)
        self.graphs = GraphCache()
        self.loop_uses = UseCounts()  # takes per compiled shape: its whole loop is captured from loop_capture_on_use on
        self.paths = {COMPILED: NetworkPath(COMPILED, dit, self.tables, self._motion_network, compile_fn, self.graphs)}
        self.compiler: ShapeCompiler | None = None
        self.compiled_variants: set[tuple] = set()  # compile_dynamic: the code variants compiled (_compile_job)
        if twin is not None:
            if fast.text_side_stream:
                overlap_text_stream(twin, self.device, None)
            self.paths[UNCOMPILED] = NetworkPath(UNCOMPILED, twin, StepTables(twin, fast, self.dtype, self.device, self._autocast),
                                                 MotionNetwork(twin), None)
            self.compiler = ShapeCompiler(on_event=self._compile_event)
        self.compile_events: list[dict] = []  # the background compiles' log, last 256
        self.on_compile_event: Callable[[dict], None] | None = None  # and where else it goes (the worker's JSON log)
        self.choice = Choice(COMPILED)  # the path of the batch running now (progress events)
        self.text = text
        self.cache = TextCache(text.encoder_id if text else "none", text.dtype_name if text else "none", fast.text_cache_size, fast.text_cache_dir)
        self.body = LevelBody(BodyModel(), self.device)
        self._noise_thread = ThreadPoolExecutor(1, thread_name_prefix="motionbridge-noise")
        # the take decode is host-bound too: replayed from its own graphs (compile/decode_graphs.py)
        self.decoder = GraphedDecoder(self.model.mean, self.model.std, self.body, self.device) if fast.cuda_graphs else None
        self._ropes: dict[tuple[int, int], tuple[Tensor, Tensor]] = {}
        where = "cpu" if fast.cuda_graphs else self.device  # where build_batch runs
        self._null_feats = (model.null_ctxt_input.detach().float().to(where), model.null_vtxt_feat.detach().float().to(where))
        self.sticky_error = ""
        self.oom_splits = 0

    @classmethod
    def from_dirs(
        cls, checkpoint_dir, qwen_dir, clip_dir, fast: FastConfig | None = None, device: str = "cpu",
        memory: str = "resident", llm_dtype: str = "bfloat16", model_name: str | None = None, dtype: str | None = None,
        low_vram_text: str = "",
    ) -> FastEngine:
        """memory 'resident': both text encoders on the device; 'low_vram': Qwen on the device
        with weight-only int8 weights (`low_vram_text` 'int8', the default, or 'int4';
        text/quantized.py), or in CPU memory with its layers streamed to the GPU ('stream',
        text/offload.py).
        Without `fast`, `FastConfig.for_device`; `dtype` overrides its dtype, so callers can
        build any engine with the same kwargs."""
        from motionbridge.daemon.engine.fast.loading import load_parts

        loaded, text, fast = load_parts(checkpoint_dir, qwen_dir, clip_dir, fast, device, memory, llm_dtype, dtype, low_vram_text)
        return cls(loaded.model, loaded.config, text, fast, device=device, model_name=model_name or loaded.name, model_hash=loaded.sha256[:16],
                   checkpoint_sha256=loaded.sha256)

    @classmethod
    def from_parity(
        cls, parity_dir, fast: FastConfig | None = None, device: str = "cpu", memory: str = "resident",
        llm_dtype: str = "bfloat16", dtype: str | None = None, low_vram_text: str = "",
    ) -> FastEngine:
        d = Path(parity_dir)
        enc = d / "text_encoders"
        return cls.from_dirs(d / "model", enc / "qwen3", enc / "clip", fast, device, memory, llm_dtype, "parity-fixture", dtype, low_vram_text)

    def warm_up(self, prompt: str = "A person walks forward.", durations: Sequence[float] = (5.0,), compile_first: bool = True) -> float:
        """One throw-away request per duration, so that compiling and graph capture happen before
        the first user waits (with a dynamic compile, every code variant: FastConfig.code_variants).
        With background compiling and `compile_first`, each shape is
        compiled first, with no compile child (nothing is served yet); without `compile_first`
        (the daemon: READY must not wait 30-40 s for Inductor) its compile is only queued, in a
        child where configured, and the request runs uncompiled, unless the compile cache holds
        its code (a restart) and loads it within `ready_load_s`: then it is loaded first.
        Returns seconds."""
        t0 = time.perf_counter()
        if self.text is not None and durations:
            self.text.warm_up_graphs(prompt)  # each prompt-length bucket's text graphs
        budget = [self.fast.ready_load_s]  # cached code loaded before READY, at most this long all told
        for d in durations:
            if self.compiler is not None and self.fast.compile_blocks:
                tokens = self.text_features([prompt])[prompt].ctxt.shape[0]
                for shape in self.fast.code_variants(float(d), tokens, fixed_sizes(self.config.network, self._input_pad), self.config.pipeline.output_mesh_fps):
                    self.precompile(*shape, wait=compile_first, in_child=not compile_first, load_budget=budget)
            self.generate([GenerationRequest(prompt, float(d), (0,), 5.0, request_id="warm-up")])
        return time.perf_counter() - t0

    def _graph_build_s(self) -> float:
        return sum(path.graphs.build_s for path in self.paths.values())

    def close(self) -> None:
        """Drops the queued background compiles and kills a running compile child (an
        in-process compile that runs ends on its own)."""
        if self.compiler is not None:
            self.compiler.close()
        if self._child is not None:
            self._child.close()

    def with_steps(self, steps: int) -> FastEngine:
        """Fewer Euler steps (tests and smoke runs that check plumbing, not the sampler)."""
        p = self.config.pipeline
        self.config = dataclasses.replace(self.config, pipeline=dataclasses.replace(p, validation_steps=steps))
        return self

    # -- health and faults --------------------------------------------------------------------

    def health(self) -> dict[str, object]:
        if not self.sticky_error and self.device.type == "cuda":
            try:
                torch.cuda.synchronize(self.device)
            except RuntimeError as exc:  # an asynchronous kernel fault surfaces here
                self.sticky_error = str(exc).splitlines()[0]
        return {"ok": not self.sticky_error, "reason": self.sticky_error, "device": str(self.device), "oom_splits": self.oom_splits}

    def _after_oom(self) -> None:
        self.oom_splits += 1
        for path in self.paths.values():
            path.graphs.clear()
        if self.decoder is not None:
            self.decoder.clear()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # -- text -----------------------------------------------------------------------------------

    def text_features(self, prompts: Sequence[str]) -> dict[str, CachedText]:
        text_batch = 1 if self.fast.batch_invariant else self.fast.text_batch
        return self.cache.features(prompts, self.text.encode if self.text is not None else None, text_batch)

    # -- network --------------------------------------------------------------------------------

    def _autocast(self):
        """bf16 mode runs under autocast (matmuls in bf16, the official float32 islands kept)."""
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype != torch.float32 else contextlib.nullcontext()

    def network(self, x, ctxt, vtxt, t, x_mask, ctxt_mask, path: NetworkPath | None = None, **kw) -> Tensor:
        """The DiT on the joint tokens; with `text_kv` (a row of text_stream.text_kv_table),
        on the motion tokens alone, with `rope` and `attn_mask` their rows. `path`: compiled
        (the default) or uncompiled (compile/paths.py)."""
        path = path or self.paths[COMPILED]
        with self._autocast():
            x = x.to(self.dtype) if self.dtype != torch.float32 else x
            if "text_kv" in kw:
                return path.motion_network(x, kw["mods"], kw["text_kv"], kw["rope"], kw["attn_mask"])
            return path.dit(x, ctxt, vtxt, t, x_mask, ctxt_mask, fused_modulation=self.fast.fused_modulation, **kw)

    def rope(self, length: int, text_len: int) -> tuple[Tensor, Tensor]:
        """The joint rotary tables of `length` motion and `text_len` text tokens, cached."""
        key = (length, text_len)
        if key not in self._ropes:  # text keeps positions train_frames.. whatever the trim
            self._ropes[key] = self.dit.rope(length, text_len, self.config.pipeline.train_frames, self.device)
        return self._ropes[key]

    def _batch(self, rows: list[Row]):
        f, p, net = self.fast, self.config.pipeline, self.config.network
        static = f.static_shapes
        # with graphs the batch is built on the CPU (dozens of tiny ops and syncs on the GPU
        # before the first step) and copied into the captured step's buffers
        return build_batch(
            rows, input_dim=net.input_dim, train_frames=p.train_frames,
            null_ctxt=self._null_feats[0], null_vtxt=self._null_feats[1],
            ctxt_null_feat=p.enable_ctxt_null_feat, device=torch.device("cpu") if f.cuda_graphs else self.device,
            frame_buckets=f.frame_buckets if static else None, text_buckets=f.text_buckets if static else None,
            pad_rows_to=bucket_up(len(rows), f.row_buckets) if static else None, uncond_all=static,
            draw_noise=not f.cuda_graphs,  # drawn by CapturedStep.run while the prologue runs
        )

    def _shape_key(self, batch) -> tuple:
        return (batch.x0.shape[0], batch.x0.shape[1], batch.ctxt.shape[1], self.config.pipeline.validation_steps)

    def precompile(self, duration_s: float, text_tokens: int, seeds: int, wait: bool = True, in_child: bool = True,
                   load_budget: list[float] | None = None) -> str:
        """Compiles the shape of a request of this length, prompt tokens and seeds (its
        buckets') for the compiled path, on the compile thread (waiting for it with `wait`),
        or on this one without background compiling; `in_child` False: without the compile
        child, where nothing is served meanwhile. `load_budget` ([seconds left]): a shape whose
        code the compile cache holds (compile/cache.py markers) and loads within what is left
        is waited for, without a child, and its seconds taken off. Returns the shape's state
        (READY, FAILED, or QUEUED/COMPILING when not waiting); the warm-ups and `motionbridge warm`."""
        net = self.config.network
        frames = num_frames(duration_s, self.config.pipeline.output_mesh_fps, self.config.pipeline.train_frames)
        rows = [Row(s, frames, 5.0, torch.zeros(text_tokens, net.ctxt_input_dim), torch.zeros(1, net.vtxt_input_dim)) for s in range(seeds)]
        batch = self._batch(rows)
        if load_budget and load_cached_first(self, batch, self.config.pipeline.validation_steps, load_budget):
            wait, in_child = True, False
        job = self._compile_job(batch, self.config.pipeline.validation_steps, in_child)
        if self.compiler is None:
            job()
            return READY
        key = self._shape_key(batch)
        self.compiler.submit(key, job)
        return self.compiler.wait_ready(key, None) if wait else self.compiler.state(key)

    def _sample_rows(self, rows: list[Row], hook, project=None) -> Tensor:
        f = self.fast
        batch = self._batch(rows)
        steps = self.config.pipeline.validation_steps
        key = self._shape_key(batch)
        self.choice = choose_for(self, batch, steps, key)
        path, graphs_key = self.paths[self.choice.path], key + graph_key(project)  # a directed take's graphs hold its projection
        if path.name == COMPILED and UNCOMPILED in self.paths:
            self.paths[UNCOMPILED].graphs.drop(graphs_key + ("step",))  # its stand-in's graphs and tables are not needed again
        plan, make_mask, make_tables, step_for = self._parts(path, batch, steps)
        if f.cuda_graphs:
            # small tables live in the graphs' pool and the whole loop is captured; the
            # text-table mode is only planned while its table is small enough for that
            small = plan.text_kv or plan.bytes <= f.graph_tables_mib * 2**20
            # the uncompiled stand-in captures one step, not the whole loop: capturing 50
            # uncompiled steps costs about what running them eagerly does (1.0B: ~1 s of a
            # new shape's 1.6 s on an H100), capturing one costs a step. So does a compiled
            # shape's first take: its loop is captured when the shape comes back, never with a
            # dynamic compile, whose launches cost ~15 ms a step on the host (H100, 1.0B: a
            # loop capture took ~700 ms, and one step replayed per step sampled about as fast
            # as the captured loop; bench/results/2026-12-08-h100-session11.md)
            small = small and path.name == COMPILED and not f.compile_dynamic and self.loop_uses.count(graphs_key) >= f.loop_capture_on_use
            if small:
                path.graphs.drop(graphs_key + ("step",))
            captured = path.graphs.get(graphs_key + ("loop" if small else "step",), lambda pool: CapturedStep(
                batch.to(self.device), step_for, pool, make_tables, capture_tables=small, make_mask=make_mask, steps=steps,
                segment_steps=f.graph_segment_steps, project=on_buffers(project, batch.x0.shape[1], self.device),
                tenancy=path.graphs.tenancy))
            # torch.randn on the CPU releases the GIL: the noise is drawn while this thread
            # copies the batch in and queues the prologue (it was ~0.5 ms before the first step)
            noise = self._noise_thread.submit(batch.noise)
            if captured is not None:
                x = load_into(captured, project).run(batch, steps, hook, noise=noise.result)
            else:  # a compile holds the GPU's turns (graphs.GPU_TURNS): not captured
                on_device = batch.to(self.device)
                x = run_euler(step_for(on_device, make_mask(on_device)), noise.result().to(self.device), steps, hook, make_tables(on_device),
                              on_buffers(project, batch.x0.shape[1], self.device))
        else:
            x = run_euler(step_for(batch, make_mask(batch)), batch.x0, steps, hook, make_tables(batch), on_buffers(project, batch.x0.shape[1], self.device))
        return x[: len(rows)]

    def _parts(self, path: NetworkPath, batch, steps: int):
        """(plan, make_mask, make_tables, step_for(batch, mask)) of `batch` on `path`."""
        plan = path.tables.plan(batch, steps)
        joint_rope = self.rope(batch.x0.shape[1], batch.ctxt.shape[1])
        rope = path.tables.rope(joint_rope, batch.x0.shape[1], plan)
        make_mask = functools.partial(path.tables.mask, plan=plan)
        make_tables = functools.partial(path.tables.make, steps=steps, plan=plan, joint_rope=joint_rope)
        step_with = functools.partial(make_step, split_mods=path.dit.split_modulations, compile_fn=path.compile_glue, input_pad=self._input_pad,
                                      out_dim=self._out_dim, input_dtype=self.dtype if self.dtype != torch.float32 else None,
                                      text_kw="text_kv" if plan.text_kv else "refined_text")
        network = functools.partial(self.network, path=path)
        static = self.fast.static_shapes
        return plan, make_mask, make_tables, lambda b, mask: step_with(network, b, rope, mask, uncond_all=static)

    def _compile_job(self, batch, steps: int, in_child: bool = True) -> Callable[[], None]:
        return compile_job(self, batch, steps, in_child)  # compile/paths.py

    def _compile_event(self, event: dict) -> None:
        self.compile_events.append(event)
        del self.compile_events[:-256]
        if self.on_compile_event is not None:
            self.on_compile_event(event)

    def _sample_split(self, rows: list[Row], hook_for, retried: bool = False, project=None) -> list[Tensor]:
        """Latent per row; a CUDA OOM frees the captured graphs and their tables, then splits
        the batch in halves and retries (no row lost). A single row is retried once: the
        graphs of earlier shapes (a few hundred MB each) may be what filled the device."""
        try:
            x = self._sample_rows(rows, hook_for(rows), project)
            return [x[i, : r.frames] for i, r in enumerate(rows)]
        except Exception as exc:
            if is_oom(exc) and (len(rows) > 1 or not retried):
                self._after_oom()
                if len(rows) == 1:
                    return self._sample_split(rows, hook_for, True, project)
                half = len(rows) // 2
                return self._sample_split(rows[:half], hook_for, False, project) + self._sample_split(rows[half:], hook_for, False, project)
            if is_sticky(exc):
                self.sticky_error = str(exc).splitlines()[0]
            raise

    # -- the contract ---------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        on_step: Callable[[StepInfo], None] | None = None,
        is_cancelled: Callable[[str], bool] | None = None,
        preview_every: int = 0,
    ) -> list[GeneratedTake]:
        if self.sticky_error:
            raise RuntimeError(f"engine is unhealthy after a device error ({self.sticky_error}); restart it")
        checked = [validate_request(r) for r in requests]  # all or nothing: validate first
        if not checked:
            return []
        t0 = time.perf_counter()
        feats = self.text_features([r.prompt for r, _ in checked])
        t_text = time.perf_counter() - t0
        p = self.config.pipeline
        game = self.model.special_game_vtxt_feat.detach().float().reshape(1, -1)
        rows: list[Row] = []
        for i, (req, _) in enumerate(checked):
            feat = feats[req.prompt]
            vtxt = feat.vtxt.reshape(1, -1).float()
            if req.game_feat and p.enable_special_game_feat:
                vtxt = vtxt + game.to(vtxt)
            frames = num_frames(req.duration_s, p.output_mesh_fps, p.train_frames)
            rows.extend(Row(int(s), frames, float(req.cfg), feat.ctxt, vtxt, (i, j)) for j, s in enumerate(req.seeds))
        cancelled: set[int] = set()
        total = p.validation_steps

        def hook_for(chunk: list[Row]):
            return step_hook(self, chunk, checked, cancelled, total, on_step, is_cancelled, preview_every)

        t1 = time.perf_counter()
        built = self._graph_build_s()
        latents: list[Tensor] = []
        per_call = 1 if self.fast.batch_invariant else self.fast.max_rows
        for start in range(0, len(rows), per_call):
            latents += self._sample_split(rows[start : start + per_call], hook_for)
        if self.device.type == "cuda":  # the loop is queued, not done: its time is sampling's, not the decode's
            torch.cuda.synchronize(self.device)
        t_sample = time.perf_counter() - t1
        # of which building a new shape's graphs (warm-up runs and captures): where a new shape's time goes
        t_capture = self._graph_build_s() - built
        if len(cancelled) == len(checked):
            raise Cancelled("every request of the batch was cancelled")
        text_warnings = {prompt: f.warnings for prompt, f in feats.items()}
        return assemble_takes(self, rows, latents, checked, cancelled, text_warnings, {"text_s": t_text, "sample_s": t_sample, "capture_s": t_capture})
