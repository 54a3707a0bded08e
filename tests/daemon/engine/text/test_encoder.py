"""Text side of the fast engine: the prefix KV-cache is exact in float32 against the full
encode, and the text-embedding cache (memory LRU + atomic disk store) keys correctly."""

from __future__ import annotations

import pytest
import torch
from fixture_cases import case_prompts, truncated_prompt

from motionbridge.daemon.engine.text.cache import CachedText, TextCache
from motionbridge.daemon.engine.text.encoder import FastTextEncoder, encoder_identity
from motionbridge.daemon.model.text_encoder import TextEncoder

PROMPTS = ["A person walks forward, then turns left and waves.", "A person jumps twice.", "Someone dances slowly, arms raised high above the head."]


@pytest.fixture(scope="module")
def fp32_encoders(parity, llm_max_length):
    d = parity / "text_encoders"
    full = TextEncoder(d / "qwen3", d / "clip", llm_max_length, "cpu", torch.float32)
    fast = FastTextEncoder.from_text_encoder(full, encoder_identity(d / "qwen3", d / "clip"))
    return full, fast


def test_prefix_kv_cache_is_exact_in_float32(fp32_encoders):
    full, fast = fp32_encoders
    ref = full.encode(PROMPTS)
    assert fast.use_prefix_cache
    got = fast.encode(PROMPTS)
    assert fast._prefix is not None  # the cached path really ran
    for i, feat in enumerate(got):
        n = int(ref.ctxt_length[i])
        assert feat.ctxt.shape == (n, ref.ctxt.shape[2])
        torch.testing.assert_close(feat.ctxt, ref.ctxt[i, :n], atol=2e-5, rtol=0)
        torch.testing.assert_close(feat.vtxt, ref.vtxt[i], atol=1e-6, rtol=0)


def test_prefix_cache_matches_official_fp32_rerun(fp32_encoders, expected, cases):
    _, fast = fp32_encoders
    with_fp32 = [n for n in cases if f"{n}/ctxt_raw_fp32" in expected]
    if not with_fp32:
        pytest.skip("the parity fixture has no float32 LLM re-run (ctxt_raw_fp32)")
    name = with_fp32[0]  # public fixture: A
    for row, feat in enumerate(fast.encode(case_prompts(cases[name]))):
        n = int(expected[f"{name}/ctxt_length"][row])
        torch.testing.assert_close(feat.ctxt, torch.from_numpy(expected[f"{name}/ctxt_raw_fp32"][row, :n]), atol=2e-5, rtol=0)


def test_streamed_layers_give_the_same_features(parity, fp32_encoders, llm_max_length):
    """Low-VRAM mode's layer streaming (here CPU -> CPU) only moves weights, never values."""
    d = parity / "text_encoders"
    _, fast = fp32_encoders
    te = TextEncoder(d / "qwen3", d / "clip", llm_max_length, "cpu", torch.float32)
    streamed = FastTextEncoder.from_text_encoder(te, "x", low_vram=True, low_vram_text="stream")
    assert streamed.streamer is not None
    for a, b in zip(streamed.encode(PROMPTS[:2]), fast.encode(PROMPTS[:2])):
        assert torch.equal(a.ctxt, b.ctxt) and torch.equal(a.vtxt, b.vtxt)


def test_truncated_prompt_warns(fp32_encoders, cases, expected, llm_max_length):
    _, fast = fp32_encoders
    (feat,) = fast.encode([truncated_prompt(cases, expected)])
    assert feat.ctxt.shape[0] == llm_max_length and feat.warnings and "cut off" in feat.warnings[0]


def entry(seed: int, rows: int = 3) -> CachedText:
    g = torch.Generator().manual_seed(seed)
    return CachedText(torch.randn(rows, 8, generator=g), torch.randn(1, 4, generator=g), ("w",) if seed % 2 else ())


def test_memory_lru_evicts_oldest():
    cache = TextCache("enc", "bfloat16", capacity=2)
    cache.put("a", entry(1))
    cache.put("b", entry(2))
    assert cache.get("a") is not None  # a is now the newest
    cache.put("c", entry(3))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_disk_round_trip_and_keying(tmp_path):
    cache = TextCache("enc-1", "bfloat16", capacity=4, disk_dir=tmp_path)
    cache.put("walk", entry(1))
    files = list(tmp_path.rglob("*.safetensors"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))
    again = TextCache("enc-1", "bfloat16", disk_dir=tmp_path).get("walk")
    assert again is not None and torch.equal(again.ctxt, entry(1).ctxt) and again.warnings == ("w",)
    assert TextCache("enc-2", "bfloat16", disk_dir=tmp_path).get("walk") is None  # other encoder
    assert TextCache("enc-1", "float32", disk_dir=tmp_path).get("walk") is None  # other dtype
    assert TextCache("enc-1", "bfloat16", disk_dir=tmp_path).get("walk ") is None  # other prompt


def test_corrupt_disk_entry_is_a_miss(tmp_path):
    cache = TextCache("enc", "bfloat16", disk_dir=tmp_path)
    cache.put("walk", entry(1))
    (path,) = tmp_path.rglob("*.safetensors")
    path.write_bytes(b"\x00garbage")
    fresh = TextCache("enc", "bfloat16", disk_dir=tmp_path)
    assert fresh.get("walk") is None and fresh.misses == 1


def test_bad_capacity_is_refused():
    with pytest.raises(ValueError, match="capacity"):
        TextCache("enc", "bfloat16", capacity=0)


def test_engine_uses_cache_instead_of_encoder(parity_engine, cases):
    hits = parity_engine.cache.hits
    parity_engine.text_features([case_prompts(next(iter(cases.values())))[0]])
    assert parity_engine.cache.hits == hits + 1
