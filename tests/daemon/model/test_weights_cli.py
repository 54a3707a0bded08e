"""`motionbridge weights download | convert | verify` (no internet here: download's path logic
and its offline error are what can be tested)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from motionbridge.daemon.cli import main
from motionbridge.daemon.model import loading
from motionbridge.daemon.model.weights_cli import download_plan


@pytest.fixture
def model_dir(parity, tmp_path) -> Path:
    d = tmp_path / "HY-Motion-1.0"
    shutil.copytree(parity / "model", d)
    for p in [d, *d.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (d / loading.SAFETENSORS_NAME).unlink()
    return d


def test_download_plan_targets_home(tmp_path):
    plan = download_plan("lite", tmp_path)
    assert [p["repo_id"] for p in plan] == ["tencent/HY-Motion-1.0", "Qwen/Qwen3-8B", "openai/clip-vit-large-patch14"]
    assert plan[0]["local_dir"] == str(tmp_path) and "HY-Motion-1.0-Lite/*" in plan[0]["allow_patterns"]
    assert plan[1]["local_dir"] == str(tmp_path / "Qwen3-8B")
    assert plan[2]["local_dir"] == str(tmp_path / "clip-vit-large-patch14")
    assert len(download_plan("1.0", tmp_path, text_encoders=False)) == 1


def test_download_offline_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc = main(["weights", "download", "--home", str(tmp_path / "home"), "--skip-text-encoders", "--accept-license"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "could not download tencent/HY-Motion-1.0" in err and "run the same command again" in err
    assert "Traceback" not in err


def test_convert_then_load_memory_mapped(model_dir, capsys):
    assert main(["weights", "convert", str(model_dir)]) == 0
    target = model_dir / loading.SAFETENSORS_NAME
    assert target.is_file() and not list(model_dir.glob("*.part"))
    assert loading.read_manifest(model_dir)[target.name] == loading.file_sha256(target)
    from_st = loading.load_model(model_dir)
    assert from_st.checkpoint == target
    ref = torch.load(model_dir / loading.CKPT_NAME, weights_only=True)["model_state_dict"]
    for k, v in from_st.model.state_dict().items():
        assert torch.equal(v, ref[k]), k


def test_convert_without_checkpoint(tmp_path, capsys):
    rc = main(["weights", "convert", str(tmp_path)])
    assert rc == 2 and "weights download" in capsys.readouterr().err


def test_verify_reports(model_dir, parity, capsys):
    te = parity / "text_encoders"
    args = ["weights", "verify", str(model_dir), "--qwen", str(te / "qwen3"), "--clip", str(te / "clip")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "shapes match" in out and "float32" in out and "weights present" in out
    (model_dir / loading.CKPT_NAME).write_bytes(b"not a checkpoint")
    assert main(args) == 2
    out = capsys.readouterr().out
    assert "BAD" in out and loading.CKPT_NAME in out
    (model_dir / loading.CKPT_NAME).unlink()
    assert main(args) == 2
    assert "MISSING" in capsys.readouterr().out
