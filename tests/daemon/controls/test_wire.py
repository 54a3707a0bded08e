"""GENERATE's `controls` field: every Controls survives the wire exactly (through real framing),
and every malformed field is one ValueError naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motionbridge.daemon.controls import spec
from motionbridge.daemon.controls.wire import from_wire, to_wire
from motionbridge.daemon.protocol import frames as P
from motionbridge.rigs.synthetic import MOTIONS


def _through_frames(field, arrays):
    """As the daemon gets it: encoded, decoded, parsed."""
    header = {"id": "r1", "prompt": "A person walks.", "duration_s": 2.0, "controls": field}
    msg = P.decode(P.encode(P.Message(P.GENERATE, header, arrays)))
    return P.parse_generate(msg.header), msg.arrays


def _same(a: spec.Controls, b: spec.Controls) -> None:
    for name in ("start", "end", "keys", "source"):
        pa, pb = getattr(a, name), getattr(b, name)
        assert (pa is None) == (pb is None), name
        if pa is not None:
            assert pa.rotations.tobytes() == pb.rotations.tobytes() and pa.record == pb.record, name
            assert (pa.transl is None and pb.transl is None) or pa.transl.tobytes() == pb.transl.tobytes(), name
    assert (a.key_frames, a.loop, a.span, a.path_record, a.timeline, a.extend_frames) == \
        (b.key_frames, b.loop, b.span, b.path_record, b.timeline, b.extend_frames)
    assert (a.path is None and b.path is None) or a.path.tobytes() == b.path.tobytes()


def _keys(tmp_path, frames=(10, 30)):
    wave = MOTIONS["waving"]()
    path = tmp_path / "keys.npz"
    np.savez(path, frames=np.array(frames), rotations=wave.rotations[[5, 25]], root_translation=wave.root_translation[[5, 25]])
    return spec.read_keys(path)


def _examples(tmp_path):
    walk = MOTIONS["walking"]()
    keys, frames = _keys(tmp_path)
    (tmp_path / "path.json").write_text('{"points": [[0, 0, 0], [1.5, 1, 0]]}')
    route, record = spec.read_path(tmp_path / "path.json")
    source, span = spec.regenerate_poses(walk, "10:20", Path("walk.npz"))
    return {
        "start_end_keys": spec.Controls(start=spec.start_poses(walk, 30, Path("walk.npz")), end=spec.end_poses(walk, 0, Path("walk.npz")),
                                        keys=keys, key_frames=frames),
        "loop_path": spec.Controls(loop=True, path=route, path_record=record),
        "regenerate": spec.Controls(source=source, span=span),
        "keys_without_root": spec.Controls(keys=spec.Poses(keys.rotations, None, {"file": "k.npz"}), key_frames=frames),
        "extend": spec.Controls(timeline=((0, "A person walks."), (300, "A person sits down.")), extend_frames=600),
    }


@pytest.mark.parametrize("name", ["start_end_keys", "loop_path", "regenerate", "keys_without_root", "extend"])
def test_controls_round_trip_exactly(tmp_path, name):
    controls = _examples(tmp_path)[name]
    got_spec, arrays = _through_frames(*to_wire(controls))
    _same(controls, from_wire(got_spec.controls, arrays, 2.0))


def test_a_request_without_controls_is_the_request_as_before():
    spec_ = P.parse_generate({"id": "r1", "prompt": "A person walks."})
    assert spec_.controls is None and "controls" not in spec_.to_header()


def _bad(field, arrays, message, duration=2.0):
    with pytest.raises(ValueError, match=message):
        from_wire(field, arrays, duration)


def test_malformed_controls_are_refused(tmp_path):
    field, arrays = to_wire(_examples(tmp_path)["start_end_keys"])
    rot = arrays["controls.keys.rotations"]

    def changed(**new):
        return {**arrays, **new}

    nan = rot.copy()
    nan[1, 3, 0, 0] = np.nan
    _bad(field, changed(**{"controls.keys.rotations": nan}), "NaN or infinity")
    inf = arrays["controls.keys.transl"].copy()
    inf[0, 1] = np.inf
    _bad(field, changed(**{"controls.keys.transl": inf}), "NaN or infinity")
    _bad(field, changed(**{"controls.keys.rotations": rot[:, :21]}), "21 joints; the model drives 22")
    _bad(field, changed(**{"controls.keys.rotations": rot.astype("<f4")}), "must be float64")
    _bad(field, changed(**{"controls.keys.rotations": rot * 2}), "rotation matrices")
    _bad(field, changed(**{"controls.keys.rotations": rot[:1]}), "2 poses but 1 rotations|1 rotations but 2 root")
    _bad({**field, "keys": {**field["keys"], "frames": [10, 90]}}, arrays, "key frame 90 is outside the take")
    _bad({**field, "keys": {**field["keys"], "frames": [10, 10]}}, arrays, "keyed twice")
    _bad({**field, "keys": {**field["keys"], "frames": [10.0, 30]}}, arrays, "whole numbers")
    _bad({**field, "v": 2}, arrays, "version 2 is not supported")
    _bad({**field, "wind": 3}, arrays, "unknown controls fields")
    _bad(field, changed(**{"controls.extra": rot}), "unexpected arrays")
    missing = dict(arrays)
    del missing["controls.start.rotations"]
    _bad(field, missing, "'controls.start.rotations' is missing")
    _bad({**field, "loop": True}, arrays, "cannot be combined")
    _bad({"v": 1}, {}, "asks for nothing")
    _bad("start", {}, "must be a map")


def test_malformed_paths_regenerate_and_timelines_are_refused(tmp_path):
    examples = _examples(tmp_path)
    field, arrays = to_wire(examples["loop_path"])
    back = arrays["controls.path"][::-1].copy()
    _bad(field, {**arrays, "controls.path": back}, "must start at 0 or later and increase")
    _bad(field, arrays, "past the take's end", duration=1.0)
    field, arrays = to_wire(examples["regenerate"])
    _bad({**field, "source": {**field["source"], "span": [20, 10]}}, arrays, "0 <= A <= B")
    field, arrays = to_wire(examples["extend"])
    _bad({**field, "timeline": [[5, "A person walks."]]}, arrays, "starts at frame 0")
    _bad({**field, "timeline": [[0, "   "]]}, arrays, "prompt is empty")
    _bad({**field, "extend_frames": 5000}, arrays, "'extend_frames' must be")


def test_the_protocol_refuses_an_unknown_controls_version():
    with pytest.raises(P.ProtocolError, match="version 9") as exc:
        P.parse_generate({"id": "r1", "prompt": "A person walks.", "controls": {"v": 9}})
    assert exc.value.code == P.E_BAD_REQUEST
