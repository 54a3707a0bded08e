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


@pytest.fixture
def converted(model_dir, tmp_path, monkeypatch) -> Path:
    """model_dir after `weights convert`, with a digest cache of its own and no manifest: the
    safetensors' own metadata is all a later load has."""
    monkeypatch.setenv("MOTIONBRIDGE_HOME", str(tmp_path / "home"))
    assert main(["weights", "convert", str(model_dir)]) == 0
    (model_dir / loading.MANIFEST_NAME).unlink()
    return model_dir / loading.SAFETENSORS_NAME


def test_convert_records_the_source_and_tensor_digests(converted, model_dir):
    import hashlib

    offset, meta = loading.safetensors_header(converted)
    assert meta[loading.SOURCE_DIGEST_KEY] == hashlib.sha256((model_dir / loading.CKPT_NAME).read_bytes()).hexdigest()
    assert meta[loading.TENSORS_DIGEST_KEY] == hashlib.sha256(converted.read_bytes()[offset:]).hexdigest()


def test_zeroed_tensor_bytes_are_caught_without_a_manifest(converted, model_dir, capsys):
    assert loading.load_model(model_dir).checkpoint == converted
    offset, _ = loading.safetensors_header(converted)
    data = bytearray(converted.read_bytes())
    middle = offset + (len(data) - offset) // 2
    assert any(data[middle : middle + 1024])
    data[middle : middle + 1024] = bytes(1024)
    converted.write_bytes(bytes(data))
    with pytest.raises(loading.WeightsError, match="tensor data hash .* differs from the one written at conversion"):
        loading.load_model(model_dir)
    rc = main(["weights", "verify", str(model_dir), "--qwen", str(model_dir), "--clip", str(model_dir)])
    out = capsys.readouterr().out
    assert rc == 2 and any(line.startswith("BAD") and "tensor data hash" in line for line in out.splitlines()), out


def test_safetensors_from_another_checkpoint_than_the_downloaded_one_is_refused(converted, model_dir):
    loading.record_in_manifest(model_dir, loading.CKPT_NAME, "0" * 64)  # what the hub said latest.ckpt is
    with pytest.raises(loading.WeightsError, match="converted from another latest.ckpt"):
        loading.load_model(model_dir)


def test_stray_truncated_checkpoint_beside_the_safetensors_is_reported(converted, model_dir, caplog):
    ckpt = model_dir / loading.CKPT_NAME
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    loaded = loading.load_model(model_dir)
    assert loaded.checkpoint == converted  # the intact file is used...
    assert len(loaded.warnings) == 1 and "truncated or damaged" in loaded.warnings[0]  # ...and the broken one named
    assert any(str(ckpt) in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_lfs_digests_come_from_the_hubs_path_infos():
    from huggingface_hub.hf_api import RepoFile, RepoFolder

    from motionbridge.daemon.model.weights_cli import lfs_digests

    sha = "AB" * 32
    infos = [
        RepoFile(path="HY-Motion-1.0/latest.ckpt", size=9, oid="1", lfs={"size": 9, "oid": sha, "pointerSize": 130}),
        RepoFile(path="HY-Motion-1.0/config.yml", size=5, oid="2"),  # plain git file: no sha256 to record
        RepoFolder(path="HY-Motion-1.0/stats", oid="3"),
        RepoFile(path="HY-Motion-1.0-Lite/latest.ckpt", size=9, oid="4", lfs={"size": 9, "oid": "cd" * 32, "pointerSize": 130}),
    ]
    assert lfs_digests(infos, "HY-Motion-1.0") == {"latest.ckpt": sha.lower()}
