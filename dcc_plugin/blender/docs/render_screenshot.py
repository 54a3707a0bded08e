"""Renders the README picture headless: the SMPL-X mannequin keyed through the plugin's own
take path (BlenderHost.apply_take), mid-stride, with Workbench.

    python dcc_plugin/blender/docs/render_screenshot.py OUT.png   (with bpy 4.5 importable)
"""

import sys

import bpy

from motionbridge.dcc_plugin.blender.host import BlenderHost
from motionbridge.dcc_plugin.blender.mannequin import build_mannequin
from motionbridge.dcc_plugin.core import targeting
from motionbridge.rigs import synthetic

out = sys.argv[1]
bpy.ops.wm.read_factory_settings(use_empty=True)
rig = build_mannequin("Mannequin")
host = BlenderHost()
skeleton = host.read_rig(rig.name)
target = targeting.resolve_target(rig.name, skeleton)
for _i, (name, clip) in enumerate((("mb_walk_s0", synthetic.walking(2.0)), ("mb_wave_s0", synthetic.waving(2.0)))):
    moved, _ = targeting.to_target(clip, target)
    host.apply_take(rig.name, moved, name, {"prompt": name, "seed": 0})
host.audition_take("mb_wave_s0")
host.set_timeline(1, 60, 30.0)
scene = bpy.context.scene
scene.frame_set(25)

cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
scene.collection.objects.link(cam)
body = rig.children[0]
zs = [v.co.z for v in body.data.vertices]
low, high = min(zs), max(zs)
aim = bpy.data.objects.new("Aim", None)
scene.collection.objects.link(aim)
aim.location = (0.0, 0.0, (low + high) / 2 + 0.1)
cam.location = (2.6, -4.2, aim.location.z + 0.6)
track = cam.constraints.new("TRACK_TO")
track.target = aim
cam.data.lens = 40
scene.camera = cam
world = bpy.data.worlds.new("World")
world.color = (0.16, 0.18, 0.21)
scene.world = world
floor = bpy.data.meshes.new("Floor")
floor.from_pydata([(-4, -4, 0), (4, -4, 0), (4, 4, 0), (-4, 4, 0)], [], [(0, 1, 2, 3)])
floor_obj = bpy.data.objects.new("Floor", floor)
scene.collection.objects.link(floor_obj)
floor_obj.location.z = low

scene.render.engine = "BLENDER_WORKBENCH"
scene.display.shading.light = "STUDIO"
scene.display.shading.color_type = "OBJECT"
scene.display.shading.show_shadows = True
scene.display.shading.show_cavity = True
rig.children[0].color = (0.78, 0.6, 0.42, 1.0)
scene.render.resolution_x, scene.render.resolution_y = 800, 450
scene.render.image_settings.file_format = "PNG"
scene.render.image_settings.color_mode = "RGB"
scene.render.image_settings.compression = 100
scene.render.filepath = out
bpy.ops.render.render(write_still=True)
print("wrote", out)
