"""Text-embedding cache: an in-memory LRU in front of an on-disk store.

Keyed by prompt, text-encoder identity (revision / weights digest) and dtype, so a changed
encoder never serves stale features. Entries hold only the valid ctxt rows. Disk files are
safetensors written to a temporary name and renamed (atomic); unreadable files count as misses.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from motionbridge.exporters.atomic import atomic_path


@dataclass
class CachedText:
    ctxt: Tensor  # (n_tokens, Dc) float32, valid rows only
    vtxt: Tensor  # (1, Dv) float32
    warnings: tuple[str, ...] = ()


def cache_key(prompt: str, encoder_id: str, dtype: str) -> str:
    blob = json.dumps([prompt, encoder_id, dtype], ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


class TextCache:
    def __init__(self, encoder_id: str, dtype: str, capacity: int = 4096, disk_dir: str | Path | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"text cache capacity must be >= 1, got {capacity}")
        self.encoder_id = encoder_id
        self.dtype = dtype
        self.capacity = capacity
        self.disk_dir = Path(disk_dir) if disk_dir is not None else None
        self.memory: OrderedDict[str, CachedText] = OrderedDict()
        self.hits = self.disk_hits = self.misses = 0

    def key(self, prompt: str) -> str:
        return cache_key(prompt, self.encoder_id, self.dtype)

    def _path(self, key: str) -> Path:
        assert self.disk_dir is not None
        return self.disk_dir / key[:2] / f"{key}.safetensors"

    def get(self, prompt: str) -> CachedText | None:
        key = self.key(prompt)
        if key in self.memory:
            self.memory.move_to_end(key)
            self.hits += 1
            return self.memory[key]
        entry = self._read(key, prompt) if self.disk_dir is not None else None
        if entry is None:
            self.misses += 1
            return None
        self.disk_hits += 1
        self._remember(key, entry)
        return entry

    def put(self, prompt: str, entry: CachedText) -> None:
        key = self.key(prompt)
        entry = CachedText(entry.ctxt.detach().float().cpu().contiguous(), entry.vtxt.detach().float().cpu().contiguous(), tuple(entry.warnings))
        self._remember(key, entry)
        if self.disk_dir is not None:
            self._write(key, prompt, entry)

    def features(self, prompts: Sequence[str], encode: Callable[[list[str]], Sequence[CachedText]] | None,
                 batch: int) -> dict[str, CachedText]:
        """prompt -> features for every distinct prompt: from the cache, the missing ones encoded
        `batch` prompts per `encode` call and stored. Without `encode`, a miss is an error."""
        out: dict[str, CachedText] = {}
        missing = []
        for p in dict.fromkeys(prompts):
            hit = self.get(p)
            if hit is None:
                missing.append(p)
            else:
                out[p] = hit
        if missing and encode is None:
            raise ValueError("this engine has no text encoder and the prompt is not cached; build it with text encoders")
        for i in range(0, len(missing), batch):
            chunk = missing[i : i + batch]
            for p, feat in zip(chunk, encode(chunk)):
                self.put(p, feat)
                out[p] = self.get(p)
        return out

    def _remember(self, key: str, entry: CachedText) -> None:
        self.memory[key] = entry
        self.memory.move_to_end(key)
        while len(self.memory) > self.capacity:
            self.memory.popitem(last=False)

    def _write(self, key: str, prompt: str, entry: CachedText) -> None:
        from safetensors.torch import save_file

        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"prompt": prompt, "encoder_id": self.encoder_id, "dtype": self.dtype, "warnings": json.dumps(list(entry.warnings))}
        with atomic_path(path) as tmp:
            save_file({"ctxt": entry.ctxt, "vtxt": entry.vtxt}, str(tmp), metadata=meta)

    def _read(self, key: str, prompt: str) -> CachedText | None:
        from safetensors import safe_open

        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if (meta.get("prompt"), meta.get("encoder_id"), meta.get("dtype")) != (prompt, self.encoder_id, self.dtype):
                    return None  # a hash collision or a foreign file: treat as a miss
                return CachedText(f.get_tensor("ctxt"), f.get_tensor("vtxt"), tuple(json.loads(meta.get("warnings", "[]"))))
        except Exception:  # a truncated or corrupt file is a miss, never an error
            return None
