"""HY-Motion's text conditioning: Qwen3 hidden states (ctxt) and the CLIP-L pooled vector (vtxt).

Qwen sees a two-message chat (a fixed motion-summary system prompt, then the user prompt),
rendered with the tokenizer's chat template; the system part is cropped off the last hidden
state at `crop_start` (found by locating a `<BOC>` marker), leaving 128 token rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .hf_compat import dtype_kwarg, quiet_loading

log = logging.getLogger(__name__)

# The official instruction, byte for byte: it starts with a newline and four spaces.
SYSTEM_PROMPT = (
    "\n    Summarize human motion only from the user text for representation: action categories, "
    "key body-part movements, order/transitions, trajectory/direction, posture; include "
    "style/emotion/speed only if present. Explicitly capture laterality (left/right) when "
    "mentioned; do not guess. If multiple actions are described, indicate the count of distinct "
    "actions (e.g., actions=3) and their order. Do not invent missing info. Keep one concise "
    "paragraph.\n"
)
CROP_MARKER = "<BOC>"
CLIP_MAX_TOKENS = 77


class TextEncoderError(RuntimeError):
    """A text-encoder folder is missing or unreadable."""


@dataclass
class TextFeatures:
    vtxt: Tensor  # (B, 1, Dv) float32, CLIP pooled output
    ctxt: Tensor  # (B, max_length, Dc) float32 (values of the LLM dtype)
    ctxt_length: Tensor  # (B,) int64, valid rows of ctxt
    warnings: tuple[str, ...] = ()
    llm_input_ids: Tensor | None = None
    llm_attention_mask: Tensor | None = None
    clip_input_ids: Tensor | None = None
    clip_attention_mask: Tensor | None = None
    rendered: list[str] = field(default_factory=list)
    row_warnings: list[tuple[str, ...]] = field(default_factory=list)  # per prompt


def _chat(tokenizer, user: str) -> str:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False, enable_thinking=False)


def find_crop_start(tokenizer) -> int:
    """Index of the first token of the user text: where the `<BOC>` marker's tokens start."""
    ids = tokenizer(_chat(tokenizer, CROP_MARKER))["input_ids"]
    marker = tokenizer(CROP_MARKER, add_special_tokens=False)["input_ids"]
    for i in range(len(ids) - len(marker) + 1):
        if ids[i : i + len(marker)] == marker:
            return i
    return len(ids) - 1


def _check_dir(path: str | Path, what: str, hint: str) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise TextEncoderError(f"{what} not found at {path} (no config.json); {hint}")
    return path


