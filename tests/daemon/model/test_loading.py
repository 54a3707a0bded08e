"""Loading the official checkpoint layout, and one clear error for each way it can be broken.
Every failure is provoked on a temp copy of the fixture's model folder."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from motionbridge.daemon.model import loading
from motionbridge.daemon.model.config import ConfigError
from motionbridge.daemon.model.loading import WeightsError, load_model


@pytest.fixture
def model_dir(parity, tmp_path) -> Path:
    d = tmp_path / "HY-Motion-test"
    shutil.copytree(parity / "model", d)
    for p in [d, *d.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return d


@pytest.fixture(scope="module")
def reference_sd(parity) -> dict[str, torch.Tensor]:
    return torch.load(parity / "model" / "latest.ckpt", weights_only=True, map_location="cpu")["model_state_dict"]


def _ckpt_only(d: Path) -> Path:
    (d / loading.SAFETENSORS_NAME).unlink(missing_ok=True)
    return d / loading.CKPT_NAME


def _save(d: Path, sd) -> None:
    torch.save({"model_state_dict": sd}, d / loading.CKPT_NAME)


def _assert_same(model, sd) -> None:
    got = model.state_dict()
    for k, v in sd.items():
        if not k.startswith("body_model."):
            assert torch.equal(got[k], v), k
    assert not any(p.is_meta for p in model.parameters())


def test_loads_both_formats_identically(model_dir, reference_sd):
    loaded = load_model(model_dir)
    assert loaded.checkpoint.name == loading.SAFETENSORS_NAME  # preferred when present
    _assert_same(loaded.model, reference_sd)
    _ckpt_only(model_dir)
    loaded = load_model(model_dir)
    assert loaded.checkpoint.name == loading.CKPT_NAME
    _assert_same(loaded.model, reference_sd)
    assert len(loaded.sha256) == 64


def test_missing_folder_and_checkpoint(tmp_path, model_dir):
    with pytest.raises(WeightsError, match="weights download"):
        load_model(tmp_path / "nope")
    _ckpt_only(model_dir).unlink()
    with pytest.raises(WeightsError, match="no checkpoint") as info:
        load_model(model_dir)
    assert "weights download" in str(info.value)


@pytest.mark.parametrize("fmt", ["ckpt", "safetensors"])
def test_truncated_checkpoint(model_dir, fmt):
    path = _ckpt_only(model_dir) if fmt == "ckpt" else model_dir / loading.SAFETENSORS_NAME
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated") as info:
        load_model(model_dir)
    assert str(path) in str(info.value)


def test_flipped_header_bytes(model_dir):
    path = _ckpt_only(model_dir)
    data = bytearray(path.read_bytes())
    for i in range(100, 164):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupt") as info:
        load_model(model_dir)
    assert str(path) in str(info.value)


def test_flipped_tensor_bytes_caught_by_recorded_digest(model_dir):
    path = model_dir / loading.SAFETENSORS_NAME
    loading.record_in_manifest(model_dir, path.name, loading.file_sha256(path))
    load_model(model_dir)  # intact: fine
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupt") as info:
        load_model(model_dir)
    assert "sha256" in str(info.value) and str(path) in str(info.value)


def test_dropped_key(model_dir, reference_sd):
    _ckpt_only(model_dir)
    sd = dict(reference_sd)
    dropped = "motion_transformer.final_layer.linear.bias"
    del sd[dropped]
    _save(model_dir, sd)
    with pytest.raises(WeightsError, match="1 missing") as info:
        load_model(model_dir)
    assert dropped in str(info.value)


def test_unexpected_key(model_dir, reference_sd):
    _ckpt_only(model_dir)
    _save(model_dir, {**reference_sd, "motion_transformer.surprise.weight": torch.zeros(3)})
    with pytest.raises(WeightsError, match="unexpected.*surprise"):
        load_model(model_dir)


def test_changed_shape(model_dir, reference_sd):
    _ckpt_only(model_dir)
    key = "motion_transformer.input_encoder.weight"
    sd = dict(reference_sd)
    sd[key] = torch.zeros(sd[key].shape[0] + 1, sd[key].shape[1])
    _save(model_dir, sd)
    with pytest.raises(WeightsError, match="shape") as info:
        load_model(model_dir)
    assert key in str(info.value) and loading.CKPT_NAME in str(info.value)


def test_config_dims_do_not_match_checkpoint(model_dir):
    import yaml

    cfg_path = model_dir / "config.yml"
    raw = yaml.safe_load(cfg_path.read_text())
    raw["network_module_args"]["feat_dim"] *= 2
    cfg_path.write_text(yaml.safe_dump(raw))
    with pytest.raises(WeightsError, match="config.yml") as info:
        load_model(model_dir)
    assert str(model_dir) in str(info.value)


def test_bad_config_is_a_config_error(model_dir):
    (model_dir / "config.yml").write_text("train_pipeline_args: {}\n")
    with pytest.raises(ConfigError, match="network_module_args"):
        load_model(model_dir)


def test_pickled_objects_are_refused(model_dir, reference_sd):
    _ckpt_only(model_dir)
    torch.save({"model_state_dict": reference_sd, "extra": argparse.Namespace(evil=True)}, model_dir / loading.CKPT_NAME)
    with pytest.raises(WeightsError, match="not a plain-tensor checkpoint"):
        load_model(model_dir)


def test_not_a_hymotion_checkpoint(model_dir):
    _ckpt_only(model_dir)
    torch.save({"weights": torch.zeros(2)}, model_dir / loading.CKPT_NAME)
    with pytest.raises(WeightsError, match="model_state_dict"):
        load_model(model_dir)


def test_stats_fill_in_and_are_checked(model_dir, reference_sd):
    _ckpt_only(model_dir)
    sd = {k: v for k, v in reference_sd.items() if k not in ("mean", "std")}
    _save(model_dir, sd)
    loaded = load_model(model_dir)  # mean/std come from stats/*.npy
    mean = np.load(model_dir / "stats" / "Mean.npy", allow_pickle=False)
    np.testing.assert_array_equal(loaded.model.mean.numpy(), mean.astype(np.float32))
    np.save(model_dir / "stats" / "Std.npy", np.ones(7))
    with pytest.raises(WeightsError, match="Std.npy"):
        load_model(model_dir)


def test_default_paths_follow_motionbridge_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTIONBRIDGE_HOME", str(tmp_path))
    paths = loading.default_paths("lite")
    assert paths.checkpoint_dir == tmp_path / "HY-Motion-1.0-Lite"
    assert paths.qwen_dir == tmp_path / "Qwen3-8B" and paths.clip_dir == tmp_path / "clip-vit-large-patch14"
    monkeypatch.delenv("MOTIONBRIDGE_HOME")
    assert loading.home() == Path.home() / ".cache" / "motionbridge"
    missing = loading.missing_files(loading.default_paths("1.0", tmp_path))
    assert len(missing) == 4 and any("latest.ckpt" in m for m in missing)
    with pytest.raises(WeightsError, match="unknown model"):
        loading.default_paths("2.0")
