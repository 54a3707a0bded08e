"""Our implementation of HY-Motion's `HunyuanMotionMMDiT` and the flow model around it.

`MotionDiT` has exactly the official `motion_transformer.*` keys; `MotionFlowModel` adds the
pipeline-level parameters (null / game features, mean / std) so that one state dict equals
the official `latest.ckpt["model_state_dict"]`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .blocks import DoubleStreamBlock, SingleStreamBlock
from .config import NetworkConfig
from .layers import FinalLayer, MLPEncoder, TimestepEncoder, rope_tables
from .refiner import TokenRefiner

NEG_INF = float("-inf")


def joint_attention_mask(
    motion_valid: Tensor, text_valid: Tensor, band: int | None, causal: bool = False
) -> Tensor:
    """Additive (B, 1, T, T) mask over [motion, text] tokens, shared by every block.

    Motion->motion within the band (|i-j| <= band), invalid keys blocked for every query,
    text queries never see motion. `band=None` with causal False means no motion band.
    """
    b, lm = motion_valid.shape
    lt = text_valid.shape[1]
    device = motion_valid.device
    allowed = torch.cat((motion_valid, text_valid), dim=1)[:, None, None, :].expand(b, 1, lm + lt, lm + lt).clone()
    idx = torch.arange(lm, device=device)
    if band is not None:
        near = (idx[None, :] - idx[:, None]).abs() <= band
        allowed[:, :, :lm, :lm] &= near
    elif causal:
        allowed[:, :, :lm, :lm] &= idx[None, :] <= idx[:, None]
    allowed[:, :, lm:, :lm] = False
    zero = torch.zeros((), device=device)
    return torch.where(allowed, zero, torch.full((), NEG_INF, device=device))


class MotionDiT(nn.Module):
    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.feat_dim
        self.input_encoder = nn.Linear(cfg.input_dim, d)
        self.ctxt_encoder = nn.Linear(cfg.ctxt_input_dim, d)
        self.vtxt_encoder = MLPEncoder(cfg.vtxt_input_dim, d, "silu")
        self.timestep_encoder = TimestepEncoder(d, "silu", time_factor=cfg.time_factor)
        self.text_refiner = TokenRefiner(d, cfg.num_heads, cfg.text_refiner.num_layers)
        self.double_blocks = nn.ModuleList(DoubleStreamBlock(cfg) for _ in range(cfg.num_double_blocks))
        self.single_blocks = nn.ModuleList(SingleStreamBlock(cfg) for _ in range(cfg.num_single_blocks))
        self.final_layer = FinalLayer(d, cfg.out_dim, cfg.final_layer_act)

    def rope(self, motion_len: int, text_len: int, text_offset: int | None, device: torch.device) -> tuple[Tensor, Tensor]:
        """Motion tokens at 0..L-1, text tokens at text_offset.. (the official code puts them
        right after the 360-frame latent, so a trimmed latent must pass text_offset=360)."""
        offset = motion_len if text_offset is None else text_offset
        positions = torch.cat((torch.arange(motion_len), offset + torch.arange(text_len))).to(device)
        cos, sin = rope_tables(positions, self.cfg.head_dim)
        if self.cfg.apply_rope_to_single_branch:  # text tokens unrotated: cos 1, sin 0 is exact
            cos[motion_len:] = 1.0
            sin[motion_len:] = 0.0
        return cos, sin

    def mask(self, motion_valid: Tensor, text_valid: Tensor) -> Tensor:
        band = self.cfg.narrowband_frames if self.cfg.mask_mode == "narrowband" else None
        return joint_attention_mask(motion_valid, text_valid, band, causal=self.cfg.mask_mode == "causal")

    def forward(
        self,
        x: Tensor,
        ctxt: Tensor,
        vtxt: Tensor,
        timesteps: Tensor,
        x_mask: Tensor,
        ctxt_mask: Tensor,
        *,
        text_rope_offset: int | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        attn_mask: Tensor | None = None,
        capture: dict[str, Tensor] | None = None,
        fused_modulation: bool = False,
        mods: list[Tensor] | None = None,
        refined_text: Tensor | None = None,
    ) -> Tensor:
        """x (B, L, input_dim), ctxt (B, Lt, ctxt_dim), vtxt (B, 1, vtxt_dim), timesteps (B,),
        masks bool (B, L) / (B, Lt). `rope`/`attn_mask` may be passed precomputed.
        `fused_modulation` computes every block's modulation in one matmul (float rounding only);
        `mods` passes them precomputed (one row of `modulation_table`), which skips the adapter;
        `refined_text` the text tokens after the refiner (one row of `refined_text_table`)."""
        motion = self.input_encoder(x)
        adapter = None
        if mods is None or capture is not None:
            timestep_feat = self.timestep_encoder(timesteps)
            vtxt_feat = self.vtxt_encoder(vtxt.float())
            adapter = timestep_feat + vtxt_feat
            if capture is not None:
                capture.update(timestep_feat=timestep_feat, vtxt_feat=vtxt_feat, adapter=adapter)
        if refined_text is None or capture is not None:
            text = self.text_refiner(self.ctxt_encoder(ctxt.float()), timesteps, ctxt_mask)
        else:
            text = refined_text
        lm, lt = motion.shape[1], text.shape[1]
        if rope is None:
            rope = self.rope(lm, lt, text_rope_offset, x.device)
        if attn_mask is None:
            attn_mask = self.mask(x_mask, ctxt_mask)
        attn_mask = attn_mask.to(motion.dtype)
        if capture is not None:
            capture.update(ctxt_refined=text)
        if mods is None and fused_modulation:
            mods = self.all_modulations(adapter)
        for i, block in enumerate(self.double_blocks):
            motion, text = block(motion, text, adapter, attn_mask, rope, None if mods is None else (mods[2 * i], mods[2 * i + 1]))
            if capture is not None and i == 0:
                capture.update(double0_motion=motion, double0_text=text)
        base = 2 * len(self.double_blocks)
        return self.single_stack(
            torch.cat((motion, text), 1), adapter, attn_mask, rope, lm,
            None if mods is None else mods[base:-1], None if mods is None else mods[-1],
        )

    def single_stack(self, h: Tensor, adapter: Tensor | None, attn_mask: Tensor, rope: tuple[Tensor, Tensor], motion_len: int,
                     single_mods: list[Tensor] | None, final_mods: Tensor | None) -> Tensor:
        """The single-stream blocks and the final layer: one unit, so that it can be compiled
        as one graph (device_tables.compile_blocks, scope 'stack')."""
        for i, block in enumerate(self.single_blocks):
            h = block(h, adapter, attn_mask, rope, None if single_mods is None else single_mods[i])
        return self.final_layer(h[:, :motion_len], adapter, final_mods)

    def _modulation_linears(self) -> list[nn.Linear]:
        linears: list[nn.Linear] = []
        for double in self.double_blocks:
            assert isinstance(double, DoubleStreamBlock)
            linears += [double.motion_mod.linear, double.text_mod.linear]
        for single in self.single_blocks:
            assert isinstance(single, SingleStreamBlock)
            linears.append(single.modulation.linear)
        return linears + [self.final_layer.adaLN_modulation.linear]

    def all_modulations(self, adapter: Tensor) -> list[Tensor]:
        """Every block's modulation from the shared adapter in one matmul: all of them are
        Linear(SiLU(adapter)), so their weights stack. The stacked copy is cached."""
        return list(self._stacked_modulation(adapter).split(self._fused_sizes, dim=-1))

    def _stacked_modulation(self, adapter: Tensor) -> Tensor:
        linears = self._modulation_linears()
        key = tuple(lin.weight.data_ptr() for lin in linears) + (adapter.device.type,)
        if getattr(self, "_fused_key", None) != key:
            self._fused_weight = torch.cat([lin.weight for lin in linears], 0)
            self._fused_bias = torch.cat([lin.bias for lin in linears], 0)
            self._fused_sizes = [lin.out_features for lin in linears]
            self._fused_key = key
        return torch.nn.functional.linear(torch.nn.functional.silu(adapter), self._fused_weight, self._fused_bias)

    def modulation_table(self, timesteps: Tensor, vtxt: Tensor) -> Tensor:
        """Every block's modulation for every solver step at once: (S, B, 1, total) for the S
        step times and the batch's B pooled-text rows. The adapter depends only on (t, vtxt),
        both known before sampling, so one matmul with M = S*B replaces S matmuls with M = B
        that each re-read the stacked modulation weights (a quarter of the DiT's parameters)."""
        steps, rows = timesteps.shape[0], vtxt.shape[0]
        timestep_feat = self.timestep_encoder(timesteps)  # (S, 1, D)
        vtxt_feat = self.vtxt_encoder(vtxt.float())  # (B, 1, D)
        adapter = (timestep_feat[:, None] + vtxt_feat[None]).reshape(steps * rows, 1, -1)
        return self._stacked_modulation(adapter).reshape(steps, rows, 1, -1)

    def refined_text_table(self, timesteps: Tensor, ctxt: Tensor, ctxt_mask: Tensor) -> Tensor:
        """The text tokens after the context encoder and the token refiner for every solver
        step at once: (S, B, Lt, D). They depend on the step time and the prompt only, never
        on the motion latent, so the S refiner passes of M = B*Lt rows that the loop would run
        become one pass of S*B*Lt rows before it (the blocks are called uncompiled: one pass
        per request does not pay for compiling another shape)."""
        steps, rows = timesteps.shape[0], ctxt.shape[0]
        text = self.ctxt_encoder(ctxt.float()).repeat(steps, 1, 1)  # row s*B + b
        refined = self.text_refiner(text, timesteps.repeat_interleave(rows), ctxt_mask.repeat(steps, 1), eager_blocks=True)
        return refined.reshape(steps, rows, *refined.shape[1:])

    def split_modulations(self, row: Tensor) -> list[Tensor]:
        """One step of `modulation_table` (B, 1, total) -> the per-block views `forward` takes."""
        if getattr(self, "_fused_sizes", None) is None:
            self._fused_sizes = [lin.out_features for lin in self._modulation_linears()]
        return list(row.split(self._fused_sizes, dim=-1))


class MotionFlowModel(nn.Module):
    """The checkpoint's module tree: the DiT plus guidance features and latent statistics."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.motion_transformer = MotionDiT(cfg)
        self.null_vtxt_feat = nn.Parameter(torch.zeros(1, 1, cfg.vtxt_input_dim))
        self.null_ctxt_input = nn.Parameter(torch.zeros(1, 1, cfg.ctxt_input_dim))
        self.special_game_vtxt_feat = nn.Parameter(torch.zeros(1, 1, cfg.vtxt_input_dim))
        self.special_game_ctxt_feat = nn.Parameter(torch.zeros(1, 1, cfg.ctxt_input_dim))
        self.register_buffer("mean", torch.zeros(cfg.input_dim))
        self.register_buffer("std", torch.ones(cfg.input_dim))


def build_on_meta(cfg: NetworkConfig) -> MotionFlowModel:
    """No memory, no random init: weights come from the checkpoint (loading.py)."""
    with torch.device("meta"):
        return MotionFlowModel(cfg)
