"""State-dict keys and shapes equal the official ones for every config in state_dict_keys.json,
and the full-size configs build from their config.yml (on the meta device: no memory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motionbridge.daemon.model.config import ConfigError, load_config, model_config_from_dict, network_config_from_dict
from motionbridge.daemon.model.mmdit import build_on_meta

FIXTURES = Path(__file__).resolve().parents[3] / "daemon" / "model" / "configs"  # shipped inferred configs


@pytest.fixture(scope="module")
def reference_keys(parity) -> dict:
    data = json.loads((parity / "state_dict_keys.json").read_text())
    return {k: v for k, v in data.items() if isinstance(v, dict) and "keys" in v}


def _shapes(model) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def test_every_reference_config_matches(reference_keys):
    assert reference_keys, "state_dict_keys.json lists no configs"
    for name, ref in reference_keys.items():
        model = build_on_meta(network_config_from_dict(ref["network_module_args"], name))
        shapes = _shapes(model)
        assert list(shapes) == list(ref["keys"]), f"{name}: key set/order differs: {set(shapes) ^ set(ref['keys'])}"
        assert shapes == ref["keys"], f"{name}: shapes differ"
        n = sum(p.numel() for p in model.motion_transformer.parameters())
        assert n == ref["motion_transformer_params"], name
        assert sum(p.numel() for p in model.parameters()) == ref["pipeline_params"], name
        assert all(p.device.type == "meta" for p in model.parameters())


@pytest.mark.parametrize("folder", ["HY-Motion-1.0", "HY-Motion-1.0-Lite"])
def test_full_size_config_files(folder, reference_keys):
    if folder not in reference_keys:
        pytest.skip(f"state_dict_keys.json has no {folder}")
    cfg = load_config(FIXTURES / f"{folder}.yml")
    assert _shapes(build_on_meta(cfg.network)) == reference_keys[folder]["keys"]
    assert cfg.pipeline.train_frames == 360 and cfg.pipeline.validation_steps == 50


def test_fixture_config_builds_its_listed_keys(parity, reference_keys):
    import yaml

    raw = yaml.safe_load((parity / "model" / "config.yml").read_text())["network_module_args"]
    listed = [ref for ref in reference_keys.values() if ref["network_module_args"] == raw]
    if not listed:
        pytest.skip("state_dict_keys.json has no entry for the fixture's own config")
    cfg = load_config(parity / "model" / "config.yml")
    assert _shapes(build_on_meta(cfg.network)) == listed[0]["keys"]


def _raw(parity_cfg: Path) -> dict:
    import yaml

    return yaml.safe_load(parity_cfg.read_text())


def test_unknown_keys_warn_not_crash(parity):
    raw = _raw(parity / "model" / "config.yml")
    raw["network_module_args"]["shiny_new_option"] = 3
    raw["train_pipeline_args"]["another_one"] = True
    with pytest.warns(UserWarning) as caught:
        cfg = model_config_from_dict(raw, "x.yml")
    messages = " ".join(str(w.message) for w in caught)
    assert "shiny_new_option" in messages and "another_one" in messages and "x.yml" in messages
    assert cfg.network.feat_dim == raw["network_module_args"]["feat_dim"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r["network_module_args"].pop("feat_dim"), "feat_dim"),
        (lambda r: r["network_module_args"].update(feat_dim=0), "feat_dim"),
        (lambda r: r["network_module_args"].update(num_heads=-4), "num_heads"),
        (lambda r: r["network_module_args"].update(num_layers=7), "multiple of 3"),
        (lambda r: r["network_module_args"].update(feat_dim=30, num_heads=4), "heads"),
        (lambda r: r.pop("network_module_args"), "network_module_args"),
        (lambda r: r["train_pipeline_args"].update(train_frames=0), "train_frames"),
    ],
)
def test_bad_config_names_the_file(parity, tmp_path, edit, message):
    import yaml

    raw = _raw(parity / "model" / "config.yml")
    edit(raw)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_or_broken_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "config.yml")
    (tmp_path / "config.yml").write_text("network_module_args: [unclosed")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(tmp_path / "config.yml")
