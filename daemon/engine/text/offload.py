"""Low-VRAM mode: the LLM's decoder layers stay in (pinned) CPU memory and visit the GPU one
at a time during a forward; the embedding table stays on the CPU (a row lookup).

Peak GPU use for the text encoder is then one decoder layer plus activations instead of the
whole 16 GB Qwen3-8B, which lets the 1.0B pipeline fit in 12 GiB.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LayerStreamer:
    def __init__(self, llm: nn.Module, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.llm = llm
        llm.to("cpu")
        pin = self.device.type == "cuda"
        for layer in llm.layers:
            for p in layer.parameters():
                p.data = p.data.pin_memory() if pin else p.data
        for name, module in llm.named_children():
            if name not in ("layers", "embed_tokens"):
                module.to(self.device)  # final norm, rotary tables: small
        self._cpu: dict[int, Tensor] = {}
        for layer in llm.layers:
            layer.register_forward_pre_hook(self._arrive)
            layer.register_forward_hook(self._leave)

    def embed(self, ids: Tensor) -> Tensor:
        return self.llm.embed_tokens(ids.cpu()).to(self.device, non_blocking=True)

    def _arrive(self, layer: nn.Module, args) -> None:
        for p in layer.parameters():
            self._cpu[id(p)] = p.data
            p.data = p.data.to(self.device, non_blocking=True)

    def _leave(self, layer: nn.Module, args, output) -> None:
        for p in layer.parameters():
            p.data = self._cpu.pop(id(p))
