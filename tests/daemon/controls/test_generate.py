"""Directed takes on the parity fixture (random weights: hard constraints are measurable,
seams are not). Constraint error is measured after the full decode, on the written take."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from motionbridge.daemon.controls import generate as G
from motionbridge.daemon.controls import spec
from motionbridge.daemon.controls.seams import pose_errors
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.rigs.synthetic import MOTIONS

from .conftest import revived

LIMIT_CM, LIMIT_DEG = 1.0, 1.0


def keys_file(tmp_path: Path, clip, frames_in_clip, key_frames) -> Path:
    path = tmp_path / "keys.npz"
    np.savez(path, frames=np.array(key_frames), rotations=clip.rotations[frames_in_clip], root_translation=clip.root_translation[frames_in_clip])
    return path


def test_start_end_and_keys_hold_after_decoding(engine, tmp_path, record_property):
    walk, squat, wave = MOTIONS["walking"](), MOTIONS["squatting"](), MOTIONS["waving"]()
    keys, key_frames = spec.read_keys(keys_file(tmp_path, wave, [20, 45], [15, 40]))
    controls = spec.Controls(
        start=spec.start_poses(walk, 30, Path("walk.npz")), end=spec.end_poses(squat, 10, Path("squat.npz")),
        keys=keys, key_frames=key_frames,
    )
    with revived(engine):
        take = G.generate(engine, GenerationRequest("A person walks, then squats.", 2.0, (3,), 5.0), controls)[0].clip
    assert take.num_frames == 60
    checks = {"start": (0, walk, 30), "end": (59, squat, 10), "key15": (15, wave, 20), "key40": (40, wave, 45)}
    worst = {name: pose_errors(take, t, src, s) for name, (t, src, s) in checks.items()}
    record_property("constraint_error_cm_deg", worst)
    print("constraint error (cm, deg):", worst)
    for name, (cm, deg) in worst.items():
        assert cm <= LIMIT_CM and deg <= LIMIT_DEG, f"{name}: {cm:.4f} cm, {deg:.4f} deg"
    # the free frames are the model's: far from any of the imposed poses (random weights)
    assert pose_errors(take, 30, walk, 30)[0] > 5.0
    recorded = take.metadata["constraints"]
    assert recorded["start_from"] == {"file": "walk.npz", "frame": 30, "context_frames": 3}
    assert recorded["end_at"] == {"file": "squat.npz", "frame": 10, "context_frames": 3}
    assert recorded["keys"]["frames"] == [15, 40] and recorded["latent_frames"] == 64


def test_dead_checkpoint_channels_cannot_be_constrained(engine):
    """With the fixture's own stats: the root's height is placed by the pinned frames and every
    joint the dead rotation channels (left hip, spine3) do not drive is exact; those two are not."""
    walk = MOTIONS["walking"]()
    controls = spec.Controls(start=spec.start_poses(walk, 30, Path("walk.npz")))
    take = G.generate(engine, GenerationRequest("A person walks.", 1.0, (0,), 5.0), controls)[0].clip
    exact = [0, 2, 3, 5, 6, 8, 11]  # pelvis, right leg, spine1, spine2
    assert pose_errors(take, 0, walk, 30, exact)[1] < 0.01
    assert pose_errors(take, 0, walk, 30, [1, 9])[1] > 1.0
    _, p_take = take.world()
    _, p_walk = walk.world()
    assert np.abs(p_take[0, 0, [0, 2]] - p_walk[30, 0, [0, 2]]).max() < 1e-4  # ground-plane position: exact
    # height: one offset for the take, set by the mean of the 3 pinned frames (the channel cannot vary)
    heights = p_walk[28:31, 0, 1]
    assert np.abs(p_take[:, 0, 1] - heights.mean()).max() < 1e-5


def test_loop_repeats_its_start_after_the_period(engine, monkeypatch):
    req = GenerationRequest("A person walks in a circle.", 1.0, (5,), 5.0)
    runs = []

    def keep(*args, **kw):  # the sampled window, which the takes crop
        runs.append(sample(*args, **kw))
        return runs[-1]

    sample = G.sample
    monkeypatch.setattr(G, "sample", keep)
    with revived(engine):
        takes = G.generate(engine, req, spec.Controls(loop=True))
    (run,) = runs
    n, k = run.layout.frames, spec.CONTEXT_FRAMES
    assert run.layout.latent_frames == n + k and n == 30
    z = run.latent
    others = [c for c in range(201) if c not in (0, 2)]
    assert torch.equal(z[:, n : n + k][..., others], z[:, :k][..., others])  # pose and heading repeat exactly
    step = z[:, n : n + k][..., [0, 2]] - z[:, :k][..., [0, 2]]
    assert torch.allclose(step, step[:, :1].expand_as(step), atol=1e-5)  # one rigid travel per cycle
    with revived(engine):
        window = G.decode_directed(engine.pipeline, z, None, run.loop).transl.double().numpy()  # the whole sampled window
    for i, take in enumerate(takes):
        assert take.clip.num_frames == n
        travel = np.array(take.clip.metadata["constraints"]["loop"]["travel_xz_m"])  # metres
        assert np.abs(travel - (window[i, n] - window[i, 0])[[0, 2]]).max() < 1e-6  # frame n is frame 0 moved by it
        assert np.abs(take.clip.root_translation - take.clip.skeleton.rest_translations[0] - window[i, :n]).max() < 1e-5


def test_regenerate_keeps_the_take_outside_the_range(engine):
    walk = MOTIONS["walking"]()
    source, span = spec.regenerate_poses(walk, "20:39", Path("walk.npz"))
    with revived(engine):
        take = G.generate(engine, GenerationRequest("A person jumps.", 5.0, (1,), 5.0), spec.Controls(source=source, span=span))[0].clip
    assert take.num_frames == walk.num_frames and take.metadata["duration_s"] == 2.0
    kept = max(max(pose_errors(take, f, walk, f)) for f in [*range(20), *range(40, 60)])
    assert kept <= LIMIT_CM  # and degrees: the max of both
    assert min(pose_errors(take, f, walk, f)[0] for f in range(22, 38)) > 5.0  # the range is the model's own
    assert take.metadata["constraints"]["regenerate"] == {"file": "walk.npz", "frames": [20, 39]}


def test_path_is_followed_on_the_ground_plane(engine, tmp_path):
    """Waypoints at 0, 0.5 and 1.5 s (a corner): the pelvis x/z on every frame from the first
    to the last point, after the decode, against the straight lines between them."""
    points = [[0.0, 0.2, -0.1], [0.5, 0.8, -0.1], [1.5, 0.8, 1.4]]
    (tmp_path / "path.json").write_text(__import__("json").dumps({"points": points}))
    route, record = spec.read_path(tmp_path / "path.json")
    with revived(engine):
        take = G.generate(engine, GenerationRequest("A person walks.", 2.0, (2,), 5.0), spec.Controls(path=route, path_record=record))[0].clip
    frames = np.arange(0, 46)
    want = np.stack([np.interp(frames / 30, *np.array(points)[:, [0, c]].T) for c in (1, 2)], 1)
    error_cm = np.abs(take.root_translation[frames][:, [0, 2]] - want).max() * 100
    print("path error (cm):", error_cm)
    assert error_cm <= LIMIT_CM
    assert np.abs(take.root_translation[50:, [0, 2]] - want[-1]).max() > 0.05  # after the last point: free
    assert take.metadata["constraints"]["path"] == {"file": str(tmp_path / "path.json"), "points": 3}


def test_keys_with_a_root_keep_the_take_at_their_height(smooth_engine):
    """Keys carry a take file's root (its floor at y = 0), the latent its own root height: the
    keys are sampled at the model's mean root height and the take moved back (latent_shift).
    Smooth fixture, two keys of another walk at 1/3 and 2/3: measured, the root between 0.97
    and 1.03 m, the keys at 0.97 and 1.01 (without the shift the free frames sat at -0.2 m and
    the root bobbed by 1.2 m to reach each key)."""
    from motionbridge.daemon.controls import scenarios
    from motionbridge.daemon.model.encode import model_pose

    sec = scenarios.take_seconds(smooth_engine)
    source = G.generate(smooth_engine, GenerationRequest(scenarios.WALK, sec, (200,), 5.0), spec.Controls())[0].clip
    frames = [source.num_frames // 3, 2 * source.num_frames // 3]
    rot, transl = model_pose(source)
    controls = spec.Controls(keys=spec.Poses(rot[frames], transl[frames]), key_frames=tuple(frames))
    take = G.generate(smooth_engine, GenerationRequest(scenarios.WALK, sec, (0,), 5.0), controls)[0].clip
    assert max(max(pose_errors(take, f, source, f)) for f in frames) <= LIMIT_CM
    height = take.root_translation[:, 1]
    keyed = source.root_translation[frames, 1]
    assert np.abs(height - keyed.mean()).max() < 0.15, (height.min(), height.max(), keyed)


def test_an_end_without_a_start_keeps_the_take_at_its_height(smooth_engine):
    """--end-at alone: the end pose and the two frames after it pinned, no pinned first frame;
    the take stays at the end pose's height (as keys do, latent_shift) and lands on it.
    Measured: root 1.03 to 1.10 m, the end pose's 1.03 (without the shift down to -0.24 m)."""
    from motionbridge.daemon.controls import scenarios

    sec = scenarios.take_seconds(smooth_engine)
    after = G.generate(smooth_engine, GenerationRequest(scenarios.WALK, sec, (201,), 5.0), spec.Controls())[0].clip
    controls = spec.Controls(end=spec.end_poses(after, None, Path("after.npz")))
    take = G.generate(smooth_engine, GenerationRequest(scenarios.WALK, sec, (0,), 5.0), controls)[0].clip
    assert max(pose_errors(take, take.num_frames - 1, after, 0)) <= LIMIT_CM
    height = take.root_translation[:, 1]
    assert np.abs(height - after.root_translation[0, 1]).max() < 0.15, (height.min(), height.max(), after.root_translation[0, 1])
