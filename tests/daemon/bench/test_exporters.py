"""The large case (3 takes x 60 s @ 60 fps) writes through the benchmark and reads back.

Timing is printed by `python -m motionbridge.daemon.bench.exporters`, never asserted here.
"""

from __future__ import annotations

import numpy as np
import pygltflib
import pytest

from motionbridge.daemon.bench.exporters import BenchConfig, run_bench, synthetic_takes

from ...exporters.conftest import expected_in_file_frame, ufbx_readback

FRAMES = 3600


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    cfg = BenchConfig()
    results = run_bench(cfg, out, (".fbx", ".glb", ".usdc"))
    return out, synthetic_takes(cfg), results


def test_large_fbx_reads_back(bench, tmp_path):
    # ufbx (C, in a subprocess): pyassimp turns every key into Python objects, far too slow here.
    out, takes, results = bench
    assert results[".fbx"]["takes"] == 3
    check = [0, FRAMES // 2, FRAMES - 1]
    result = ufbx_readback(out / "bench.fbx", check, tmp_path / "ufbx.json")
    assert sorted(result["takes"]) == ["take1", "take2", "take3"]
    order = [result["bones"].index(n) for n in takes[0].skeleton.names]
    for k, clip in enumerate(takes):
        got = np.array(result["takes"][f"take{k + 1}"])[:, order] * result["unit_meters"]
        np.testing.assert_allclose(got, expected_in_file_frame(clip, "y", "cm")[check], atol=1e-4)


def test_large_usd_reads_back(bench):
    from pxr import Usd, UsdSkel

    out, takes, _ = bench
    stage = Usd.Stage.Open(str(out / "bench.usdc"))
    assert stage.GetEndTimeCode() == FRAMES - 1
    skel_prim = stage.GetPrimAtPath("/Root/Skeleton")
    for k, clip in enumerate(takes):
        skel_prim.GetVariantSets().GetVariantSet("take").SetVariantSelection(f"take{k + 1}")
        cache = UsdSkel.Cache()
        cache.Populate(UsdSkel.Root(stage.GetPrimAtPath("/Root")), Usd.PrimDefaultPredicate)
        query = cache.GetSkelQuery(UsdSkel.Skeleton(skel_prim))
        expected = expected_in_file_frame(clip, "y", "m")
        for f in (0, FRAMES - 1):
            got = np.array(query.ComputeJointSkelTransforms(Usd.TimeCode(f)))[:, 3, :3]
            np.testing.assert_allclose(got, expected[f], atol=1e-5)


def test_large_glb_has_every_frame(bench):
    out, takes, _ = bench
    doc = pygltflib.GLTF2().load(str(out / "bench.glb"))
    assert [a.name for a in doc.animations] == ["take1", "take2", "take3"]
    for anim in doc.animations:
        assert doc.accessors[anim.samplers[0].input].count == FRAMES
        assert doc.accessors[anim.samplers[0].input].max[0] == pytest.approx((FRAMES - 1) / 60.0)
