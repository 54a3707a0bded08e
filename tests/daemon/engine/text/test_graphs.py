"""Static-shape text path (text/qwen_static.py, text/graphs.py): our Qwen3 forward after the cached
prefix gives HF's last_hidden_state rows, bucket and row padding never change valid rows, CLIP
pooled at 77 tokens equals the unpadded one, and FastTextEncoder gives the same features with
and without `static_graphs`. Float32 on the parity fixture's tiny Qwen3 + CLIP; tolerance
1e-5 relative + 1e-5 absolute (values are O(1); on the CPU the paths measure equal or within
1e-6). The GPU test checks that CUDA-graph replay equals the eager static forward."""

from __future__ import annotations

import pytest
import torch
from fixture_cases import truncated_prompt

from motionbridge.daemon.engine.text.encoder import FastTextEncoder
from motionbridge.daemon.engine.text.graphs import StaticTextPath
from motionbridge.daemon.engine.text.qwen_static import RopeTables
from motionbridge.daemon.model.text_encoder import CLIP_MAX_TOKENS, TextEncoder, _chat

TOL = {"rtol": 1e-5, "atol": 1e-5}
SHORT = "A person jumps twice."  # under 16 user tokens
MEDIUM = "A person walks forward slowly, then turns left, stops, and waves with the right hand."  # 17-32
LONG = "Someone dances slowly, arms raised high above the head, then spins around twice. " * 2  # 33-64


@pytest.fixture(scope="module")
def encoders(parity, llm_max_length):
    d = parity / "text_encoders"
    full = TextEncoder(d / "qwen3", d / "clip", llm_max_length, "cpu", torch.float32)
    old = FastTextEncoder(full.llm_tokenizer, full.llm, full.clip_tokenizer, full.clip, encoder_id="x")
    new = FastTextEncoder(full.llm_tokenizer, full.llm, full.clip_tokenizer, full.clip, encoder_id="x", static_graphs=True)
    assert new.static is not None and not new.static.graphs  # CPU: the same forward, eager
    return full, old, new


def fitted(fast: FastTextEncoder, prompt: str, lo: int, hi: int) -> str:
    """`prompt` if its user tokens (prompt + the template's closing tokens) are in (lo, hi],
    else its words cycled to a length that is: another fixture's tokenizer may count others."""
    words = prompt.split()
    for candidate in (prompt, *(" ".join(words[i % len(words)] for i in range(n)) for n in range(1, 4 * hi))):
        if lo < user_lengths(fast, [candidate])[0] <= hi:
            return candidate
    pytest.skip(f"no prompt of {lo + 1}-{hi} user tokens from {prompt!r} with this fixture's tokenizer")


@pytest.fixture(scope="module")
def prompts(encoders, cases, expected):
    _, _, new = encoders
    bucketed = [fitted(new, p, lo, hi) for p, lo, hi in ((SHORT, 0, 16), (MEDIUM, 16, 32), (LONG, 32, 64))]
    return [*bucketed, truncated_prompt(cases, expected)]  # the last is over the LLM's token limit


def user_lengths(fast: FastTextEncoder, prompts) -> list[int]:
    _, mask, _ = fast.tokenize(prompts)
    return (mask.sum(-1) - fast.crop_start).tolist()


def hf_rows(full: TextEncoder, fast: FastTextEncoder, prompts) -> list[torch.Tensor]:
    """HF Qwen3Model over the whole rendered prompt (no cache, no buckets): the reference."""
    ids, mask, _ = fast.tokenize(prompts)
    with torch.no_grad():
        hidden = full.llm(input_ids=ids, attention_mask=mask).last_hidden_state[:, fast.crop_start :]
    return [hidden[i, :n] for i, n in enumerate(user_lengths(fast, prompts))]


def test_prompts_cover_the_buckets(encoders, prompts):
    _, _, new = encoders
    lengths = user_lengths(new, prompts)
    assert lengths[0] <= 16 < lengths[1] <= 32 < lengths[2] <= 64 and lengths[3] == new.max_length


