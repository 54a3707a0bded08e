"""The Qwen3 checkpoint on disk (model/qwen_checkpoint.py, model/text_encoder.py): it is read from
safetensors only (a pickle is refused, never run), and a truncated file, tensors of other
shapes than config.json, or a missing or foreign tensor each stop with one line naming the
file and what is wrong. On the parity fixture's tiny Qwen3 (a writable copy)."""

from __future__ import annotations

import pickle

import pytest
import torch

from motionbridge.daemon.model.qwen_checkpoint import CheckpointError, check_checkpoint, mismatch
from motionbridge.daemon.model.text_encoder import TextEncoder, TextEncoderError


def load(parity, llm_max_length, qwen=None) -> TextEncoder:
    d = parity / "text_encoders"
    return TextEncoder(qwen or d / "qwen3", d / "clip", llm_max_length, "cpu", torch.float32)


def one_line(message: str) -> str:
    assert "\n" not in message, message
    return message


def test_the_fixture_matches_its_config(parity, llm_max_length):
    check_checkpoint(parity / "text_encoders" / "qwen3", load(parity, llm_max_length).llm)
    assert mismatch(parity / "text_encoders" / "qwen3") is None


def test_a_truncated_checkpoint_fails_with_one_line(parity, llm_max_length, qwen_copy):
    weights = qwen_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(TextEncoderError) as err:
        load(parity, llm_max_length, qwen_copy)
    assert f"{weights}: unreadable safetensors file" in one_line(str(err.value))


def test_a_checkpoint_of_other_shapes_fails_with_one_line(parity, llm_max_length, qwen_copy):
    config = qwen_copy / "config.json"
    config.write_text(config.read_text().replace('"intermediate_size": 128', '"intermediate_size": 96'))
    with pytest.raises(TextEncoderError) as err:
        load(parity, llm_max_length, qwen_copy)
    message = one_line(str(err.value))  # the same precise line on transformers 4.53 and 5.x
    assert f"{qwen_copy / 'model.safetensors'}: tensor 'layers.0.mlp.gate_proj.weight' has shape [128, 64], config.json needs [96, 64]" in message


def test_missing_and_foreign_tensors_are_named(parity, llm_max_length, qwen_copy):
    from safetensors.torch import load_file, save_file

    weights = qwen_copy / "model.safetensors"
    tensors = load_file(str(weights))
    key = next(k for k in tensors if k.endswith("layers.1.mlp.up_proj.weight"))
    llm = load(parity, llm_max_length).llm
    save_file({k: v for k, v in tensors.items() if k != key}, str(weights), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="tensor 'layers.1.mlp.up_proj.weight' is missing from the weights"):
        check_checkpoint(qwen_copy, llm)
    save_file({**tensors, "layers.9.mlp.up_proj.weight": tensors[key].clone()}, str(weights), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="tensor 'layers.9.mlp.up_proj.weight' is not part of this Qwen3 config"):
        check_checkpoint(qwen_copy, llm)


class _Marker:
    """Unpickling this writes a file: proof that a loader executed pickled code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_loader_never_unpickles(parity, llm_max_length, qwen_copy, tmp_path):
    marker = tmp_path / "unpickled"
    (qwen_copy / "model.safetensors").unlink()
    with open(qwen_copy / "pytorch_model.bin", "wb") as f:
        pickle.dump({"embed_tokens.weight": _Marker(str(marker))}, f)
    with pytest.raises(TextEncoderError) as err:
        load(parity, llm_max_length, qwen_copy)
    assert "no *.safetensors weights (other formats are refused" in one_line(str(err.value))
    assert not marker.exists()