class TextEncoder:
    """Both text models, loaded through transformers from local folders only."""

    def __init__(
        self,
        qwen_dir: str | Path,
        clip_dir: str | Path,
        max_length: int = 128,
        device: torch.device | str = "cpu",
        llm_dtype: torch.dtype = torch.bfloat16,
    ) -> None:
        from safetensors import SafetensorError
        from transformers import AutoModel, AutoTokenizer, CLIPTextModel, CLIPTokenizer

        hint = "run `motionbridge weights download` or pass --qwen/--clip"
        qwen_dir = _check_dir(qwen_dir, "Qwen3 text encoder", hint)
        clip_dir = _check_dir(clip_dir, "CLIP text encoder", hint)
        self.device = torch.device(device)
        self.max_length = max_length
        self.llm_dtype = llm_dtype
        self.qwen_dir = qwen_dir  # low-VRAM mode checks its safetensors headers before quantising
        try:
            with quiet_loading():  # 5.x: no load-report table or progress bars on the CLI
                self.llm_tokenizer = AutoTokenizer.from_pretrained(qwen_dir, local_files_only=True)
                # the base model is enough: the official code reads hidden_states[-1], the final-norm output
                self.llm = AutoModel.from_pretrained(
                    qwen_dir, local_files_only=True, use_safetensors=True, attn_implementation="sdpa", **{dtype_kwarg(): llm_dtype}
                ).to(self.device).eval().requires_grad_(False)
                self.clip_tokenizer = CLIPTokenizer.from_pretrained(clip_dir, local_files_only=True)
                self.clip = CLIPTextModel.from_pretrained(
                    clip_dir, local_files_only=True, attn_implementation="sdpa"
                ).to(self.device).eval().requires_grad_(False)
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
            # a truncated file, or tensors of other shapes than config.json: one line, not the table
            from .qwen_checkpoint import mismatch

            detail = mismatch(qwen_dir) or " ".join(str(exc).split())[:300]
            raise TextEncoderError(f"cannot load text encoders from {qwen_dir} / {clip_dir}: {detail}; {hint}") from None
        self.crop_start = find_crop_start(self.llm_tokenizer)
        self.llm_max_tokens = self.crop_start + max_length

    @classmethod
    def from_modules(cls, llm_tokenizer, llm, clip_tokenizer, clip, max_length: int, device: torch.device | str) -> TextEncoder:
        """Over text models already loaded (the fast engine's), sharing their weights: the exact
        reference encoding without a second copy in memory."""
        self = cls.__new__(cls)
        self.device, self.max_length, self.qwen_dir = torch.device(device), max_length, None
        self.llm_dtype = next(llm.parameters()).dtype
        self.llm_tokenizer, self.llm, self.clip_tokenizer, self.clip = llm_tokenizer, llm, clip_tokenizer, clip
        self.crop_start = find_crop_start(llm_tokenizer)
        self.llm_max_tokens = self.crop_start + max_length
        return self

    @property
    def ctxt_dim(self) -> int:
        return int(self.llm.config.hidden_size)

    @property
    def vtxt_dim(self) -> int:
        return int(self.clip.config.hidden_size)

    def tokenize_llm(self, prompts: Sequence[str]) -> tuple[dict[str, Tensor], list[str], list[tuple[str, ...]]]:
        rendered = [_chat(self.llm_tokenizer, p) for p in prompts]
        warnings: list[tuple[str, ...]] = []
        for p, text in zip(prompts, rendered):
            n = len(self.llm_tokenizer(text)["input_ids"])
            row: tuple[str, ...] = ()
            if n > self.llm_max_tokens:
                row = (f"prompt is {n - self.crop_start} tokens, over the model's {self.max_length}; the end was cut off: {p[:40]!r}...",)
                log.warning(row[0])
            warnings.append(row)
        enc = self.llm_tokenizer(
            rendered, truncation=True, padding="max_length", max_length=self.llm_max_tokens, return_tensors="pt"
        )
        return dict(enc), rendered, warnings

    def tokenize_clip(self, prompts: Sequence[str]) -> dict[str, Tensor]:
        return dict(self.clip_tokenizer(list(prompts), truncation=True, padding=True, max_length=CLIP_MAX_TOKENS, return_tensors="pt"))

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> TextFeatures:
        llm_in, rendered, row_warnings = self.tokenize_llm(prompts)
        warnings = tuple(dict.fromkeys(w for row in row_warnings for w in row))
        ids = llm_in["input_ids"].to(self.device)
        mask = llm_in["attention_mask"].to(self.device)
        hidden = self.llm(input_ids=ids, attention_mask=mask).last_hidden_state
        ctxt = hidden[:, self.crop_start : self.crop_start + self.max_length].float().contiguous()
        ctxt_length = (mask.sum(dim=-1) - self.crop_start).clamp(min=0, max=self.max_length).long()
        clip_in = self.tokenize_clip(prompts)
        cids = clip_in["input_ids"].to(self.device)
        cmask = clip_in["attention_mask"].to(self.device)
        vtxt = self.clip(input_ids=cids, attention_mask=cmask).pooler_output.unsqueeze(1).float()
        return TextFeatures(vtxt, ctxt, ctxt_length, warnings, ids, mask, cids, cmask, rendered, row_warnings)
