"""An in-memory LRU of text features, keyed by prompt, encoder identity and dtype.

Animators iterate on seeds and cfg far more often than on the prompt, so the 8B LLM pass is
skipped for prompts seen recently. Cached rows are the very tensors the encoder produced.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class CachedText:
    vtxt: Tensor  # (1, Dv)
    ctxt: Tensor  # (max_length, Dc)
    ctxt_length: int
    warnings: tuple[str, ...]


class TextCache:
    def __init__(self, capacity: int = 256) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str, str], CachedText] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str, str]) -> CachedText | None:
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item

    def put(self, key: tuple[str, str, str], item: CachedText) -> None:
        if self.capacity == 0:
            return
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
