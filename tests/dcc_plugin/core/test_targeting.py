import numpy as np
import pytest
from dcc_fakes import random_smplx_clip

from motionbridge.dcc_plugin.core import targeting
from motionbridge.rigs import RigError, Skeleton, quat, skeleton_from_world
from motionbridge.rigs.smplx import smplx_skeleton

Y_TO_Z = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)  # (x, y, z) -> (x, -z, y)


def z_up_cm_smplx_with_twisted_bone_frames() -> Skeleton:
    """The SMPL-X skeleton as a DCC would hold it: Z-up, centimetres, bones with their own rest frames."""
    src = smplx_skeleton()
    _, pos = src.rest_world()
    rng = np.random.default_rng(7)
    frames = quat.normalize(rng.normal(size=(src.num_joints, 4)))
    return skeleton_from_world(src.names, src.parents, pos @ Y_TO_Z.T * 100.0, frames, up_axis="z", units="cm")


def test_same_topology_transfer_keeps_bone_directions_across_frames_and_units():
    source = random_smplx_clip(1, frames=8)
    target = z_up_cm_smplx_with_twisted_bone_frames()
    out = targeting.transfer_same_topology(source, target)
    _, src_pos = source.world()
    _, dst_pos = out.world()
    parents = target.parents
    child = np.arange(1, target.num_joints)
    src_dir = src_pos[:, child] - src_pos[:, parents[child]]
    dst_dir = (dst_pos[:, child] - dst_pos[:, parents[child]]) / 100.0
    np.testing.assert_allclose(dst_dir, src_dir @ Y_TO_Z.T, atol=1e-6)
    np.testing.assert_allclose(dst_pos[:, 0] / 100.0, src_pos[:, 0] @ Y_TO_Z.T, atol=1e-6)


def test_same_topology_root_motion_off_keeps_the_hips_at_rest():
    """The panel's Root motion checkbox also holds on the SMPL-X path (the mannequin)."""
    source = random_smplx_clip(2, frames=8)
    target = z_up_cm_smplx_with_twisted_bone_frames()
    target_rig = targeting.resolve_target("mannequin", target)
    still, _ = targeting.to_target(source, target_rig, {"root_motion": False})
    moving, _ = targeting.to_target(source, target_rig, {"root_motion": True})
    np.testing.assert_allclose(still.root_translation, np.broadcast_to(target.rest_translations[0], (8, 3)))
    assert np.ptp(moving.root_translation, axis=0).max() > 0.1  # cm: the source root does move
    np.testing.assert_allclose(still.rotations, moving.rotations)


def test_foot_lock_also_holds_on_the_smplx_path():
    """An SMPL-X mannequin with longer legs: the exact transfer copies rotations, so its planted
    feet slide; with Foot lock the panel routes it through the retargeter's leg IK (the setting
    used to be ignored on this path): the legs change, the body around the pelvis does not (the
    retargeter also scales the root's path to the longer legs)."""
    from motionbridge.rigs.synthetic import MOTIONS

    src = smplx_skeleton()
    _, pos = src.rest_world()
    legs = {src.index(n) for n in src.names if any(part in n for part in ("knee", "ankle", "foot"))}
    longer = pos.copy()
    for j in range(1, src.num_joints):
        longer[j] = longer[src.parents[j]] + (pos[j] - pos[src.parents[j]]) * (1.3 if j in legs else 1.0)
    frames = quat.normalize(np.random.default_rng(7).normal(size=(src.num_joints, 4)))
    rig = skeleton_from_world(src.names, src.parents, longer @ Y_TO_Z.T * 100.0, frames, up_axis="z", units="cm")
    target = targeting.resolve_target("mannequin", rig)
    assert target.mapping is None  # the SMPL-X path
    walking = MOTIONS["walking"]()
    free, _ = targeting.to_target(walking, target, {"foot_lock": False})
    locked, metrics = targeting.to_target(walking, target, {"foot_lock": True})
    assert metrics["contact_frames.left"] >= 10 and metrics["contact_frames.right"] >= 10

    def slowest_ankle_speed(clip, joint):  # cm/s over the slowest (planted) frames
        _, world = clip.world()
        speed = np.linalg.norm(np.diff(world[:, rig.index(joint), :2], axis=0), axis=-1) * walking.fps
        return np.sort(speed)[:15].mean()

    for ankle in ("left_ankle", "right_ankle"):
        assert slowest_ankle_speed(free, ankle) > 5.0  # the longer legs really slide
        assert slowest_ankle_speed(locked, ankle) < 1.0
    _, a = free.world()
    _, b = locked.world()
    untouched = [j for j in range(rig.num_joints) if j not in legs]
    np.testing.assert_allclose(b[:, untouched] - b[:, :1], a[:, untouched] - a[:, :1], atol=1e-6)


def test_the_model_skeleton_is_detected_once_not_per_clip(monkeypatch):
    """Every result brings its own SMPL-X Skeleton object; detecting it again for each clip
    was half of a retarget's time. Same answer, one detection."""
    import importlib

    import motionbridge.rigs as rigs_pkg
    from motionbridge.rigs.humanoid import build_rig

    retarget_mod = importlib.import_module("motionbridge.rigs.retarget")  # the package's `retarget` is the function

    rig = build_rig("mixamo", bone_axes="y_along_bone", up_axis="z", units="cm")
    target = targeting.resolve_target("hero", rig)
    clips = [random_smplx_clip(seed, frames=6) for seed in (3, 4)]
    clips[1] = clips[1].replace(skeleton=Skeleton.from_dict(clips[1].skeleton.to_dict()))  # equal, not identical
    expected = [rigs_pkg.retarget(c, rig, mapping=target.mapping).clip for c in clips]
    calls = []
    real = rigs_pkg.detect_rig
    counting = lambda skeleton, *a, **k: (calls.append(skeleton.num_joints), real(skeleton, *a, **k))[1]  # noqa: E731
    monkeypatch.setattr(rigs_pkg, "detect_rig", counting)
    monkeypatch.setattr(retarget_mod, "detect_rig", counting)
    monkeypatch.setattr(targeting, "_SOURCE_MAPPINGS", {})
    got = [targeting.to_target(c, target, {"root_motion": True, "foot_lock": False})[0] for c in clips]
    assert calls == [55]
    for want, out in zip(expected, got):
        np.testing.assert_array_equal(out.rotations, want.rotations)
        np.testing.assert_array_equal(out.root_translation, want.root_translation)


def test_resolve_target_smplx_and_errors():
    sk = smplx_skeleton()
    t = targeting.resolve_target("body", sk)
    assert t.preset == "smplx" and t.confidence == 1.0 and t.mapping is None
    with pytest.raises(RigError, match="same joint names"):
        small = Skeleton(("a", "b"), [-1, 0], np.zeros((2, 3)), np.tile(quat.IDENTITY, (2, 1)))
        targeting.transfer_same_topology(random_smplx_clip(0, 2), small)
