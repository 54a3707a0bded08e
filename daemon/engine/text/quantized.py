"""Low-VRAM mode's resident Qwen3: weight-only 8-bit (or 4-bit) weights on the device.

Streaming the bf16 decoder layers from CPU memory (offload.py) costs a full PCIe copy of the
16 GB Qwen3-8B per new prompt (444 ms on an H100). Here the weights stay on the device,
quantised symmetrically, and each matmul dequantises on the fly, in plain torch (no
bitsandbytes, no torch.ao, no `torch._int_mm`), so the same code runs on the CPU and CUDA and
inside the static path's CUDA graphs:

- `int8`: every linear layer's weight as int8 with one float32 scale per output channel
  (absmax / 127). Because the scale is per output row, y = x W^T = (x q^T) * scale: the
  matmul runs on the int8 values cast to the activation dtype (exact: |q| <= 127 fits bf16's
  mantissa) and the scale multiplies the output.
- `int4`: two weights per byte, one bf16 scale per group of 64 input columns (absmax / 7);
  the weight is rebuilt in the activation dtype per call (one layer's worth of memory).
- the token embedding table in both: int8 with one scale per row (a row lookup, then a scale).
Norms, rotary tables and biases stay in the model dtype. Features deviate from bf16 by the
measured bound in `tests/daemon/engine/text/test_quantized.py` (and `motionbridge bench` on
the GPU); the text cache keys on the weight format, so they never mix with bf16 features.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOW_VRAM_TEXT = ("int8", "int4", "stream")  # how low-VRAM mode keeps Qwen3; stream: offload.py
DEFAULT_LOW_VRAM_TEXT = "int8"
BITS = {"int8": 8, "int4": 4}
INT4_GROUP = 64


def quantize_rows(weight: Tensor, bits: int, group: int = INT4_GROUP) -> tuple[Tensor, Tensor]:
    """(q, scale): int8 with one float32 scale per row; int4 packed two per uint8 byte with one
    bf16 scale per `group` columns of each row. Symmetric, round to nearest; an all-zero row gets scale 1."""
    w = weight.detach().float()
    # scales as a product with a float32 constant, which rounds the same on every device: CUDA
    # divides by a Python scalar through its reciprocal, so `amax / 127` could differ from the
    # CPU's in the last bit and move weights at a rounding tie to the next integer (an H100's
    # int8 features were 1.6e-3 off the CPU's until this)
    if bits == 8:
        scale = w.abs().amax(dim=1) * (1.0 / 127.0)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        return torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8), scale
    if bits != 4:
        raise ValueError(f"weights can be 8- or 4-bit, not {bits}")
    rows, cols = w.shape
    if cols % group or group % 2:
        raise ValueError(f"int4 needs the input width ({cols}) to be a multiple of the group ({group})")
    g = w.view(rows, cols // group, group)
    scale = g.abs().amax(dim=2) * (1.0 / 7.0)
    # bf16 scales (a 32nd of the weights' bytes, not a 16th); the values are rounded with them
    scale = torch.where(scale > 0, scale, torch.ones_like(scale)).to(torch.bfloat16)
    q = (torch.round(g / scale.float()[..., None]).clamp_(-7, 7) + 8).to(torch.uint8).view(rows, cols)
    return q[:, 0::2] | (q[:, 1::2] << 4), scale


def unpack_int4(packed: Tensor) -> Tensor:
    """uint8 (rows, cols / 2) -> int8 (rows, cols) in -7..7."""
    lo = (packed & 0x0F).to(torch.int8) - 8
    hi = (packed >> 4).to(torch.int8) - 8
    return torch.stack((lo, hi), dim=-1).flatten(-2)


class QuantizedLinear(nn.Module):
    """A linear layer whose weight is int8 (per output channel) or int4 (per group of columns)."""

    def __init__(self, qweight: Tensor, scale: Tensor, bias: Tensor | None, in_features: int, bits: int) -> None:
        super().__init__()
        self.in_features, self.out_features, self.bits = in_features, qweight.shape[0], bits
        self.register_buffer("qweight", qweight)
        self.register_buffer("scale", scale)
        self.bias = None if bias is None else nn.Parameter(bias.detach(), requires_grad=False)

    @classmethod
    def from_linear(cls, linear: nn.Linear, bits: int, device: torch.device) -> QuantizedLinear:
        q, scale = quantize_rows(linear.weight.to(device), bits)
        bias = None if linear.bias is None else linear.bias.to(device)
        return cls(q, scale, bias, linear.in_features, bits)

    def dequantized(self, dtype: torch.dtype) -> Tensor:
        """The weight as the matmul sees it (tests; the int4 forward)."""
        if self.bits == 8:
            return self.qweight.to(dtype) * self.scale[:, None].to(dtype)
        q = unpack_int4(self.qweight).view(self.out_features, -1, INT4_GROUP)
        return (q.to(dtype) * self.scale[..., None].to(dtype)).view(self.out_features, self.in_features)

    def forward(self, x: Tensor) -> Tensor:
        if self.bits == 8:
            y = F.linear(x, self.qweight.to(x.dtype)) * self.scale.to(x.dtype)
        else:
            y = F.linear(x, self.dequantized(x.dtype))
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}"


class QuantizedEmbedding(nn.Module):
    """The token table as int8 rows with one scale each; looks up like nn.Embedding."""

    def __init__(self, embedding: nn.Embedding, device: torch.device) -> None:
        super().__init__()
        self.dtype = embedding.weight.dtype
        self.num_embeddings, self.embedding_dim = embedding.weight.shape
        q, scale = quantize_rows(embedding.weight.to(device), 8)
        self.register_buffer("qweight", q)
        self.register_buffer("scale", scale)

    def forward(self, ids: Tensor) -> Tensor:
        return F.embedding(ids, self.qweight).to(self.dtype) * F.embedding(ids, self.scale[:, None]).to(self.dtype)


def _linears(module: nn.Module) -> Iterator[tuple[nn.Module, str, nn.Linear]]:
    for parent in module.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Linear:
                yield parent, name, child


@torch.no_grad()
def quantize_qwen(llm: nn.Module, text: str, device: torch.device | str) -> dict:
    """Replaces `llm`'s decoder linears and token table in place with quantised copies on
    `device` (one layer at a time: the device never holds a bf16 layer beyond the one being
    quantised), moves the rest (norms, rotary tables) there. Returns the weight bytes."""
    if text not in BITS:
        raise ValueError(f"unknown quantised text format {text!r}; pass one of {', '.join(BITS)}")
    device = torch.device(device)
    bits = BITS[text]
    # names only: each bf16 linear is freed as soon as its quantised copy replaces it
    for parent, name in [(parent, name) for parent, name, _ in _linears(llm.layers)]:
        setattr(parent, name, QuantizedLinear.from_linear(getattr(parent, name), bits, device))
    llm.embed_tokens = QuantizedEmbedding(llm.embed_tokens, device)
    llm.to(device)  # norms and rotary buffers; the quantised buffers are there already
    quant = sum(b.numel() * b.element_size() for m in llm.modules() if isinstance(m, (QuantizedLinear, QuantizedEmbedding))
                for b in (m.qweight, m.scale))
    other = sum(p.numel() * p.element_size() for p in llm.parameters())
    return {"format": text, "quantized_bytes": quant, "other_bytes": other}
