"""Run inside bpy by test_blender_takes.py: the take writer on its own (no daemon)."""

import json
import sys
import time
from pathlib import Path

import bpy
import numpy as np

from motionbridge.dcc_plugin.blender import action_api, takes_io
from motionbridge.dcc_plugin.blender.host import BlenderHost
from motionbridge.dcc_plugin.blender.mannequin import build_mannequin
from motionbridge.dcc_plugin.core import targeting
from motionbridge.rigs import synthetic

out = {"blender": ".".join(str(x) for x in bpy.app.version), "layered": action_api.LAYERED}
rig = build_mannequin("Hero", with_body=True)
host = BlenderHost()
skeleton = host.read_rig("Hero")
target = targeting.resolve_target("Hero", skeleton)
clip, _ = targeting.to_target(synthetic.walking(5.0), target)  # 150 frames
ms = []
for i in range(3):
    t0 = time.perf_counter()
    host.apply_take("Hero", clip, f"walk_{i}", {"prompt": "walk", "seed": i})
    ms.append((time.perf_counter() - t0) * 1000)
out["keys_ms"] = ms
back = host.read_take("walk_1")
out["max_rot_err"] = float(np.abs(np.abs(np.sum(back.rotations * clip.rotations, axis=-1)) - 1).max())
out["max_root_err"] = float(np.abs(back.root_translation - clip.root_translation).max())
out["frames"] = back.num_frames
bpy.context.scene.frame_set(40)  # the evaluated pose equals the clip's FK
_, fk = clip.world()
heads = np.array([rig.pose.bones[n].head for n in skeleton.names])
out["pose_err_m"] = float(np.abs(heads - fk[39]).max())
before = (len(bpy.data.actions), len(rig.animation_data.nla_tracks))
try:
    host.apply_take("Hero", clip, "broken", {"not_json": object()})
except TypeError:
    out["failed_write_raised"] = True
out["after_failure"] = [len(bpy.data.actions) - before[0], len(rig.animation_data.nla_tracks) - before[1]]
out["takes"] = sorted(t.name for t in takes_io.list_takes())
Path(sys.argv[1]).write_text(json.dumps(out))
