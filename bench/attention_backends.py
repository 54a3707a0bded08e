"""Which attention kernel is fastest at HY-Motion's shapes (one CFG pair, a 5 s clip, joint
motion + text tokens, additive narrow-band mask)? A diagnostic for the fast engine."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from motionbridge.daemon.model.mmdit import joint_attention_mask


def time_us(fn, iters: int = 200) -> float:
    for _ in range(5):
        fn()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(20):
            fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    g.replay()
    start.record()
    for _ in range(iters // 20):
        g.replay()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) * 1000 / iters


def main() -> None:
    for heads, dim, frames, text, rows in ((20, 64, 150, 16, 2), (16, 64, 150, 16, 2), (20, 64, 300, 32, 2), (20, 64, 150, 16, 128)):
        q, k, v = (torch.randn(rows, heads, frames + text, dim, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        valid_m = torch.ones(rows, frames, dtype=torch.bool, device="cuda")
        valid_t = torch.ones(rows, text, dtype=torch.bool, device="cuda")
        mask = joint_attention_mask(valid_m, valid_t, 60).to(torch.bfloat16)
        ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask.float())
        line = f"rows {rows} heads {heads} tokens {frames}+{text}:"
        for name, backend in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION), ("math", SDPBackend.MATH)):
            try:
                with sdpa_kernel(backend):
                    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
                    us = time_us(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
                line += f" {name} {us:.2f} us (err {float((out.float() - ref).abs().max()):.1e});"
            except Exception as exc:  # a backend that refuses the mask or shape
                line += f" {name} n/a ({type(exc).__name__});"
        try:
            from torch.nn.attention.flex_attention import create_block_mask, flex_attention

            allowed = mask[:, 0] == 0

            def keep(b, h, qi, ki):
                return allowed[b, qi, ki]

            block = create_block_mask(keep, rows, None, frames + text, frames + text, device="cuda")
            flex = torch.compile(flex_attention, dynamic=False)
            out = flex(q, k, v, block_mask=block)
            us = time_us(lambda: flex(q, k, v, block_mask=block))
            line += f" flex {us:.2f} us (err {float((out.float() - ref).abs().max()):.1e})"
        except Exception as exc:
            line += f" flex n/a ({type(exc).__name__}: {str(exc)[:80]})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
