"""Device-side preparation of the DiT: timestep tables on the device, optional block compile.

Keep the timestep-embedding frequencies on the device.

The reference `sinusoidal_embedding` rebuilds its frequency table on the CPU and copies it to
the device on every call (three times per DiT call); that copy also forbids CUDA-graph capture.
Here each TimestepEncoder gets the same table, computed once by the same CPU expression (so the
values are bit-identical) and stored on the device.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import torch
from torch import Tensor, nn

from motionbridge.daemon.model.layers import TimestepEncoder
from motionbridge.daemon.model.mmdit import MotionDiT


def _frequencies(dim: int, temperature: float = 10000.0) -> Tensor:
    half = dim // 2
    return torch.exp(-torch.log(torch.tensor(temperature)) * torch.arange(half, dtype=torch.float) / half)


def _forward(self: TimestepEncoder, t: Tensor) -> Tensor:
    args = (t * self.time_factor)[:, None].float() * self._freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if self.dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return self.blocks(emb).unsqueeze(1)


def tables_on_device(module: nn.Module, device: torch.device | str) -> int:
    """Patch every TimestepEncoder under `module`; returns how many were patched."""
    count = 0
    for sub in module.modules():
        if isinstance(sub, TimestepEncoder):
            sub._freqs = _frequencies(sub.dim).to(device)
            sub.forward = types.MethodType(_forward, sub)
            count += 1
    return count


def _padded_linear(lin: nn.Linear, in_pad: int, out_pad: int) -> nn.Linear:
    w = lin.weight
    out = nn.Linear(lin.in_features + in_pad, lin.out_features + out_pad, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        out.weight.zero_()
        out.weight[: lin.out_features, : lin.in_features] = w
        out.bias.zero_()
        out.bias[: lin.out_features] = lin.bias
    return out


def pad_projections(dit: MotionDiT, multiple: int = 8) -> tuple[int, int | None]:
    """Zero-pad the DiT's 201-wide input and output projections to a multiple of `multiple`.

    With K or N = 201, cuBLAS falls back to alignment-1 kernels: on the H200 the input and
    final linears took 11 and 13 us of a 2 ms step, against about 5 us each when aligned. The
    extra input columns meet zero weights and the extra output columns are cut off, so the
    result is the same sums (to the rounding of a different kernel). Returns the input padding
    (columns the caller appends to the latent) and the true output width (None if unpadded)."""
    enc, final = dit.input_encoder, dit.final_layer.linear
    in_pad, out_pad = -enc.in_features % multiple, -final.out_features % multiple
    if in_pad:
        dit.input_encoder = _padded_linear(enc, in_pad, 0)
    if out_pad:
        dit.final_layer.linear = _padded_linear(final, 0, out_pad)
    return in_pad, final.out_features if out_pad else None


COMPILE_SCOPES = ("blocks", "stack", "model")
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")


def compile_blocks(dit: nn.Module, dynamic: bool | None = False, scope: str = "blocks", mode: str = "default",
                   compile_fn: Callable | None = None) -> int:
    """torch.compile so that Inductor fuses the many small elementwise ops (modulation, norms,
    RoPE, gates) that dominate at these sizes. scope 'blocks' (regional): each transformer block
    is compiled once per block type, the blocks share code and their weights are graph inputs,
    so compiling is quick. 'stack': the same, except that the single-stream blocks and the final
    layer are one graph (fusing each block's residual add into the next block's norm), at a
    longer compile per shape. 'model': the whole forward as one graph, which also fuses across
    block boundaries (a residual add with the next block's norm and modulation) and the small
    ops around the blocks, at a longer compile per shape. mode 'max-autotune-no-cudagraphs'
    lets Inductor time Triton matmul templates against cuBLAS and fuse epilogues into them
    (minutes per new shape; the CUDA graphs stay ours). `dynamic` False: one static
    compile per bucket shape (5-20 s each, cached on disk by Inductor). torch's automatic mode
    (None) was measured on the H200 no better: the third shape still took 33 s and the step ran
    2 % slower.
    `compile_fn` (f -> compiled f) replaces torch.compile with these settings (tests inject
    one). Returns how many modules were compiled."""
    import torch._dynamo

    if scope not in COMPILE_SCOPES:
        raise ValueError(f"unknown compile scope {scope!r}; pass one of {', '.join(COMPILE_SCOPES)}")
    if mode not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {mode!r}; pass one of {', '.join(COMPILE_MODES)}")
    # every bucket shape is a cache entry of the same code (hundreds with the default buckets)
    torch._dynamo.config.cache_size_limit = max(1024, torch._dynamo.config.cache_size_limit)
    torch._dynamo.config.accumulated_cache_size_limit = max(4096, torch._dynamo.config.accumulated_cache_size_limit)
    if dynamic:
        # no "duck sizing": two sizes that happen to be equal on the first shape (a storage
        # offset and a width, both 7680 on the 1.0B) would be guarded equal and recompile on the
        # next shape (TORCH_LOGS=recompiles on an H100; session 9 results)
        import torch.fx.experimental._config as fx_config

        fx_config.use_duck_shape = False
    wrap = compile_fn or (lambda f: torch.compile(f, dynamic=dynamic, mode=mode))
    if scope == "model":
        dit._compiled_call_impl = wrap(dit._call_impl)  # what nn.Module.compile does
        return 1
    # double blocks split over two CUDA streams (fast/side_stream.py) were compiled in pieces instead
    doubles = [b for b in dit.double_blocks if not getattr(b, "two_streams", False)]
    singles = list(dit.single_blocks)
    if scope == "stack":  # the single blocks and the final layer as one graph
        dit.single_stack = wrap(dit.single_stack)
        singles = []
    blocks = [*doubles, *singles, *dit.text_refiner.individual_token_refiner.blocks, dit.input_encoder]
    if scope == "blocks":  # in 'stack' the final layer is part of the single stack
        blocks.append(dit.final_layer)
    for block in blocks:
        block._compiled_call_impl = wrap(block._call_impl)  # what nn.Module.compile does
    return len(blocks)
