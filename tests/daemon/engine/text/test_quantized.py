"""Low-VRAM mode's resident quantised Qwen3 (text/quantized.py) on the parity fixture's tiny Qwen3:
the packing round-trips, the quantised linear is the dequantised matmul, the features' deviation
from the bf16 features is bounded (measured on this fixture: int8 0.043 max abs on values up to
3.7, 1.05 % relative norm; int4 0.28, 8.3 %), the static path gives the same features as the HF
forward over the same int8 weights, the text cache never mixes int8 and bf16 features, and a
checkpoint missing a tensor is refused before anything is quantised (the checkpoint checks
themselves: tests/daemon/model/test_qwen_checkpoint.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from motionbridge.daemon.engine.text.encoder import FastTextEncoder
from motionbridge.daemon.engine.text.quantized import QuantizedEmbedding, QuantizedLinear, quantize_rows, unpack_int4
from motionbridge.daemon.model.qwen_checkpoint import CheckpointError
from motionbridge.daemon.model.text_encoder import TextEncoder

PROMPTS = ["A person walks forward, then turns left and waves.", "A person jumps twice.", "Someone dances slowly, arms raised high above the head."]
# bounds on this fixture's features (random weights; the real Qwen3-8B is measured by `motionbridge bench` on a GPU)
BOUNDS = {"int8": (0.06, 0.015), "int4": (0.45, 0.12)}  # (max abs, relative Frobenius norm) against bf16


def text_encoder(parity, llm_max_length, dtype=torch.bfloat16, qwen=None) -> TextEncoder:
    d = parity / "text_encoders"
    return TextEncoder(qwen or d / "qwen3", d / "clip", llm_max_length, "cpu", dtype)


@pytest.fixture(scope="module")
def bf16_features(parity, llm_max_length):
    return FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length), "x").encode(PROMPTS)


def deviation(got, ref) -> tuple[float, float]:
    max_abs = max(float((a.ctxt - b.ctxt).abs().max()) for a, b in zip(got, ref))
    rel = max(float((a.ctxt - b.ctxt).norm() / b.ctxt.norm()) for a, b in zip(got, ref))
    return max_abs, rel


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_weights_round_trip_within_half_a_step(bits):
    w = torch.randn(48, 128, generator=torch.Generator().manual_seed(bits)) * torch.linspace(0.01, 3.0, 48)[:, None]
    w[5] = 0  # an all-zero row must not divide by zero
    q, scale = quantize_rows(w, bits)
    if bits == 8:
        assert q.dtype == torch.int8 and q.shape == w.shape and scale.shape == (48,)
        back, step = q.float() * scale[:, None], scale[:, None]
    else:
        assert q.dtype == torch.uint8 and q.shape == (48, 64)  # two weights per byte
        values = unpack_int4(q)
        assert int(values.min()) >= -7 and int(values.max()) <= 7
        back = (values.view(48, -1, 64).float() * scale[..., None]).view(48, 128)
        step = scale.repeat_interleave(64, dim=1)
    assert torch.all((back - w).abs() <= step / 2 + 1e-6)
    assert torch.equal(back[5], torch.zeros(128))


@pytest.mark.parametrize("bits", [8, 4])
def test_the_quantized_linear_is_the_dequantized_matmul(bits):
    g = torch.Generator().manual_seed(0)
    linear = torch.nn.Linear(128, 32, bias=True)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(32, 128, generator=g))
        linear.bias.copy_(torch.randn(32, generator=g))
    ql = QuantizedLinear.from_linear(linear, bits, torch.device("cpu"))
    x = torch.randn(3, 5, 128, generator=g)
    expected = F.linear(x, ql.dequantized(torch.float32), linear.bias)
    torch.testing.assert_close(ql(x), expected, rtol=1e-5, atol=1e-4)
    assert float((ql(x) - linear(x)).detach().abs().max()) > 0  # it really is quantised


def test_the_quantized_embedding_looks_up_scaled_rows():
    table = torch.nn.Embedding(50, 16)
    qe = QuantizedEmbedding(table, torch.device("cpu"))
    ids = torch.tensor([[0, 7, 49], [3, 3, 1]])
    torch.testing.assert_close(qe(ids), (qe.qweight.float() * qe.scale[:, None])[ids])
    step = qe.scale[ids][..., None]
    assert torch.all((qe(ids) - table(ids)).abs() <= step / 2 + 1e-6)


@pytest.mark.parametrize("text", ["int8", "int4"])
def test_feature_deviation_from_bf16_is_bounded(parity, llm_max_length, bf16_features, text):
    fast = FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length), "x", low_vram=True, low_vram_text=text)
    assert fast.weights == text and fast.streamer is None
    assert sum(isinstance(m, QuantizedLinear) for m in fast.llm.modules()) == 7 * fast.llm.config.num_hidden_layers
    got = fast.encode(PROMPTS)
    max_abs, rel = deviation(got, bf16_features)
    bound_abs, bound_rel = BOUNDS[text]
    assert 0 < max_abs <= bound_abs and rel <= bound_rel, (max_abs, rel)
    for a, b in zip(got, bf16_features):
        assert a.ctxt.shape == b.ctxt.shape and torch.equal(a.vtxt, b.vtxt)  # CLIP is not quantised


def test_the_static_path_runs_the_same_int8_weights(parity, llm_max_length):
    """qwen_static reads the quantised linears and token table as the HF forward does."""
    hf = FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length, torch.float32), "x", low_vram=True)
    static = FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length, torch.float32), "x", low_vram=True, static_graphs=True)
    assert static.static is not None and hf.static is None and static.weights == "int8"
    for a, b in zip(static.encode(PROMPTS), hf.encode(PROMPTS)):
        torch.testing.assert_close(a.ctxt, b.ctxt, rtol=1e-5, atol=1e-5)


def test_the_text_cache_keys_on_the_weight_format(parity, llm_max_length):
    plain = FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length), "x")
    int8 = FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length), "x", low_vram=True)
    assert plain.dtype_name == "bfloat16" and int8.dtype_name == "bfloat16-int8"
    assert int8.describe()["weights"] == "int8" and not int8.describe()["streamed"]


def test_an_unknown_low_vram_text_mode_is_one_line(parity, llm_max_length):
    with pytest.raises(ValueError, match="^unknown low-VRAM text mode 'int3'; pass one of int8, int4, stream$"):
        FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length), "x", low_vram=True, low_vram_text="int3")


def test_a_checkpoint_missing_a_tensor_is_refused_before_quantising(parity, llm_max_length, qwen_copy):
    """transformers fills a missing tensor with random values and only warns; the check refuses."""
    from safetensors.torch import load_file, save_file

    weights = qwen_copy / "model.safetensors"
    tensors = load_file(str(weights))
    dropped = next(k for k in tensors if k.endswith("layers.1.mlp.up_proj.weight"))
    del tensors[dropped]
    save_file(tensors, str(weights), metadata={"format": "pt"})
    te = text_encoder(parity, llm_max_length, qwen=qwen_copy)
    with pytest.raises(CheckpointError, match="'layers.1.mlp.up_proj.weight' is missing") as err:
        FastTextEncoder.from_text_encoder(te, "x", low_vram=True)
    assert "\n" not in str(err.value)
    assert not any(isinstance(m, QuantizedLinear) for m in te.llm.modules())  # nothing was quantised


@pytest.mark.gpu
@pytest.mark.parametrize("text", ["int8", "int4"])
def test_quantized_qwen_on_cuda_replays_in_graphs_and_matches_the_cpu(parity, llm_max_length, text, monkeypatch):
    """On a GPU the quantised weights live on the device and the static path captures them in
    CUDA graphs; float32 features match the CPU's quantised features (same integers and scales).
    TF32 off, as in the other float32 GPU tests: with it, int8 was 1.6e-3 off on an H100."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    cpu = FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length, torch.float32), "x", low_vram=True, low_vram_text=text)
    gpu = FastTextEncoder.from_text_encoder(text_encoder(parity, llm_max_length, torch.float32), "x", device="cuda", low_vram=True,
                                            low_vram_text=text, static_graphs=True)
    assert gpu.static is not None and gpu.static.graphs
    assert all(m.qweight.is_cuda for m in gpu.llm.modules() if isinstance(m, (QuantizedLinear, QuantizedEmbedding)))
    for _ in range(2):  # the second call replays the captured graphs
        for a, b in zip(gpu.encode(PROMPTS), cpu.encode(PROMPTS)):
            torch.testing.assert_close(a.ctxt.cpu(), b.ctxt, rtol=1e-4, atol=1e-4)