@pytest.mark.parametrize("batch", [[0, 1], [1, 0, 2], [3, 0], [0, 1, 2, 3]])
def test_static_qwen_matches_hf_last_hidden_state(encoders, prompts, batch):
    full, _, new = encoders
    chosen = [prompts[i] for i in batch]
    ref = hf_rows(full, new, chosen)
    got, warnings = new.encode_llm(chosen)
    assert new._prefix is not None
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == torch.float32
        torch.testing.assert_close(g, r, **TOL)
    assert [bool(w) for w in warnings] == [i == 3 for i in batch]  # the truncation warning is kept


def test_rope_positions_must_continue_after_the_prefix(encoders, prompts):
    """The comparison above is sensitive to the RoPE offset: positions from 0 fail it."""
    full, _, new = encoders
    static = new.static
    chosen = prompts[:2]
    ids, _, _ = new.tokenize(chosen)
    cs = new.crop_start
    kv = new._prefix_kv(ids[0, :cs])
    lengths = user_lengths(new, chosen)
    n = 32
    user = torch.zeros(2, n, dtype=torch.long)
    user[:, : ids.shape[1] - cs] = ids[:, cs:]
    valid = torch.arange(n)[None] < torch.tensor(lengths)[:, None]
    ref = hf_rows(full, new, chosen)
    right = static.tables(cs, n)
    wrong = static.qwen.tables(0, n)
    with torch.no_grad():
        ok = static.qwen(user, valid, kv, right)
        bad = static.qwen(user, valid, kv, RopeTables(cs, n, wrong.cos, wrong.sin, right.causal))
    for i, r in enumerate(ref):
        torch.testing.assert_close(ok[i, : lengths[i]], r, **TOL)
        assert (bad[i, : lengths[i]] - r).abs().max() > 1e-2


def test_bucket_and_row_padding_do_not_change_valid_rows(encoders, prompts):
    _, _, new = encoders
    ids, _, _ = new.tokenize(prompts)
    cs = new.crop_start
    kv = new._prefix_kv(ids[0, :cs])
    lengths = user_lengths(new, prompts)
    exact = StaticTextPath(new.llm, new.clip, "cpu", user_buckets=(), row_buckets=(1,))  # no padding at all
    base = exact.llm_rows(ids[:, cs:], lengths, kv)
    top = new.max_length  # public fixture: 128
    for user_buckets, row_buckets in [((top,), (16,)), ((16, 32, 64, top), (2,)), ((16, 32, 64, top), (1, 8))]:
        padded = StaticTextPath(new.llm, new.clip, "cpu", user_buckets=user_buckets, row_buckets=row_buckets)
        for a, b in zip(padded.llm_rows(ids[:, cs:], lengths, kv), base):
            torch.testing.assert_close(a, b, **TOL)


