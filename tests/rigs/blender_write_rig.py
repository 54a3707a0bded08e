"""Run by Blender's Python (the bpy module) in a subprocess: build an armature from a JSON
spec and export it as FBX, GLB, glTF and BVH. Usage: python blender_write_rig.py spec.json outdir"""

import json
import sys
from pathlib import Path

import bpy

spec = json.loads(Path(sys.argv[1]).read_text())
out = Path(sys.argv[2])
bpy.ops.wm.read_factory_settings(use_empty=True)
arm = bpy.data.armatures.new("Armature")
obj = bpy.data.objects.new("Armature", arm)
bpy.context.scene.collection.objects.link(obj)
bpy.context.view_layer.objects.active = obj
bpy.ops.object.mode_set(mode="EDIT")
for b in spec["bones"]:
    eb = arm.edit_bones.new(b["name"])
    eb.head, eb.tail, eb.roll = b["head"], b["tail"], b["roll"]
    if b["parent"]:
        eb.parent = arm.edit_bones[b["parent"]]
bpy.ops.object.mode_set(mode="OBJECT")
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 2
obj.animation_data_create()
for f in (1, 2):
    for pb in obj.pose.bones:
        pb.keyframe_insert("rotation_quaternion", frame=f)
obj.select_set(True)
bpy.ops.export_scene.fbx(filepath=str(out / "rig.fbx"), object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=False)
bpy.ops.export_anim.bvh(filepath=str(out / "rig.bvh"), frame_start=1, frame_end=2)
# glTF writes a skin only for a skinned mesh: one small triangle bound to the first bone
mesh = bpy.data.meshes.new("body")
mesh.from_pydata([(0, 0, 0), (0.01, 0, 0), (0, 0.01, 0)], [], [(0, 1, 2)])
body = bpy.data.objects.new("body", mesh)
scene.collection.objects.link(body)
body.parent = obj
body.modifiers.new("armature", "ARMATURE").object = obj
body.vertex_groups.new(name=spec["bones"][0]["name"]).add([0, 1, 2], 1.0, "REPLACE")
bpy.ops.export_scene.gltf(filepath=str(out / "rig.glb"), export_format="GLB", export_animations=False)
bpy.ops.export_scene.fbx(filepath=str(out / "rig_skinned.fbx"), object_types={"ARMATURE", "MESH"}, add_leaf_bones=True, bake_anim=False)
bpy.ops.export_scene.gltf(filepath=str(out / "rig.gltf"), export_format="GLTF_SEPARATE", export_animations=False)
print("EXPORTED")
