"""Static shapes and CUDA-graph replay for the text encoders (one new prompt in ~10 ms).

At one prompt the HF Qwen3 and CLIP forwards are host-bound (thousands of small kernels
launched from Python), so `StaticTextPath` runs both at fixed shapes and, on CUDA, captures
each shape once and replays it:

- Qwen3: `qwen_static.StaticQwen` over the user tokens after the cached prefix, right-padded
  to a user bucket (16/32/64/128; the user part includes the template's closing tokens and is
  at most `max_length`), rows padded to a row bucket (1/2/4/8/16; larger batches go in chunks
  of 16). Padding rows and tokens are masked keys, so valid rows do not change.
- CLIP: the HF `CLIPTextModel` forward as is (it has no host syncs), on token ids padded to 77.
  The pooled vector is the final-norm row at the EOS token; CLIP's attention is causal, so
  the padding after EOS (masked as keys as well) cannot reach that row.

Graphs live in a small LRU keyed by (model, rows, length) sharing one memory pool; each
replay's output is copied out before the next replay. Without CUDA (or with graphs off) the
same static forwards run eagerly, which is what the CPU tests check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from motionbridge.daemon.engine.compile.graphs import GraphCache, capturing
from motionbridge.daemon.engine.text.qwen_static import USER_BUCKETS, RopeTables, StaticQwen, bucket_up

ROW_BUCKETS = (1, 2, 4, 8, 16)
CLIP_LENGTH = 77


class CapturedCall:
    """One CUDA graph of `fn(*inputs)`; a call copies new values into the static inputs and
    replays. The returned tensor is the graph's static output: copy it before the next call."""

    def __init__(self, fn: Callable[..., Tensor], inputs: Sequence[Tensor], pool) -> None:
        self.fn = fn  # the closure keeps alive every tensor the graph reads (weights, prefix, tables)
        self.inputs = [t.clone() for t in inputs]
        device = self.inputs[0].device
        with torch.cuda.device(device), torch.no_grad():
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up outside capture (lazy inits, kernel selection)
                for _ in range(2):
                    fn(*self.inputs)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with capturing(self.graph, pool):
                self.output = fn(*self.inputs)

    def __call__(self, *args: Tensor) -> Tensor:
        for buf, value in zip(self.inputs, args):
            buf.copy_(value, non_blocking=True)
        self.graph.replay()
        return self.output


class StaticTextPath:
    """Qwen3 user rows and CLIP pooled vectors at static shapes; CUDA graphs when `graphs`."""

    def __init__(
        self,
        llm: nn.Module,
        clip: nn.Module,
        device: torch.device | str,
        *,
        graphs: bool | None = None,
        user_buckets: Sequence[int] = USER_BUCKETS,
        row_buckets: Sequence[int] = ROW_BUCKETS,
        clip_length: int = CLIP_LENGTH,
        capacity: int = 32,  # all 4 x 5 Qwen shapes and 5 CLIP shapes
    ) -> None:
        if not row_buckets or min(row_buckets) < 1:
            raise ValueError(f"row buckets must be positive and not empty, got {tuple(row_buckets)}")
        self.qwen = StaticQwen(llm)
        self.clip = clip
        self.device = torch.device(device)
        self.graphs = self.device.type == "cuda" if graphs is None else bool(graphs)
        if self.graphs and self.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device, not {self.device}")
        self.user_buckets = tuple(sorted(user_buckets))
        self.row_buckets = tuple(sorted(row_buckets))
        self.clip_length = clip_length
        self.cache = GraphCache(capacity)
        self._tables: dict[tuple[int, int], RopeTables] = {}
        self._prefix: object | None = None

    def _run(self, key: tuple, fn: Callable[..., Tensor], inputs: Sequence[Tensor]) -> Tensor:
        """fn(*inputs) on the device: replayed from the graph of `key` (captured on first use)."""
        if self.graphs:
            # the capture inputs are copied to the device only on a miss (a hit copies into its buffers)
            captured = self.cache.get(key, lambda pool: CapturedCall(fn, [t.to(self.device) for t in inputs], pool))
            if captured is not None:
                return captured(*inputs)
            # a compile holds the GPU's turns (graphs.GPU_TURNS): this call runs uncaptured
        with torch.no_grad():
            return fn(*[t.to(self.device) for t in inputs])

    def _chunks(self, n: int) -> list[tuple[int, int, int]]:
        """(start, stop, padded rows) covering n rows, at most the largest row bucket each."""
        top = self.row_buckets[-1]
        return [(s, min(n, s + top), bucket_up(min(n, s + top) - s, self.row_buckets)) for s in range(0, n, top)]

    def tables(self, start: int, length: int) -> RopeTables:
        key = (start, length)
        if key not in self._tables:
            self._tables[key] = self.qwen.tables(start, length)
        return self._tables[key]

    def llm_rows(self, user_ids: Tensor, lengths: Sequence[int], prefix_kv: list[tuple[Tensor, Tensor]]) -> list[Tensor]:
        """user_ids (B, n): the tokens after the prefix, right-padded (CPU); lengths: valid
        tokens per row (>= 1); prefix_kv: the prefix's keys/values per layer (batch 1).
        Returns per row its valid hidden rows, float32, on the device."""
        if prefix_kv is not self._prefix:  # graphs read the prefix tensors in place
            self.cache.clear()
            self._prefix = prefix_kv
        prefix_len = int(prefix_kv[0][0].shape[2])
        lengths = [int(n) for n in lengths]
        rows: list[Tensor] = []
        for start, stop, padded in self._chunks(len(lengths)):
            part = lengths[start:stop]
            length = bucket_up(max(part), self.user_buckets)
            ids = torch.zeros(padded, length, dtype=torch.long)
            valid = torch.zeros(padded, length, dtype=torch.bool)
            for i, n in enumerate(part):
                ids[i, :n] = user_ids[start + i, :n]
                valid[i, :n] = True
            tables = self.tables(prefix_len, length)

            def forward(ids: Tensor, valid: Tensor, tables: RopeTables = tables) -> Tensor:
                return self.qwen(ids, valid, prefix_kv, tables)

            out = self._run(("llm", padded, length), forward, (ids, valid))
            rows += [out[i, :n].to(torch.float32, copy=True) for i, n in enumerate(part)]
        return rows

    def clip_pooled(self, ids: Tensor, mask: Tensor) -> Tensor:
        """ids, mask (B, n) from the CLIP tokenizer, right-padded (CPU) -> (B, Dv) float32."""
        length = max(self.clip_length, ids.shape[1])
        if ids.shape[1] < length:  # repeat each row's last token (its pad, or EOS): masked, after EOS
            ids = torch.cat((ids, ids[:, -1:].expand(-1, length - ids.shape[1])), dim=1)
            mask = torch.cat((mask, mask.new_zeros(mask.shape[0], length - mask.shape[1])), dim=1)
        out = []
        for start, stop, padded in self._chunks(ids.shape[0]):
            extra = padded - (stop - start)  # filler rows repeat the first (a real sequence: no NaN)
            part_ids = torch.cat((ids[start:stop], ids[start : start + 1].expand(extra, -1)))
            part_mask = torch.cat((mask[start:stop], mask[start : start + 1].expand(extra, -1)))

            def forward(ids: Tensor, mask: Tensor) -> Tensor:
                return self.clip(input_ids=ids, attention_mask=mask).pooler_output

            pooled = self._run(("clip", padded, length), forward, (part_ids, part_mask))
            out.append(pooled[: stop - start].to(torch.float32, copy=True))
        return torch.cat(out)
