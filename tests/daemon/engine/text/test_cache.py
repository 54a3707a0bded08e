"""TextCache.features (engine/text/cache.py): the cache in front of the text encoder."""

from __future__ import annotations

import pytest
import torch

from motionbridge.daemon.engine.text.cache import CachedText, TextCache


def _encode(calls: list[list[str]]):
    def encode(prompts: list[str]) -> list[CachedText]:
        calls.append(list(prompts))
        return [CachedText(torch.full((len(p), 4), float(len(p))), torch.ones(1, 2)) for p in prompts]
    return encode


def test_only_missing_prompts_are_encoded_in_batches_and_then_served_from_the_cache():
    cache, calls = TextCache("enc", "float32", capacity=8), []
    out = cache.features(["walk", "run fast", "walk", "jump"], _encode(calls), batch=2)
    assert calls == [["walk", "run fast"], ["jump"]]
    assert sorted(out) == ["jump", "run fast", "walk"] and out["run fast"].ctxt.shape == (8, 4)
    again = cache.features(["jump", "walk"], _encode(calls), batch=2)
    assert len(calls) == 2 and torch.equal(again["walk"].ctxt, out["walk"].ctxt)


def test_a_miss_without_an_encoder_is_a_clear_error():
    cache = TextCache("none", "none", capacity=8)
    with pytest.raises(ValueError, match="no text encoder"):
        cache.features(["walk"], None, batch=1)
    cache.put("walk", CachedText(torch.zeros(2, 4), torch.zeros(1, 2)))
    assert set(cache.features(["walk"], None, batch=1)) == {"walk"}
