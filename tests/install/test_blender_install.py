"""`motionbridge install blender` against Blender builds laid out as the official ones are:
it finds them, reads each one's Python from its layout, refuses one it cannot serve, and has
Blender's own extension manager install and enable the extension; uninstall removes it.

The Blender executables are stand-ins built on the real `bpy` module (blender_standin.py):
every bpy release installed here (the installed one, and those in tests/.tools, see
tests/dcc_plugin/blender/bpy_builds.py) gives one Blender version."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "dcc_plugin" / "blender"))
from bpy_builds import builds  # noqa: E402
from standin_wheels import make_wheels  # noqa: E402

BUILDS = builds()


def cli(*args: str, blenders: list[Path] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MOTIONBRIDGE_BLENDER": os.pathsep.join(str(b) for b in blenders or [])}
    return subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", *args], capture_output=True, text=True, env=env, timeout=600)


def official_layout(root: Path, version: str, python: str, bpy_dir: Path | None = None) -> Path:
    """An official Linux build's layout: `blender` beside `<X.Y>/python/lib/python3.N`."""
    (root / version / "python" / "lib" / f"python{python}").mkdir(parents=True)
    exe = root / "blender"
    text = (HERE / "blender_standin.py").read_text()
    exe.write_text(f"#!{sys.executable}\n" + text.replace('BPY_DIR = ""', f"BPY_DIR = {str(bpy_dir or '')!r}"))
    exe.chmod(0o755)
    return exe


def bpy_version(bpy_dir: Path | None) -> str:
    """MAJOR.MINOR of a bpy build, from its data folder name (without importing it)."""
    origin = Path(importlib.util.find_spec("bpy").origin).parent if bpy_dir is None else bpy_dir / "bpy"
    return next(d.name for d in origin.iterdir() if d.is_dir() and d.name[0].isdigit())


