"""The take decode on CUDA replayed from captured graphs: `decode_batched(..., smooth=True)`, exact.

Decoding one clip launches a few hundred small kernels (the trace-normalised squarings of
`top_eigenvector`, one FK step per tree level, the rot6d / quaternion conversions), so the eager
decode is bound by Python launching them: 6.4 ms for one 5 s clip on an H200 against ~1 ms per
clip at batch 8. Each (batch, frames) shape is captured once and then replayed:

  graph 1  static latent -> denormalised latent
  copy     its root translation -> pinned CPU memory (non-blocking), then an event
  graph 2  rotation smoothing, FK, each frame's lowest vertex (`model.decode.pose_latent`)
  CPU      waits for the event only and runs scipy's Savitzky-Golay filter on the translation
           (`savgol_translation`, as the eager decode) while the device runs graph 2; the result
           goes back up from pinned memory
  eager    `model.decode.ground_align`: a few small ops that need the smoothed translation

The graphs run the same functions on the same inputs as the eager decode, so a replay is bit
for bit the eager `decode_batched` on the same device. Without capture (`capture=False`) the same
stages run as plain calls: that is what the CPU tests check the staging with.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from motionbridge.daemon.engine.compile.graphs import GraphCache, UseCounts, capturing
from motionbridge.daemon.engine.fast.decode import LevelBody, decode_batched, savgol_translation, smooth_rotations
from motionbridge.daemon.model.decode import (
    DecodedMotion,
    PosedLatent,
    denormalize,
    gaussian_taps,
    ground_align,
    pose_latent,
    root_translation,
)


class DecodeStages:
    """The static buffers and the two graphs of one latent shape (no graphs without a pool)."""

    def __init__(self, decoder: GraphedDecoder, latent: Tensor, pool) -> None:
        self.decoder = decoder
        batch, frames = latent.shape[:2]
        # float32 like `decode_latent`'s latent.float(); copy_ converts as .float() does
        self.latent = torch.empty(latent.shape, dtype=torch.float32, device=decoder.device)
        self.latent.copy_(latent)  # the warm-up decodes real data
        cuda = decoder.device.type == "cuda"
        self.transl_host = torch.empty(batch, frames, 3, pin_memory=cuda)
        self.smoothed_host = torch.empty(batch, frames, 3, pin_memory=cuda)
        self.transl_copied = torch.cuda.Event() if cuda else None
        self.smoothed_uploaded = torch.cuda.Event() if cuda else None
        self.graphs: tuple[torch.cuda.CUDAGraph, torch.cuda.CUDAGraph] | None = None
        self.denorm: Tensor
        self.posed: PosedLatent
        if pool is not None:
            self._capture(pool)

    def _denormalize(self) -> None:
        self.denorm = denormalize(self.latent, self.decoder.mean, self.decoder.std)

    def _pose(self) -> None:
        self.posed = pose_latent(self.denorm, self.decoder.body, self.decoder.smooth_rot)

    def _capture(self, pool) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside capture (lazy inits: cuBLAS handles, workspaces)
            for _ in range(2):
                self._denormalize()
                self._pose()
        torch.cuda.current_stream().wait_stream(side)
        del self.denorm, self.posed
        self.graphs = (torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph())
        with capturing(self.graphs[0], pool):
            self._denormalize()
        with capturing(self.graphs[1], pool):  # reads graph 1's output, kept alive in self.denorm
            self._pose()

    def _run(self, stage: int) -> None:
        if self.graphs is not None:
            self.graphs[stage].replay()
        else:
            (self._denormalize, self._pose)[stage]()

    def decode(self, latent: Tensor) -> DecodedMotion:
        if self.smoothed_uploaded is not None:
            self.smoothed_uploaded.synchronize()  # the last upload has left smoothed_host
        self.latent.copy_(latent)
        self._run(0)
        self.transl_host.copy_(root_translation(self.denorm), non_blocking=True)
        if self.transl_copied is not None:
            self.transl_copied.record()
        self._run(1)  # queued before the host blocks: the device poses the body while scipy runs
        if self.transl_copied is not None:
            self.transl_copied.synchronize()
        self.smoothed_host.numpy()[...] = savgol_translation(self.transl_host.numpy())
        transl = self.smoothed_host.to(self.decoder.device, non_blocking=True)
        if self.smoothed_uploaded is not None:
            self.smoothed_uploaded.record()
        # the next replay overwrites the static outputs: what the DecodedMotion keeps is cloned;
        # joints and lowest_vertex_y are only read by ground_align, queued before that replay
        p = self.posed
        posed = PosedLatent(self.denorm.clone(), p.rot6d.clone(), p.rotation_matrices.clone(), p.joints, p.lowest_vertex_y)
        return ground_align(posed, transl)


class GraphedDecoder:
    """`decode_batched(latent, mean, std, body)` (smooth=True) for latents (B, L, 201) on
    `device`, replayed from CUDA graphs per shape (least recently used dropped beyond
    `capacity`). `capture=False`: the same stages without graphs, on any device.
    Batches of more than `max_graph_frames` frames (B * L) decode eagerly: they are bound by
    the GPU, not by launches, and a graph's pool would keep their (frames, vertices) float64
    heights reserved (about 0.6 GB at the default 8 x 360 frames).
    A shape is staged and captured on its `capture_on_use`-th decode; before that its stages
    run uncaptured, with the same result. Takes are decoded at their exact length, so a mixed
    stream meets a new (seeds, frames) shape on most requests, where a capture (a warm-up and
    two graphs) would not pay back. (The ~150 ms "decode" of sessions 10 and 11's mixed runs on
    an H100 was the sampling loop still running on the device when the decode's first sync
    waited for it; the engine now synchronises before it stops the sampling clock.)"""

    def __init__(
        self, mean: Tensor, std: Tensor, body: LevelBody, device: torch.device | str,
        capture: bool = True, capacity: int = 16, max_graph_frames: int = 8 * 360, capture_on_use: int = 2,
    ) -> None:
        self.device = torch.device(device)
        self.max_graph_frames = max_graph_frames
        self.capture_on_use = capture_on_use
        self._uses = UseCounts()  # decodes per shape not staged yet
        if capture and self.device.type != "cuda":
            raise ValueError("capturing the decode needs a CUDA device; pass capture=False on the CPU")
        # on the device once: nothing in a captured region may copy from the CPU
        self.mean, self.std = mean.to(self.device), std.to(self.device)
        self.body = body
        self.smooth_rot = functools.partial(smooth_rotations, taps=gaussian_taps().to(self.device))
        self.cache = GraphCache(capacity, torch.cuda.graph_pool_handle if capture else lambda: None)

    @torch.no_grad()
    def __call__(self, latent: Tensor) -> DecodedMotion:
        key = ("decode", *latent.shape)
        if latent.shape[0] * latent.shape[1] > self.max_graph_frames or not self._worth_staging(key):
            return decode_batched(latent.to(self.device), self.mean, self.std, self.body)
        stages = self.cache.get(key, lambda pool: DecodeStages(self, latent, pool))
        if stages is None:  # a compile holds the GPU's turns: the same stages, not captured
            stages = DecodeStages(self, latent, None)
        return stages.decode(latent)

    def _worth_staging(self, key: tuple) -> bool:
        """Counts a use of a shape not staged yet; True from its `capture_on_use`-th use on."""
        if key in self.cache.entries:
            return True
        return self._uses.count(key) >= self.capture_on_use

    def clear(self) -> None:
        """Drop the captured graphs and their memory pool (after a CUDA OOM)."""
        self.cache.clear()
