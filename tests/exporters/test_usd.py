"""USD: usd-core validators report nothing, UsdSkel reads joints back, variants switch takes."""

from __future__ import annotations

import numpy as np
import pytest
from pxr import Sdf, Usd, UsdGeom, UsdSkel, UsdValidation

from motionbridge.exporters import registry

from .conftest import expected_in_file_frame

TOL = 1e-5  # metres


@pytest.fixture(scope="module")
def files(tmp_path_factory, clip_a, clip_b):
    d = tmp_path_factory.mktemp("usd")
    out = {
        "usda_body": (d / "takes.usda", [clip_a, clip_b], ["wave", "jump"], {"body": True}),
        "usdc_zup_cm": (d / "takes.usd", [clip_a, clip_b], ["wave", "jump"], {"up": "z", "units": "cm"}),
        "usdc_one": (d / "one.usdc", [clip_b], ["jump"], {}),
    }
    for path, takes, names, opts in out.values():
        registry.write(path, takes, names, **opts)
    return out


def validation_errors(stage: Usd.Stage) -> list[str]:
    validators = UsdValidation.ValidationRegistry().GetOrLoadAllValidators()
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    return [f"{e.GetType()}: {e.GetMessage()}" for e in errors]


def joints_for_take(path, take: str) -> tuple[np.ndarray, float]:
    """(frames, J, 3) joint positions in metres with the 'take' variant set to `take`."""
    stage = Usd.Stage.Open(str(path))
    skel_prim = stage.GetPrimAtPath("/Root/Skeleton")
    assert skel_prim.GetVariantSets().GetVariantSet("take").SetVariantSelection(take)
    cache = UsdSkel.Cache()
    cache.Populate(UsdSkel.Root(stage.GetPrimAtPath("/Root")), Usd.PrimDefaultPredicate)
    query = cache.GetSkelQuery(UsdSkel.Skeleton(skel_prim))
    frames = stage.GetPrimAtPath(f"/Root/Takes/{take}").GetCustomData()["frames"]
    mpu = UsdGeom.GetStageMetersPerUnit(stage)
    pos = np.array([np.array(query.ComputeJointSkelTransforms(Usd.TimeCode(f)))[:, 3, :3] for f in range(frames)])
    return pos * mpu, mpu


@pytest.mark.parametrize("case", ["usda_body", "usdc_zup_cm", "usdc_one"])
def test_validators_report_no_errors(files, case):
    stage = Usd.Stage.Open(str(files[case][0]))
    assert validation_errors(stage) == []


def test_validators_do_flag_a_broken_stage():
    stage = Usd.Stage.CreateInMemory()
    UsdSkel.Skeleton.Define(stage, "/Skel")
    mesh = UsdGeom.Mesh.Define(stage, "/Skel/Mesh")
    UsdSkel.BindingAPI(mesh.GetPrim()).CreateJointIndicesPrimvar(False, 4)
    errors = " ".join(validation_errors(stage))
    assert "metersPerUnit" in errors and "upAxis" in errors and "SkelBindingAPI" in errors


@pytest.mark.parametrize("case", ["usda_body", "usdc_zup_cm", "usdc_one"])
def test_joints_read_back_for_every_take(files, case):
    path, takes, names, opts = files[case]
    up, units = opts.get("up", "y"), opts.get("units", "m")
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == up.upper()
    assert stage.GetTimeCodesPerSecond() == takes[0].fps
    for take, clip in zip(names, takes):
        got, mpu = joints_for_take(path, take)
        assert mpu == {"m": 1.0, "cm": 0.01}[units]
        np.testing.assert_allclose(got, expected_in_file_frame(clip, up, units), atol=TOL, err_msg=take)
        meta = stage.GetPrimAtPath(f"/Root/Takes/{take}").GetCustomData()["motionbridge"]
        assert meta["prompt"] == clip.metadata["prompt"]


def test_switching_the_variant_changes_the_pose(files):
    path = files["usdc_zup_cm"][0]
    wave, _ = joints_for_take(path, "wave")
    jump, _ = joints_for_take(path, "jump")
    n = min(len(wave), len(jump))
    assert np.abs(wave[:n] - jump[:n]).max() > 0.05


def test_animation_source_is_bound_only_inside_variants(files):
    for path, *_ in files.values():
        layer = Sdf.Layer.FindOrOpen(str(path))  # keep the layer alive while reading its specs
        spec = layer.GetPrimAtPath("/Root/Skeleton")
        assert "skel:animationSource" not in spec.properties
        for variant in spec.variantSets["take"].variants.values():
            assert "skel:animationSource" in variant.primSpec.properties


def test_formats_follow_the_extension(files):
    assert files["usda_body"][0].read_bytes().startswith(b"#usda")
    assert files["usdc_zup_cm"][0].read_bytes().startswith(b"PXR-USDC")
    assert files["usdc_one"][0].read_bytes().startswith(b"PXR-USDC")


def test_body_mesh_is_bound_to_the_skeleton(files):
    stage = Usd.Stage.Open(str(files["usda_body"][0]))
    binding = UsdSkel.BindingAPI(stage.GetPrimAtPath("/Root/Body"))
    assert binding.GetSkeletonRel().GetTargets() == [Sdf.Path("/Root/Skeleton")]
    points = UsdGeom.Mesh(stage.GetPrimAtPath("/Root/Body")).GetPointsAttr().Get()
    indices = binding.GetJointIndicesPrimvar()
    assert indices.GetElementSize() == 4 and len(indices.Get()) == 4 * len(points)
    assert max(indices.Get()) < 55


def test_usdskel_skins_the_body_like_our_own_skinning(files):
    from motionbridge.exporters.prepare import to_frame

    from .conftest import skinned_vertices

    path, takes, names, _ = files["usda_body"]
    stage = Usd.Stage.Open(str(path))
    root = UsdSkel.Root(stage.GetPrimAtPath("/Root"))
    cache = UsdSkel.Cache()
    cache.Populate(root, Usd.PrimDefaultPredicate)
    query = cache.GetSkelQuery(UsdSkel.Skeleton(stage.GetPrimAtPath("/Root/Skeleton")))
    (binding,) = cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate)
    (skinning,) = binding.GetSkinningTargets()
    indices = list(range(0, 10000, 97))
    ours = skinned_vertices(to_frame(takes[0], "y", "m"), indices)
    for f in (0, takes[0].num_frames - 1):
        points = UsdGeom.Mesh(stage.GetPrimAtPath("/Root/Body")).GetPointsAttr().Get()
        assert skinning.ComputeSkinnedPoints(query.ComputeSkinningTransforms(Usd.TimeCode(f)), points, Usd.TimeCode(f))
        np.testing.assert_allclose(np.array(points)[indices], ours[f], atol=TOL)
