"""Run as a subprocess: import files with Blender's own importers and dump joint world positions.

argv: jobs.json out_stem. Each job: {"path", "kind": fbx|gltf|bvh, "fps", "frames": {take: n}}.
Writes out_stem.result.json: [{"bones": [...], "parents": [...], "takes": {action: [[[x,y,z]...]...]}}].
Positions are bone heads in Blender world space (Z-up, metres).
"""

import json
import sys
from pathlib import Path

import bpy


def import_file(job):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = int(round(job["fps"]))
    scene.render.fps_base = 1.0
    path = job["path"]
    if job["kind"] == "fbx":
        bpy.ops.import_scene.fbx(filepath=path)
    elif job["kind"] == "gltf":
        bpy.ops.import_scene.gltf(filepath=path)
    elif job["kind"] == "bvh":
        bpy.ops.import_anim.bvh(filepath=path, global_scale=job.get("scale", 1.0), update_scene_fps=True,
                                rotate_mode="NATIVE", axis_forward=job.get("axis_forward", "-Z"), axis_up=job.get("axis_up", "Y"))
    else:
        raise ValueError(job["kind"])
    arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    if len(arms) != 1:
        raise RuntimeError(f"expected one armature in {path}, got {[o.name for o in arms]}")
    return arms[0]


def assign(obj, action):
    obj.animation_data_create()
    ad = obj.animation_data
    ad.action = action
    slots = getattr(action, "slots", None)
    if slots is not None and getattr(ad, "action_slot", None) is None:
        for slot in slots:
            if slot.target_id_type == "OBJECT":
                ad.action_slot = slot
                break


def skinned_points(indices):
    """World positions of some vertices of the (only) evaluated mesh, after skinning."""
    # the skinned one: importers may add helper meshes (glTF's bone-shape Icosphere)
    meshes = [o for o in bpy.context.scene.objects if o.type == "MESH" and any(m.type == "ARMATURE" for m in o.modifiers)]
    if len(meshes) != 1:
        raise RuntimeError(f"expected one mesh, got {[o.name for o in meshes]}")
    evaluated = meshes[0].evaluated_get(bpy.context.evaluated_depsgraph_get())
    mw = evaluated.matrix_world
    return [list(mw @ evaluated.data.vertices[i].co) for i in indices]


def sample(obj, action, frames, vertex_indices=None):
    # Drop NLA tracks so only the assigned action drives the pose.
    if obj.animation_data:
        for track in list(obj.animation_data.nla_tracks):
            obj.animation_data.nla_tracks.remove(track)
    assign(obj, action)
    scene = bpy.context.scene
    start = int(round(action.frame_range[0]))
    out, skin = [], []
    for f in range(start, start + frames):
        scene.frame_set(f)
        mw = obj.matrix_world
        out.append([list(mw @ pb.head) for pb in obj.pose.bones])
        if vertex_indices:
            skin.append(skinned_points(vertex_indices))
    return out, skin


def main():
    jobs = json.loads(Path(sys.argv[1]).read_text())
    results = []
    for job in jobs:
        obj = import_file(job)
        bones = [b.name for b in obj.data.bones]
        parents = [b.parent.name if b.parent else None for b in obj.data.bones]
        actions = list(bpy.data.actions)
        takes, skins = {}, {}
        for action in actions:
            frames = job["frames"].get(action.name)
            if frames is None:  # importers decorate names ("Armature|take"); match by suffix
                frames = next((n for k, n in job["frames"].items() if action.name.endswith(k) or k in action.name), None)
            if frames is None:
                frames = int(round(action.frame_range[1] - action.frame_range[0])) + 1
            takes[action.name], skins[action.name] = sample(obj, action, frames, job.get("vertices"))
        pb_names = [pb.name for pb in obj.pose.bones]
        results.append({"bones": bones, "parents": parents, "pose_bones": pb_names, "takes": takes, "skins": skins,
                        "fps": bpy.context.scene.render.fps / bpy.context.scene.render.fps_base})
    Path(sys.argv[2]).with_suffix(".result.json").write_text(json.dumps(results))


main()
