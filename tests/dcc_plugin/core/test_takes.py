import json

import pytest

from motionbridge.dcc_plugin.core import takes


def test_names_are_readable_unique_and_stable():
    first = takes.take_name("A person walks forward, then turns left.", 3)
    assert first == "mb_walks_forward_turns_left_s3"
    existing = {first}
    second = takes.take_name("A person walks forward, then turns left.", 3, existing)
    assert second == first + "_2"
    existing.add(second)
    assert takes.take_name("A person walks forward, then turns left.", 3, existing) == first + "_3"
    # same inputs, same answer
    assert takes.take_name("A person walks forward, then turns left.", 3, {first}) == second
    assert takes.take_name("!!!", 0) == "mb_take_s0"
    assert len(takes.take_name("x" * 500, 2**62)) <= takes.MAX_NAME + 5


@pytest.mark.parametrize("bad, why", [("", "empty"), ("a/b", "cannot contain"), ("x" * 100, "keep it"), ("taken", "already exists")])
def test_rename_rejects_bad_names(bad, why):
    with pytest.raises(ValueError, match=why):
        takes.check_take_name(bad, {"taken"})
    assert takes.check_take_name("  walk_v2 ", {"taken"}) == "walk_v2"


def test_metadata_round_trips_and_merges_sources():
    meta = takes.metadata_for(
        prompt="walk", seed=4, cfg=5.0, duration_s=2.0,
        clip_metadata={"model": "HY-Motion-1.0", "model_hash": "deadbeef", "seed": 4},
        server_info={"version": "0.1.0"}, rig_preset="mixamo",
        retarget_metrics={"foot_skate_cm": 0.5, "note": "not a number"},
        request_id="r1", num_frames=60, fps=30.0, host="fake",
    )
    d = json.loads(meta.to_json())
    assert d["model"] == "HY-Motion-1.0" and d["model_hash"] == "deadbeef" and d["daemon_version"] == "0.1.0"
    assert d["retarget_metrics"] == {"foot_skate_cm": 0.5}
    assert takes.TakeMetadata.from_json(meta.to_json()) == meta
    with pytest.raises(ValueError, match="missing"):
        takes.TakeMetadata.from_dict({"prompt": "x"})
    with pytest.raises(ValueError, match="not valid JSON"):
        takes.TakeMetadata.from_json("{nope")
