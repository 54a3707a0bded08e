"""Run as a subprocess (ufbx's binding can segfault; a crash must fail one check, not the suite).

argv: file.fbx frames out.json, where frames is a count (0..n-1) or a comma list. Dumps, in the file's own axes and units: bone names and
parents, per-stack joint world positions for `frames` frames, the frame rate, unit and axes,
and the stacks' motionbridge_* properties.
"""

import json
import sys

import ufbx

# The binding frees an element when its Python wrapper dies while others still point at it;
# holding every wrapper until exit avoids that crash.
KEEP = []


def held(obj):
    KEEP.append(obj)
    return obj


def main():
    path, spec, out = sys.argv[1], sys.argv[2], sys.argv[3]
    frames = [int(f) for f in spec.split(",") if f] if "," in spec else list(range(int(spec)))
    scene = held(ufbx.load_file(path))
    fps = scene.settings.frames_per_second
    nodes = held(scene.nodes)
    info = []
    for i in range(len(nodes)):
        node = held(nodes[i])
        parent = held(node.parent)
        info.append((node.name, parent.name if parent is not None else None, held(node.bone) is not None))
    names = [name for name, _, is_bone in info if is_bone]
    parents = [parent or None for _, parent, is_bone in info if is_bone]
    takes, meta = {}, {}
    stacks = held(scene.anim_stacks)
    for s in range(len(stacks)):
        stack = held(stacks[s])
        anim = held(stack.anim)
        per_frame = []
        for f in frames:
            evaluated = held(ufbx.evaluate_scene(scene, anim, f / fps))
            enodes = held(evaluated.nodes)
            world = {}
            for i in range(len(enodes)):
                node = held(enodes[i])
                c3 = held(node.node_to_world).c3
                world[node.name] = [c3.x, c3.y, c3.z]
            per_frame.append([world[name] for name in names])
        takes[stack.name] = per_frame
        props = held(stack.props)
        stack_meta = {}
        for key in ("prompt", "seed", "model"):
            prop = held(props.find_prop(f"motionbridge_{key}"))
            if prop is not None:
                stack_meta[key] = prop.value_str
        meta[stack.name] = stack_meta
    settings = held(scene.settings)
    result = {
        "bones": names, "parents": parents, "takes": takes, "meta": meta, "fps": fps,
        "unit_meters": settings.unit_meters, "up": str(held(settings.axes).up),
        "meshes": len(held(scene.meshes)), "skin_clusters": len(held(scene.skin_clusters)),
    }
    with open(out, "w") as fh:
        json.dump(result, fh)


main()
