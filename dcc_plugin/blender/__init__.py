"""MotionBridge for Blender 4.2+ (an extension): a prompt becomes takes on your armature.

Inside the built extension the motionbridge packages it needs are vendored under
`vendor/`; in a source checkout they import from the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

_VENDOR = Path(__file__).resolve().parent / "vendor"
if _VENDOR.is_dir() and str(_VENDOR) not in sys.path:
    sys.path.insert(0, str(_VENDOR))

import bpy  # noqa: E402

from . import export_modules, operators, props, session, ui  # noqa: E402

_CLASSES = (*props.CLASSES, *operators.CLASSES, *ui.CLASSES)


def register() -> None:
    export_modules.use_bundled_modules()
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    props.register()
    try:
        props.load_user_settings(bpy.context)
    except AttributeError:  # no window manager yet (factory startup); defaults stay
        pass


def unregister() -> None:
    session.shutdown()
    props.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