def test_clip_pooled_ignores_padding_after_eos(encoders, prompts):
    full, _, new = encoders
    tok = full.clip_tokenizer
    short = tok(prompts[:3], truncation=True, padding=True, max_length=CLIP_MAX_TOKENS, return_tensors="pt")
    with torch.no_grad():
        ref = full.clip(**short).pooler_output
    enc = tok(prompts[:3], truncation=True, padding="max_length", max_length=CLIP_MAX_TOKENS, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    assert ids.shape[1] == CLIP_MAX_TOKENS and not mask.all()
    torch.testing.assert_close(new.static.clip_pooled(ids, mask), ref, **TOL)
    # other values in the padded (masked, after-EOS) slots: same pooled vectors
    junk = torch.randint(1, 1000, ids.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(new.static.clip_pooled(torch.where(mask.bool(), ids, junk), mask), ref, **TOL)
    # a shorter padding is brought to 77 by the path itself
    torch.testing.assert_close(new.static.clip_pooled(short["input_ids"], short["attention_mask"]), ref, **TOL)


def test_encode_with_static_graphs_equals_without(encoders, prompts):
    _, old, new = encoders
    for batch in ([prompts[0]], prompts):
        a, b = old.encode(batch), new.encode(batch)
        for x, y in zip(a, b):
            assert x.ctxt.shape == y.ctxt.shape and x.vtxt.shape == y.vtxt.shape == (1, new.clip.config.hidden_size)
            torch.testing.assert_close(y.ctxt, x.ctxt, **TOL)
            torch.testing.assert_close(y.vtxt, x.vtxt, **TOL)
            assert x.warnings == y.warnings
    assert new.describe()["static"] and not new.describe()["text_graphs"]


def test_static_graphs_off_when_streamed(parity, llm_max_length):
    d = parity / "text_encoders"
    te = TextEncoder(d / "qwen3", d / "clip", llm_max_length, "cpu", torch.float32)
    streamed = FastTextEncoder.from_text_encoder(te, "x", low_vram=True, low_vram_text="stream", static_graphs=True)
    assert streamed.streamer is not None and streamed.static is None


def test_graphs_need_cuda(encoders):
    _, _, new = encoders
    with pytest.raises(ValueError, match="CUDA"):
        StaticTextPath(new.llm, new.clip, "cpu", graphs=True)


@pytest.mark.gpu
def test_graph_replay_equals_eager_on_gpu(parity, prompts, llm_max_length):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    d = parity / "text_encoders"
    te = TextEncoder(d / "qwen3", d / "clip", llm_max_length, "cuda", torch.float32)
    eager = FastTextEncoder(te.llm_tokenizer, te.llm, te.clip_tokenizer, te.clip, device="cuda", static_graphs=True)
    eager.static.graphs = False
    graphs = FastTextEncoder(te.llm_tokenizer, te.llm, te.clip_tokenizer, te.clip, device="cuda", static_graphs=True)
    hf = FastTextEncoder(te.llm_tokenizer, te.llm, te.clip_tokenizer, te.clip, device="cuda")
    assert graphs.static.graphs
    # the same shape twice with other prompts: the second replay must read the new inputs
    for batch in ([prompts[0]], [prompts[1]], [prompts[0], prompts[2]], [prompts[2], prompts[1]], prompts, prompts[::-1]):
        for g, e, h in zip(graphs.encode(batch), eager.encode(batch), hf.encode(batch)):
            assert g.ctxt.is_cuda and g.ctxt.shape == e.ctxt.shape == h.ctxt.shape
            torch.testing.assert_close(g.ctxt, e.ctxt, **TOL)
            torch.testing.assert_close(g.vtxt, e.vtxt, **TOL)
            torch.testing.assert_close(g.ctxt, h.ctxt, rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(g.vtxt, h.vtxt, rtol=1e-4, atol=1e-4)
    captures = graphs.static.cache.captures
    graphs.encode([prompts[0]])
    assert graphs.static.cache.captures == captures  # replayed, not captured again


def test_tokenize_equals_the_tokenizers_truncation_and_padding(encoders, prompts):
    _, _, new = encoders
    tok = new.llm_tokenizer
    for batch in ([prompts[0]], prompts, prompts[::-1]):
        ref = tok([_chat(tok, p) for p in batch], truncation=True, padding="longest", max_length=new.llm_max_tokens, return_tensors="pt")
        ids, mask, warnings = new.tokenize(batch)
        assert torch.equal(ids, ref["input_ids"]) and torch.equal(mask, ref["attention_mask"])
        assert [bool(w) for w in warnings] == [p == prompts[3] for p in batch]


def test_the_warm_up_meets_every_reachable_prompt_bucket_and_clip(encoders, monkeypatch):
    """FastEngine.warm_up captures each user-token bucket's Qwen3 graph and CLIP's before the
    first user waits (on the CPU the same static forwards run eagerly; the keys are the graphs')."""
    _, old, new = encoders
    keys = []
    original = new.static._run
    monkeypatch.setattr(new.static, "_run", lambda key, fn, inputs: keys.append(key) or original(key, fn, inputs))
    met = new.warm_up_graphs(SHORT)
    reachable = [b for lower, b in zip((0, *new.static.user_buckets), new.static.user_buckets) if lower < new.max_length]
    assert met == reachable and len(met) >= 2
    assert [k for k in keys if k[0] == "llm"] == [("llm", 1, b) for b in reachable]
    assert [k for k in keys if k[0] == "clip"] == [("clip", 1, 77)]
    assert old.warm_up_graphs(SHORT) == []  # no static path, nothing to capture
