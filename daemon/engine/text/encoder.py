"""Text conditioning for the fast engine: prefix KV-cache, trimming, optional layer streaming.

Same features as `model.text_encoder.TextEncoder.encode` (README items 1-4), computed faster:
- the chat-template prefix (system prompt up to the user text, `crop_start` tokens) is the
  same for every prompt, and Qwen is causal, so its keys/values are computed once and reused;
- the user part is padded only to the longest prompt of the batch instead of 128 tokens (pad
  tokens come after the valid ones, so causal attention never lets them change valid rows);
- in low-VRAM mode Qwen3 stays on the device with weight-only int8 (or int4) weights
  (text/quantized.py, the default), or its bf16 decoder layers live in pinned CPU memory and
  are streamed to the GPU one at a time (text/offload.py);
- with `static_graphs` (not with streaming) both encoders run at static shapes: our own Qwen3
  forward over the user tokens after the cached prefix, bucketed, and CLIP at 77 tokens,
  captured as CUDA graphs on a CUDA device, eager elsewhere (text/graphs.py).
Returns per prompt the valid ctxt rows and the pooled CLIP vector.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from motionbridge.daemon.engine.text.cache import CachedText
from motionbridge.daemon.engine.text.qwen_static import bucket_up
from motionbridge.daemon.model.hf_compat import cache_kwarg, cache_layers, make_cache, returned_cache
from motionbridge.daemon.model.text_encoder import CLIP_MAX_TOKENS, _chat, find_crop_start

log = logging.getLogger(__name__)


def encoder_identity(*folders: str | Path) -> str:
    """Cheap digest of text-encoder folders: configs in full, weight files by name, size and
    their first and last MiB (hashing 16 GB at every start would cost more than it saves)."""
    h = hashlib.sha256()
    for folder in folders:
        folder = Path(folder)
        for path in sorted(folder.iterdir()):
            if path.suffix == ".json":
                h.update(path.name.encode() + path.read_bytes())
            elif path.suffix in (".safetensors", ".bin"):
                size = path.stat().st_size
                h.update(f"{path.name}:{size}".encode())
                with path.open("rb") as f:
                    h.update(f.read(1 << 20))
                    f.seek(max(0, size - (1 << 20)))
                    h.update(f.read(1 << 20))
    return h.hexdigest()[:32]


class FastTextEncoder:
    def __init__(
        self,
        llm_tokenizer,
        llm,
        clip_tokenizer,
        clip,
        *,
        max_length: int = 128,
        device: torch.device | str = "cpu",
        encoder_id: str = "unknown",
        prefix_cache: bool = True,
        streamer=None,
        static_graphs: bool = False,
        weights: str = "",
    ) -> None:
        self.llm_tokenizer = llm_tokenizer
        self.llm = llm
        self.clip_tokenizer = clip_tokenizer
        self.clip = clip
        self.max_length = max_length
        self.device = torch.device(device)
        self.encoder_id = encoder_id
        self.weights = weights  # "int8"/"int4" when Qwen's weights are quantised (text/quantized.py)
        self.streamer = streamer  # offload.LayerStreamer when the LLM lives on the CPU
        self.crop_start = find_crop_start(llm_tokenizer)
        self.llm_max_tokens = self.crop_start + max_length
        self.use_prefix_cache = prefix_cache
        self._prefix: tuple[Tensor, list[tuple[Tensor, Tensor]]] | None = None
        self.static = None  # text_graphs.StaticTextPath when static_graphs (and not streamed)
        if static_graphs and streamer is None:
            from motionbridge.daemon.engine.text.graphs import StaticTextPath

            try:
                self.static = StaticTextPath(llm, clip, self.device)
            except ValueError as exc:
                log.warning("static text path off, the HF forward is used: %s", exc)

    @classmethod
    def from_text_encoder(cls, te, encoder_id: str, device=None, low_vram: bool = False, low_vram_text: str = "", **kw) -> FastTextEncoder:
        """Wrap `model.text_encoder.TextEncoder` (loaded on the CPU for `low_vram`). `low_vram`
        keeps Qwen on `device` quantised (`low_vram_text` 'int8', the default, or 'int4'; its
        checkpoint is checked first) or streams its bf16 layers there ('stream')."""
        from motionbridge.daemon.engine.text.quantized import BITS, DEFAULT_LOW_VRAM_TEXT, LOW_VRAM_TEXT, quantize_qwen
        from motionbridge.daemon.model.qwen_checkpoint import check_checkpoint

        device = torch.device(device or te.device)
        text = low_vram_text or DEFAULT_LOW_VRAM_TEXT
        if text not in LOW_VRAM_TEXT:
            raise ValueError(f"unknown low-VRAM text mode {text!r}; pass one of {', '.join(LOW_VRAM_TEXT)}")
        streamer, weights = None, ""
        if low_vram and text == "stream":
            from motionbridge.daemon.engine.text.offload import LayerStreamer

            streamer = LayerStreamer(te.llm, device)
        elif low_vram and text in BITS:
            if getattr(te, "qwen_dir", None) is not None:
                check_checkpoint(te.qwen_dir, te.llm)
            quantize_qwen(te.llm, text, device)
            weights = text
        clip = te.clip.to(device)
        return cls(te.llm_tokenizer, te.llm, te.clip_tokenizer, clip, max_length=te.max_length, device=device, encoder_id=encoder_id,
                   streamer=streamer, weights=weights, **kw)

    @property
    def dtype_name(self) -> str:
        """The LLM's dtype, and its weight format when quantised (the text cache keys on it)."""
        dtype = str(next(self.llm.parameters()).dtype).removeprefix("torch.")
        return f"{dtype}-{self.weights}" if self.weights else dtype

    # -- LLM ----------------------------------------------------------------------------------

    def _llm(self, ids: Tensor, mask: Tensor, past=None) -> Tensor:
        mask = mask.to(self.device)
        kw = {cache_kwarg(self.llm): past, "use_cache": past is not None}
        if self.streamer is not None:
            embeds = self.streamer.embed(ids)
            return self.llm(inputs_embeds=embeds, attention_mask=mask, **kw).last_hidden_state
        return self.llm(input_ids=ids.to(self.device), attention_mask=mask, **kw).last_hidden_state

    def _prefix_kv(self, prefix_ids: Tensor) -> list[tuple[Tensor, Tensor]]:
        if self._prefix is not None and torch.equal(self._prefix[0], prefix_ids):
            return self._prefix[1]
        mask = torch.ones_like(prefix_ids)
        embeds_or_ids = prefix_ids[None]
        kw = dict(attention_mask=mask[None].to(self.device), use_cache=True)
        if self.streamer is not None:
            out = self.llm(inputs_embeds=self.streamer.embed(embeds_or_ids), **kw)
        else:
            out = self.llm(input_ids=embeds_or_ids.to(self.device), **kw)
        kv = [(k.detach(), v.detach()) for k, v in cache_layers(returned_cache(out, self.llm))]
        self._prefix = (prefix_ids.clone(), kv)
        return kv

    def tokenize(self, prompts: Sequence[str]) -> tuple[Tensor, Tensor, list[str]]:
        tok = self.llm_tokenizer
        rendered = [_chat(tok, p) for p in prompts]
        full = tok(rendered)["input_ids"]  # untruncated: the lengths for the warnings
        warnings = [
            f"prompt is {len(ids) - self.crop_start} tokens, over the model's {self.max_length}; the end was cut off: {p[:40]!r}..."
            if len(ids) > self.llm_max_tokens else ""
            for p, ids in zip(prompts, full)
        ]
        if tok.padding_side == tok.truncation_side == "right" and tok.pad_token_id is not None and tok.num_special_tokens_to_add() == 0:
            # what the tokenizer's truncation and padding give here, without tokenizing twice
            rows = [r[: self.llm_max_tokens] for r in full]
            ids = torch.full((len(rows), max(map(len, rows))), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros(ids.shape, dtype=torch.long)
            for i, r in enumerate(rows):
                ids[i, : len(r)] = torch.tensor(r)
                mask[i, : len(r)] = 1
            return ids, mask, warnings
        enc = tok(rendered, truncation=True, padding="longest", max_length=self.llm_max_tokens, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"], warnings

    @torch.no_grad()
    def encode_llm(self, prompts: Sequence[str]) -> tuple[list[Tensor], list[str]]:
        """Valid ctxt rows per prompt (float32, on the device) and per-prompt warnings ('' if none)."""
        ids, mask, warnings = self.tokenize(prompts)
        lengths = (mask.sum(-1) - self.crop_start).clamp(0, self.max_length)
        cs = self.crop_start
        prefix = ids[0, :cs]
        same_prefix = bool((ids[:, :cs] == prefix).all()) and bool(mask[:, :cs].all())
        cached = self.use_prefix_cache and same_prefix and int(lengths.min()) > 0
        if cached and self.static is not None and _right_padded(mask[:, cs:], lengths):
            return self.static.llm_rows(ids[:, cs:], lengths.tolist(), self._prefix_kv(prefix)), warnings
        if cached:
            kv = self._prefix_kv(prefix)
            b = ids.shape[0]
            past = make_cache(tuple((k.expand(b, -1, -1, -1).contiguous(), v.expand(b, -1, -1, -1).contiguous()) for k, v in kv))
            hidden = self._llm(ids[:, cs:], mask, past)
        else:
            hidden = self._llm(ids, mask)[:, cs:]
        rows = [hidden[i, : int(lengths[i])].float() for i in range(len(prompts))]
        return rows, warnings

    # -- CLIP ---------------------------------------------------------------------------------

    @torch.no_grad()
    def encode_clip(self, prompts: Sequence[str]) -> Tensor:
        if self.static is not None:
            enc = self.clip_tokenizer(list(prompts), truncation=True, padding="max_length", max_length=CLIP_MAX_TOKENS, return_tensors="pt")
            return self.static.clip_pooled(enc["input_ids"], enc["attention_mask"])
        enc = self.clip_tokenizer(list(prompts), truncation=True, padding=True, max_length=CLIP_MAX_TOKENS, return_tensors="pt")
        out = self.clip(input_ids=enc["input_ids"].to(self.device), attention_mask=enc["attention_mask"].to(self.device))
        return out.pooler_output.float()  # (B, Dv)

    def encode(self, prompts: Sequence[str]) -> list[CachedText]:
        rows, warnings = self.encode_llm(prompts)
        vtxt = self.encode_clip(prompts)
        return [CachedText(r, vtxt[i : i + 1], (w,) if w else ()) for i, (r, w) in enumerate(zip(rows, warnings))]

    def warm_up_graphs(self, prompt: str = "A person walks forward.") -> list[int]:
        """Runs the static Qwen3 path once per user-token bucket (the prompt's words cycled to a
        length in each) and CLIP once, so that their graphs are captured before the first user
        waits: each first capture took ~150 ms on an H100 (session 10's mixed run: text max 163
        ms against a p50 of 14 ms). Returns the buckets met; [] without the static path."""
        if self.static is None:
            return []
        words, met, buckets = prompt.split(), [], self.static.user_buckets
        for n in range(1, 8 * buckets[-1]):  # one growing prompt meets the buckets in turn
            candidate = " ".join(words[i % len(words)] for i in range(n))
            _, mask, _ = self.tokenize([candidate])
            tokens = int(mask.sum()) - self.crop_start
            bucket = bucket_up(tokens, buckets)  # tokenize cuts at the model's limit
            if bucket > buckets[-1]:
                break
            if bucket not in met:
                self.encode_llm([candidate])
                met.append(bucket)
            if tokens >= self.max_length or bucket == buckets[-1]:  # cut at the model's limit, or all met
                break
        self.encode_clip([prompt])
        return met

    def describe(self) -> dict:
        return {
            "encoder_id": self.encoder_id, "dtype": self.dtype_name, "crop_start": self.crop_start, "prefix_cache": self.use_prefix_cache,
            "streamed": self.streamer is not None, "weights": self.weights or "as loaded",
            "static": self.static is not None, "text_graphs": self.static is not None and self.static.graphs,
        }


def _right_padded(mask: Tensor, lengths: Tensor) -> bool:
    """The user part's mask is ones up to each length, zeros after (right padding)."""
    return bool((mask.bool() == (torch.arange(mask.shape[1]) < lengths[:, None])).all())
