"""Screenshot of the MotionBridge panel in Blender's real UI (run by screenshot_panel.sh).

    blender --factory-startup --enable-event-simulate --python screenshot_panel.py -- OUT.png ENDPOINT

Runs inside a Blender with its UI (under Xvfb): enables the installed extension, adds the
SMPL-X mannequin with the panel's own button, connects to the daemon at ENDPOINT, detects the
rig, generates two takes (OUT_generating.png: a denoising preview on the rig, the progress
bar), auditions the first (OUT.png: the takes list), rests the mouse on its name
(OUT_hover.png: the tooltip with the full name), opens Rename (OUT_rename.png: the
dialog starts from the take's name) and cancels it, deletes the second take (confirming the
question) and undoes that (both takes must be back), then selects a copy of the rig whose
pelvis bone has a studio name, which detection cannot map (OUT_error.png: the error line;
OUT_mapping.png: the Bone Mapping editor it opened, scrolled into view). Every step goes
through the extension's operators; the timers below only wait for the panel's background
work, as a user would.

The pixels come from the X server (`xwd -root`), not from bpy.ops.screen.screenshot: under
Xvfb with Mesa's llvmpipe, Blender's screenshot operators read back an all-black front
buffer (tried on Blender 5.2.2: screenshot and screenshot_area both black) while the
window itself is drawn correctly.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import addon_utils
import bpy
import numpy as np

MODULE = "bl_ext.user_default.motionbridge"
PROMPT = "A person walks forward, then turns left and waves."
TAB = "MotionBridge"
STEP_S = 0.25  # timer period while waiting on the panel's background work
GENERATE_TIMEOUT_S = 400.0
TAB_SCAN_STEP = 15  # pixels between clicks down the sidebar's tab strip
MAX_TAB_TRIES = 60
SIDEBAR_WIDTH = 400  # pixels, wide enough for the panel's labels
FIRST_TAKE_NAME = (105, 543)  # the first takes-list row's name, from the sidebar's left and top edges (pixels)
args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
if len(args) != 2:
    raise SystemExit("usage: blender ... --python screenshot_panel.py -- OUT.png ENDPOINT")
OUT, ENDPOINT = os.path.abspath(args[0]), args[1]


def log(message: str) -> None:
    print(f"[screenshot {time.strftime('%H:%M:%S')}] {message}", flush=True)


def quit_with(message: str | None) -> None:
    if message:
        log(f"FAILED: {message}")
        sys.stdout.flush()
        os._exit(1)  # a timer cannot make Blender exit non-zero otherwise
    bpy.ops.wm.quit_blender()


def view3d():
    window = bpy.context.window_manager.windows[0]
    area = max((a for a in window.screen.areas if a.type == "VIEW_3D"), key=lambda a: a.width * a.height)
    return window, area, next(r for r in area.regions if r.type == "WINDOW"), next(r for r in area.regions if r.type == "UI")


def call(op, *args, **kwargs):
    """Run an operator as if from the 3D view (timers have no area in their context)."""
    window, area, region, _ = view3d()
    with bpy.context.temp_override(window=window, area=area, region=region):
        return op(*args, **kwargs)


def build_scene() -> None:
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    call(bpy.ops.motionbridge.add_mannequin)  # the panel's armature button
    scene = bpy.context.scene
    rig = scene.motionbridge.target
    bpy.context.view_layer.objects.active = rig
    rig.select_set(True)
    body = rig.children[0]
    body.color = (0.78, 0.6, 0.42, 1.0)
    window, area, region, _ = view3d()
    space = area.spaces.active
    space.shading.color_type = "OBJECT"
    space.shading.show_cavity = True
    space.overlay.show_relationship_lines = False
    space.show_region_ui = True
    r3d = space.region_3d
    r3d.view_perspective = "PERSP"
    # three-quarter front view of a Z-up character facing -Y, looking a little down
    r3d.view_rotation = (0.8200, 0.4531, 0.1814, 0.3010)
    r3d.view_location = (0.35, 0.0, 0.0)
    r3d.view_distance = 3.6

    props = scene.motionbridge
    props.prompt = PROMPT
    props.duration_s = 3.0
    props.variations = 2
    props.preview_every = 5
    # the parity fixture's random weights give noise, root motion included: keep the hips in
    # place so the character stays in view
    props.root_motion = False
    bpy.context.window_manager.motionbridge.endpoint = ENDPOINT


def show_tab(attempt: int) -> bool:
    """Switch the sidebar to the MotionBridge tab by clicking down its tab strip, as a user
    would (Region.active_panel_category is read-only from Python); True once it shows."""
    window, _, _, ui = view3d()
    if ui.active_panel_category == TAB:
        return True
    x = ui.x + ui.width - 10  # the tabs run down the region's right edge
    y = ui.y + ui.height - 20 - TAB_SCAN_STEP * attempt
    for kind, value in (("MOUSEMOVE", "NOTHING"), ("LEFTMOUSE", "PRESS"), ("LEFTMOUSE", "RELEASE")):
        window.event_simulate(type=kind, value=value, x=x, y=y)
    return False


def drag_sidebar_edge(stage: int, pixels: int) -> bool:
    """Drag the sidebar's left edge outwards over a few timer ticks (hover, press, move,
    release), as a user would, so fewer labels are cut; True when done."""
    window, _, _, ui = view3d()
    y = ui.y + ui.height // 3
    edge = getattr(drag_sidebar_edge, "edge", ui.x + 2)
    drag_sidebar_edge.edge = edge
    moves = [edge - pixels * i // 8 for i in range(1, 9)]
    if stage == 0:
        window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=edge + 20, y=y)
        window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=edge, y=y)
    elif stage == 1:
        window.event_simulate(type="LEFTMOUSE", value="PRESS", x=edge, y=y)
    elif stage - 2 < len(moves):
        window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=moves[stage - 2], y=y)
    else:
        window.event_simulate(type="LEFTMOUSE", value="RELEASE", x=moves[-1], y=y)
        window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=ui.x // 3, y=y)  # off the edge
        return True
    return False


def read_xwd(path: str) -> np.ndarray:
    """An `xwd` dump of a 24/32-bit TrueColor screen as an (H, W, 3) uint8 array."""
    data = open(path, "rb").read()
    header = struct.unpack(">25I", data[:100])
    size, width, height = header[0], header[4], header[5]
    lsb_first, bits_per_pixel, bytes_per_line, ncolors = header[7] == 0, header[11], header[12], header[19]
    if bits_per_pixel != 32:
        raise RuntimeError(f"xwd gave {bits_per_pixel} bits per pixel; run Xvfb with a 24-bit screen")
    start = size + ncolors * 12
    rows = np.frombuffer(data, np.uint8, bytes_per_line * height, start).reshape(height, bytes_per_line)
    pixels = rows[:, : width * 4].reshape(height, width, 4)
    return np.ascontiguousarray(pixels[..., [2, 1, 0]] if lsb_first else pixels[..., [1, 2, 3]])


def save_png(rgb: np.ndarray, path: str) -> None:
    height, width, _ = rgb.shape
    image = bpy.data.images.new("motionbridge_screenshot", width, height, alpha=False)
    rgba = np.ones((height, width, 4), dtype=np.float32)
    rgba[..., :3] = rgb[::-1] / 255.0  # Blender images start at the bottom row
    image.pixels.foreach_set(rgba.ravel())
    image.filepath_raw = path
    image.file_format = "PNG"
    scene = bpy.context.scene
    scene.view_settings.view_transform = "Standard"  # the screen's pixels, untouched
    image.save()


def shot_path(suffix: str) -> str:
    stem, ext = os.path.splitext(OUT)
    return f"{stem}_{suffix}{ext}" if suffix else OUT


def add_studio_rig():
    """A copy of the mannequin's armature whose pelvis has a studio name: detection cannot
    map it (the hips are required), so the panel opens the mapping editor on it."""
    rig = bpy.context.scene.motionbridge.target
    studio = rig.copy()
    studio.data = rig.data.copy()
    studio.animation_data_clear()  # the copy would carry the mannequin's takes
    studio.name = studio.data.name = "StudioHero"
    studio.location.x += 0.9
    bpy.context.scene.collection.objects.link(studio)
    studio.data.bones["pelvis"].name = "Root_Pelvis_JNT"
    for obj in bpy.context.selected_objects:
        obj.select_set(False)
    bpy.context.view_layer.objects.active = studio  # Follow selection: Target becomes it
    studio.select_set(True)


def scroll_sidebar(notches: int) -> None:
    window, _, _, ui = view3d()
    x, y = ui.x + ui.width // 2, ui.y + ui.height // 2
    window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=x, y=y)
    for _ in range(notches):
        window.event_simulate(type="WHEELDOWNMOUSE", value="PRESS", x=x, y=y)


def capture(suffix: str = "") -> None:
    window = bpy.context.window_manager.windows[0]
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "screen.xwd")
        subprocess.run(["xwd", "-root", "-silent", "-out", dump], check=True)
        screen = read_xwd(dump)
    top = screen.shape[0] - (window.y + window.height)  # X counts rows from the top
    shot = screen[max(top, 0): top + window.height, window.x: window.x + window.width]
    path = shot_path(suffix)
    save_png(shot, path)
    log(f"wrote {path} ({shot.shape[1]}x{shot.shape[0]})")


class Script:
    """The steps, one timer tick at a time, so Blender keeps drawing and draining the
    extension's main-thread queue between them."""

    def __init__(self) -> None:
        self.step = "start"
        self.deadline = time.monotonic() + GENERATE_TIMEOUT_S
        self.settle = 0
        self.tab_tries = 0
        self.drag = 0
        self.width = 0
        self.previews_seen = 0

    def __call__(self):
        try:
            return self.tick()
        except Exception:
            traceback.print_exc()
            quit_with(f"step {self.step!r} raised")
            return None

    def tick(self):
        from bl_ext.user_default.motionbridge import session  # noqa: PLC0415 (enabled at run time)

        from motionbridge.dcc_plugin.core.panel import State

        panel = session.panel()
        props = bpy.context.scene.motionbridge
        if time.monotonic() > self.deadline:
            quit_with(f"timed out in step {self.step!r}: {panel.status}")
            return None
        if self.step == "start":
            build_scene()
            call(bpy.ops.screen.screen_full_area)  # the 3D view alone fills the window
            self.step = "tab"
        elif self.step == "tab":
            self.tab_tries += 1
            if show_tab(self.tab_tries):
                self.step = "widen"
            elif self.tab_tries > MAX_TAB_TRIES:
                quit_with(f"the sidebar did not switch to the {TAB} tab (it shows {view3d()[3].active_panel_category!r})")
                return None
        elif self.step == "widen":
            if self.drag == 0:
                self.width = view3d()[3].width
            if drag_sidebar_edge(self.drag, SIDEBAR_WIDTH - self.width):
                log(f"sidebar dragged from {self.width} to {view3d()[3].width} px")
                call(bpy.ops.motionbridge.connect)
                self.step = "connecting"
            self.drag += 1
            return 0.05
        elif self.step == "connecting":
            if panel.state is State.ERROR:
                quit_with(f"connect failed: {panel.error}")
                return None
            if panel.state is State.CONNECTED:
                log(panel.status)
                call(bpy.ops.motionbridge.detect)
                self.step = "detecting"
        elif self.step == "detecting":
            if panel.error:
                quit_with(f"detect failed: {panel.error}")
                return None
            if props.detected:
                log(f"detected {props.detected}")
                call(bpy.ops.motionbridge.generate)
                self.step = "generating"
        elif self.step == "generating":
            if panel.state is State.ERROR:
                quit_with(f"generate failed: {panel.error}")
                return None
            if panel.state is State.PREVIEW:
                self.previews_seen += 1
                if self.previews_seen == 3:  # drawn a few times with the preview pose
                    capture("generating")
            if panel.state is State.TAKE_WRITTEN:
                log(panel.status)
                first = props.takes[0].name
                call(bpy.ops.motionbridge.take_audition, take=first)
                props.takes_index = 0
                props.takes[0].selected = True
                bpy.context.scene.frame_set(40)
                self.step = "settle"
        elif self.step == "settle":
            self.settle += 1  # a few redraws after the last change
            if self.settle >= 6:
                capture()
                window, _, _, ui = view3d()  # rest the mouse on the first take's name: its tooltip
                x, y = ui.x + FIRST_TAKE_NAME[0], ui.y + ui.height - FIRST_TAKE_NAME[1]
                window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=x - 4, y=y)
                window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=x, y=y)
                self.step, self.settle = "hover", 0
        elif self.step == "hover":
            self.settle += 1
            if self.settle == 8:  # tooltips show after the mouse rests a moment
                capture("hover")
                view3d()[0].event_simulate(type="MOUSEMOVE", value="NOTHING", x=20, y=20)
            elif self.settle >= 10:
                call(bpy.ops.motionbridge.take_rename, "INVOKE_DEFAULT")  # the dialog starts from the take's name
                self.step, self.settle = "renaming", 0
        elif self.step == "renaming":
            self.settle += 1
            if self.settle == 4:
                capture("rename")
                window = view3d()[0]
                window.event_simulate(type="ESC", value="PRESS")  # cancel the dialog: nothing renamed
                window.event_simulate(type="ESC", value="RELEASE")
            elif self.settle >= 6:
                self.kept = [t.name for t in props.takes]
                call(bpy.ops.motionbridge.take_delete, "INVOKE_DEFAULT", take=self.kept[-1])  # asks first
                self.step, self.settle = "deleting", 0
        elif self.step == "deleting":
            self.settle += 1
            window = view3d()[0]
            if self.settle == 3:
                window.event_simulate(type="RET", value="PRESS")  # confirm
                window.event_simulate(type="RET", value="RELEASE")
            elif self.settle == 6:
                left = [t.name for t in props.takes]
                if left != self.kept[:-1]:
                    quit_with(f"Delete did not delete {self.kept[-1]!r}: {left}")
                    return None
                call(bpy.ops.ed.undo)
            elif self.settle == 9:
                back = [t.name for t in props.takes]
                log(f"Delete asked, deleted {self.kept[-1]}; Undo brought back {back}")
                if back != self.kept:
                    quit_with(f"Undo after Delete gave {back}, not {self.kept}")
                    return None
                add_studio_rig()
                call(bpy.ops.motionbridge.detect)
                self.step, self.settle = "unmappable", 0
        elif self.step == "unmappable":
            if panel.error_cause == "mapping" and len(props.mapping_rows) > 0:
                self.settle += 1
                if self.settle == 6:
                    capture("error")
                    scroll_sidebar(40)
                elif self.settle >= 12:
                    capture("mapping")
                    quit_with(None)
                    return None
        return STEP_S


def main() -> None:
    bpy.context.preferences.view.show_splash = False
    module = addon_utils.enable(MODULE, default_set=True, handle_error=lambda exc: log(f"enable failed: {exc}"))
    if module is None:
        quit_with(f"could not enable {MODULE}; is the extension installed in BLENDER_USER_RESOURCES?")
    bpy.app.timers.register(Script(), first_interval=1.0)


main()
