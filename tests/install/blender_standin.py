"""A Blender executable built from a real `bpy` module, for the installer tests (no Blender
binary can be had here). It answers what the installer asks a Blender, with Blender's own
code: `--command extension ...` runs Blender's extension command line
(bl_pkg.bl_extension_cli, what `blender --command extension` runs), and
`--background --python-expr CODE` runs CODE after importing bpy.

tests/install/test_blender_install.py copies it, with a `#!` line for this Python and the
bpy folder to use, into an official build's layout (`<X.Y>/python/lib/python3.N` beside it).
"""

import os
import sys

BPY_DIR = ""  # filled in by the test: a folder holding another bpy release, or "" for the installed one

if BPY_DIR:
    sys.path.insert(0, BPY_DIR)
args = sys.argv[1:]
import bpy  # noqa: E402,F401  (a Blender starts before it reads its arguments)

if "--command" in args:
    from bl_pkg import bl_extension_cli

    rc = bl_extension_cli.cli_extension_handler(args[args.index("--command") + 2:])
elif "--python-expr" in args:
    exec(args[args.index("--python-expr") + 1])
    rc = 0
else:
    sys.stderr.write(f"blender stand-in: unsupported arguments {args}\n")
    rc = 2
sys.stdout.flush()
sys.stderr.flush()
os._exit(rc or 0)  # bpy as a module can hang in its teardown (see tests/dcc_plugin/blender/scenario_report.py)