def enabled_addons(exe: Path, user_folder: Path) -> str:
    """The add-ons the saved preferences enable, as that Blender reads them back. The bpy
    4.2.0 module crashes in wm.read_userpref (with or without our add-on), so there the
    saved file is searched for the add-on's module name (an uncompressed .blend stores each
    enabled add-on's module name as a string)."""
    code = "import bpy; bpy.ops.wm.read_userpref(); print('ADDONS', sorted(bpy.context.preferences.addons.keys()))"
    done = subprocess.run([str(exe), "--background", "--python-expr", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BLENDER_USER_RESOURCES": str(user_folder)})
    read = next((ln for ln in done.stdout.splitlines() if ln.startswith("ADDONS")), None)
    if read is not None:
        return read
    prefs = (user_folder / "config" / "userpref.blend").read_bytes()
    assert prefs.startswith(b"BLENDER"), "compressed preferences: cannot search them"
    return "ADDONS (from the file) " + ("'bl_ext.user_default.motionbridge'" if b"bl_ext.user_default.motionbridge" in prefs else "")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    return make_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.mark.blender
@pytest.mark.parametrize("bpy_dir", [folder for _, folder in BUILDS], ids=[label for label, _ in BUILDS])
def test_install_finds_the_blender_installs_and_enables(bpy_dir, wheels, tmp_path):
    pytest.importorskip("bpy")
    version = bpy_version(bpy_dir)
    exe = official_layout(tmp_path / f"blender-{version}-linux-x64", version, "3.11", bpy_dir)
    prefix = tmp_path / "config"
    done = cli("install", "blender", "--wheels-dir", str(wheels), "--prefix", str(prefix), blenders=[exe])
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"for Blender {version} (Python 3.11) at {exe}" in done.stdout and "enabled" in done.stdout
    ext = prefix / version / "extensions" / "user_default" / "motionbridge"
    assert (ext / "blender_manifest.toml").is_file() and (ext / "vendor" / "motionbridge" / "dcc_plugin" / "core" / "panel.py").is_file()
    assert "'bl_ext.user_default.motionbridge'" in enabled_addons(exe, prefix / version)
    again = cli("install", "blender", "--wheels-dir", str(wheels), "--prefix", str(prefix), blenders=[exe])
    assert again.returncode == 0, again.stderr[-3000:]  # installing over an installed extension replaces it
    gone = cli("uninstall", "blender", "--prefix", str(prefix), blenders=[exe])
    assert gone.returncode == 0, gone.stderr[-3000:]
    assert not ext.exists()
    assert "motionbridge" not in enabled_addons(exe, prefix / version)


def test_a_blender_too_old_is_refused_with_one_line(tmp_path, wheels):
    named = cli("install", "blender", "--blender-version", "3.4", "--wheels-dir", str(wheels), "--prefix", str(tmp_path))
    assert named.returncode == 2 and named.stderr.count("\n") == 1
    assert "Blender 3.4 cannot run the MotionBridge extension: it needs Blender 4.2 LTS or newer" in named.stderr
    old = official_layout(tmp_path / "blender-3.6", "3.6", "3.10")
    found = cli("install", "blender", "--wheels-dir", str(wheels), "--prefix", str(tmp_path / "cfg"), blenders=[old])
    assert found.returncode == 2 and "skipped: Blender 3.6 cannot run" in found.stderr
    assert "no Blender 4.2+ found" in found.stderr and not (tmp_path / "cfg").exists()
    typo = cli("install", "blender", "--blender-version", "latest", "--prefix", str(tmp_path))
    assert typo.returncode == 2 and "pass it as MAJOR.MINOR" in typo.stderr


def test_each_blender_gets_wheels_for_its_own_python(tmp_path, wheels):
    """A Blender whose layout says Python 3.13 is refused cp311 wheels (Blender would refuse
    the extension), and a zip built for 3.11 is not installed into it."""
    exe = official_layout(tmp_path / "blender-5.1", "5.1", "3.13")
    built = cli("install", "blender", "--blender", str(exe), "--wheels-dir", str(wheels), "--zip-only", str(tmp_path / "x.zip"))
    assert built.returncode == 2 and "is not for Python 3.13, the Python of that Blender" in built.stderr
    assert not (tmp_path / "x.zip").exists()
    zip311 = tmp_path / "mb311.zip"
    assert cli("install", "blender", "--wheels-dir", str(wheels), "--zip-only", str(zip311)).returncode == 0
    into = cli("install", "blender", "--from-zip", str(zip311), "--prefix", str(tmp_path / "cfg"), blenders=[exe])
    assert into.returncode == 2 and "carries wheels for Python 3.11, but Blender 5.1 (Python 3.13)" in into.stderr
    ok = cli("install", "blender", "--blender", str(exe), "--wheels-dir", str(make_wheels(tmp_path / "w313", "cp313")),
             "--zip-only", str(tmp_path / "mb313.zip"))
    assert ok.returncode == 0 and "Python 3.13 wheels" in ok.stdout, ok.stderr


def test_python_of_a_build_is_read_from_its_layout(tmp_path):
    from motionbridge.install.blender_locate import inspect, official_python

    linux = inspect(official_layout(tmp_path / "a", "4.2", "3.11"))
    assert (linux.version, linux.python) == ("4.2", "3.11")
    win = tmp_path / "win"
    (win / "5.1" / "python" / "bin").mkdir(parents=True)
    (win / "python313.dll").write_bytes(b"")
    (win / "blender.exe").write_bytes(b"")
    assert (inspect(win / "blender.exe").version, inspect(win / "blender.exe").python) == ("5.1", "3.13")
    mac = tmp_path / "Blender.app" / "Contents"
    (mac / "Resources" / "4.5" / "python" / "lib" / "python3.11").mkdir(parents=True)
    (mac / "MacOS").mkdir()
    (mac / "MacOS" / "Blender").write_bytes(b"")
    assert inspect(mac / "MacOS" / "Blender").python == "3.11"
    assert [official_python(v) for v in ("4.2", "4.5", "5.0", "5.1", "5.2")] == ["3.11", "3.11", "3.11", "3.13", "3.13"]


def test_built_zip_passes_blenders_own_validation(tmp_path, wheels):
    """`blender --command extension validate` runs bl_pkg/cli/blender_ext.py; the bpy module
    ships the same script, run here on the zip for each bpy build."""
    pytest.importorskip("bpy")
    out = tmp_path / "mb.zip"
    assert cli("install", "blender", "--wheels-dir", str(wheels), "--zip-only", str(out)).returncode == 0
    for _, bpy_dir in BUILDS:
        origin = Path(importlib.util.find_spec("bpy").origin).parent if bpy_dir is None else bpy_dir / "bpy"
        script = next(origin.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        done = subprocess.run([sys.executable, str(script), "validate", str(out)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Success" in done.stdout, f"{script}: {done.stdout}{done.stderr}"


REAL_BLENDER = os.environ.get("MOTIONBRIDGE_TEST_BLENDER", "")


@pytest.mark.skipif(not REAL_BLENDER,
                    reason="set MOTIONBRIDGE_TEST_BLENDER to a Blender 4.2+ executable (its temp folder must be this one's)")
def test_install_into_a_real_blender(tmp_path):
    """With a real Blender binary: its Python found out, real wheels downloaded for it,
    installed and enabled by its extension manager, glTF's pygltflib from the extension's
    wheels, a missing pxr explained in one line, and removed again."""
    exe = Path(REAL_BLENDER)
    prefix = tmp_path / "config"
    done = cli("install", "blender", "--blender", str(exe), "--prefix", str(prefix))
    assert done.returncode == 0 and "enabled" in done.stdout, done.stderr[-3000:]
    version = done.stdout.split("for Blender ", 1)[1].split(" ", 1)[0]
    script = tmp_path / "check.py"
    script.write_text("import bpy, importlib.util, pygltflib\n"
                      "from bl_ext.user_default.motionbridge import export_modules\n"
                      "print('ENABLED', 'bl_ext.user_default.motionbridge' in bpy.context.preferences.addons.keys())\n"
                      "print('GLTF', pygltflib.__file__)\n"
                      "print('USD', importlib.util.find_spec('pxr') is not None, export_modules.missing_for('.usd'))\n")
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(prefix / version)}
    seen = subprocess.run([str(exe), "--background", "--python", str(script)], capture_output=True, text=True, timeout=300, env=env).stdout
    assert "ENABLED True" in seen, seen[-3000:]
    assert f"GLTF {prefix / version / 'extensions' / '.local'}" in seen
    usd = next(line for line in seen.splitlines() if line.startswith("USD "))
    no_usd = "USD False cannot export USD from this Blender: this Blender build has no USD Python module"
    assert usd == "USD True " or usd.startswith(no_usd)
    gone = cli("uninstall", "blender", "--prefix", str(prefix), blenders=[exe])
    assert gone.returncode == 0 and not (prefix / version / "extensions" / "user_default" / "motionbridge").exists(), gone.stderr
