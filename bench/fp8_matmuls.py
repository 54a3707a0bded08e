"""FP8 vs bf16 for the DiT blocks' linears at the shapes of one 5 s clip: why the engine has
no FP8 mode (results/2026-11-21-h200-fp8.json; bench/README.md).

The FP8 linear tried here: weights quantised to e4m3 once per output channel, activations per
token at run time (amax / 448), `torch._scaled_mm` with both float32 scales and a bf16 result.
For each (model, linear) shape and token count M: bf16 `F.linear` with bias (what autocast
runs), `_scaled_mm` on pre-quantised operands (the FP8 kernel alone), and the compiled
`Float8Linear` (quantisation + kernel + bias), each timed as a CUDA-graph replay of 20 calls.
Also the error of each against a float32 product.
Run on the device: python3 bench/fp8_matmuls.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from torch import nn

E4M3 = torch.float8_e4m3fn
E4M3_MAX = float(torch.finfo(E4M3).max)  # 448


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, K) -> (e4m3 (M, K), float32 scales (M, 1)) with x ~ q * scale row by row."""
    xf = x.float()
    scale = xf.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / E4M3_MAX
    return (xf / scale).clamp(-E4M3_MAX, E4M3_MAX).to(E4M3), scale


class Float8Linear(nn.Module):
    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight, scale = quantize_rows(linear.weight.detach())
        self.register_buffer("weight", weight)  # (N, K) row-major: weight.t() is the column-major operand
        self.register_buffer("weight_scale", scale.reshape(1, -1))
        self.register_buffer("bias", linear.bias.detach().to(torch.bfloat16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, scale = quantize_rows(x.reshape(-1, self.in_features))
        out = torch._scaled_mm(q, self.weight.t(), scale_a=scale, scale_b=self.weight_scale, out_dtype=torch.bfloat16)
        return (out + self.bias).reshape(*x.shape[:-1], self.out_features)

# (in, out) of the block linears: qkv, out_proj, fc1, fc2 (double); linear1, linear2 (single)
SHAPES = {
    "1.0": {"qkv": (1280, 3840), "out_proj": (1280, 1280), "fc1": (1280, 5120), "fc2": (5120, 1280), "linear1": (1280, 8960), "linear2": (6400, 1280)},
    "lite": {"qkv": (1024, 3072), "out_proj": (1024, 1024), "fc1": (1024, 4096), "fc2": (4096, 1024), "linear1": (1024, 7168), "linear2": (5120, 1024)},
}
# motion rows of a 5 s clip with CFG (2 x 150), joint rows (2 x 166), 2 s (2 x 76), batch 8 (16 x 166)
TOKENS = (300, 332, 152, 2656)


def graph_us(fn, calls: int = 20, repeats: int = 5) -> float:
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(calls):
            fn()
    best = float("inf")
    for _ in range(repeats):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        torch.cuda.synchronize()
        best = min(best, a.elapsed_time(b) * 1000 / calls)
    return round(best, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    rows = []
    for model, shapes in SHAPES.items():
        for name, (k, n) in shapes.items():
            lin = nn.Linear(k, n, device="cuda")
            with torch.no_grad():
                lin.weight.normal_(std=0.02)
                lin.bias.normal_(std=0.02)
            w16, b16 = lin.weight.to(torch.bfloat16), lin.bias.to(torch.bfloat16)
            f8 = Float8Linear(lin)
            f8c = torch.compile(f8, dynamic=False)
            for m in TOKENS:
                x = torch.randn(m, k, device="cuda")
                x16 = x.to(torch.bfloat16)
                q, s = quantize_rows(x16)
                ref = lin(x)
                out16 = F.linear(x16, w16, b16)
                out8 = f8c(x16)
                t16 = graph_us(lambda: F.linear(x16, w16, b16))
                t8_kernel = graph_us(lambda: torch._scaled_mm(q, f8.weight.t(), scale_a=s, scale_b=f8.weight_scale, out_dtype=torch.bfloat16))
                t8 = graph_us(lambda: f8c(x16))
                flop = 2 * m * k * n
                row = {
                    "model": model, "linear": name, "M": m, "K": k, "N": n,
                    "bf16_us": t16, "fp8_kernel_us": t8_kernel, "fp8_linear_us": t8,
                    "speedup_kernel": round(t16 / t8_kernel, 2), "speedup_linear": round(t16 / t8, 2),
                    "bf16_tflops": round(flop / t16 / 1e6, 1), "fp8_kernel_tflops": round(flop / t8_kernel / 1e6, 1),
                    "rel_err_bf16": round(float((out16.float() - ref).norm() / ref.norm()), 5),
                    "rel_err_fp8": round(float((out8.float() - ref).norm() / ref.norm()), 5),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    for model in SHAPES:
        for m in TOKENS:
            sel = [r for r in rows if r["model"] == model and r["M"] == m]
            a, b, c = (sum(r[key] for r in sel) for key in ("bf16_us", "fp8_kernel_us", "fp8_linear_us"))
            print(f"{model} M={m}: one of each linear bf16 {a:.1f} us, fp8 kernels {b:.1f} us, fp8 linears {c:.1f} us ({a / c:.2f}x)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
