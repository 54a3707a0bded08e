"""The installers against temporary folders standing in for the user's DCC folders, run
through the real `motionbridge` CLI in a subprocess. The DCC's Python is a small real script
that records its arguments and does what pip --target would (creates the packages)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from standin_wheels import make_wheels

FAKE_PY = """#!{python}
import json, os, sys
with open(os.environ["FAKE_PY_LOG"], "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_PY_FAIL"):
    sys.stderr.write("ERROR: No matching distribution found for pyzmq\\n")
    sys.exit(1)
args = sys.argv[1:]
if args[:3] == ["-m", "pip", "install"] and "--target" in args:
    target = args[args.index("--target") + 1]
    for name in ("numpy", "zmq", "msgpack"):
        os.makedirs(os.path.join(target, name), exist_ok=True)
"""


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # MOTIONBRIDGE_BLENDER="": no Blender executable is searched for (tests/install/test_blender_install.py does that)
    return subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "MOTIONBRIDGE_BLENDER": "", **(env or {})}, timeout=300)


@pytest.fixture
def fake_python(tmp_path):
    exe = tmp_path / "bin" / "dccpy"
    exe.parent.mkdir()
    exe.write_text(FAKE_PY.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "pip_calls.jsonl"
    return exe, log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """Stand-in wheels so building needs no network."""
    return make_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="module")
def built_zip(wheels, tmp_path_factory):
    out = tmp_path_factory.mktemp("zip") / "motionbridge.zip"
    done = cli("install", "blender", "--wheels-dir", str(wheels), "--zip-only", str(out))
    assert done.returncode == 0, done.stderr
    return out


def test_blender_zip_is_a_complete_extension(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
        manifest = zf.read("blender_manifest.toml").decode()
    assert {"__init__.py", "host.py", "takes_io.py", "vendor/motionbridge/dcc_plugin/core/panel.py",
            "vendor/motionbridge/daemon/protocol/client.py", "vendor/motionbridge/rigs/smplx.py",
            "vendor/motionbridge/daemon/protocol/frames.py", "vendor/motionbridge/daemon/protocol/limits.py",
            "vendor/motionbridge/daemon/protocol/payload.py", "vendor/motionbridge/daemon/protocol/link.py",
            "vendor/motionbridge/daemon/prompt_assist.py",
            "vendor/motionbridge/rigs/assets/body_model/j_template.bin"} <= names
    assert not any("torch" in n or "daemon/server" in n or "__pycache__" in n for n in names)
    vendored_daemon = {n for n in names if n.startswith("vendor/motionbridge/daemon/") and "/protocol/" not in n}
    assert vendored_daemon == {"vendor/motionbridge/daemon/__init__.py", "vendor/motionbridge/daemon/prompt_assist.py"}
    assert not any(Path(n).name.startswith("bench") for n in names if n.startswith("vendor/")), "benchmark code vendored"
    assert 'wheels = ["./wheels/msgpack-1.2.4' in manifest and "pyzmq-27.3.0" in manifest
    assert all(f"wheels/{w}" in names for w in ("msgpack-1.2.4-cp311-cp311-manylinux_2_28_x86_64.whl",))


def test_vendored_core_imports_alone(built_zip, tmp_path):
    """The vendored tree is enough for the plugin core and client (no checkout on the path)."""
    with zipfile.ZipFile(built_zip) as zf:
        zf.extractall(tmp_path)
    code = ("import sys; sys.path[:] = [p for p in sys.path if '.pkgroot' not in p]; sys.path.insert(0, sys.argv[1]);"
            "import motionbridge.dcc_plugin.core.panel, motionbridge.dcc_plugin.core.prompt_assistant;"
            "import motionbridge.daemon.protocol.client as c;"
            "print(c.__file__);"
            # an editable install of motionbridge must not stand in for a file the zip lacks
            "outside = [m.__file__ for n, m in sys.modules.items() if n.startswith('motionbridge') and getattr(m, '__file__', None)"
            " and not m.__file__.startswith(sys.argv[1])]; assert not outside, outside")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "vendor")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "vendor") in done.stdout


def test_blender_install_offline_from_zip_and_uninstall(built_zip, tmp_path):
    """No Blender executable found: the newest Blender user folder gets the unpacked extension;
    uninstall removes it and every folder it leaves empty."""
    prefix = tmp_path / "blender_cfg"
    (prefix / "4.2").mkdir(parents=True)
    (prefix / "4.5").mkdir()
    (prefix / "3.6").mkdir()  # a Blender too old for extensions is never chosen
    done = cli("install", "blender", "--from-zip", str(built_zip), "--prefix", str(prefix))
    assert done.returncode == 0, done.stderr
    assert "enable it in Edit > Preferences > Add-ons" in done.stdout
    ext = prefix / "4.5" / "extensions" / "user_default" / "motionbridge"  # newest version found
    site = prefix / "4.5" / "extensions" / ".local" / "lib" / "python3.11" / "site-packages"
    assert (ext / "blender_manifest.toml").is_file() and (ext / "vendor" / "motionbridge" / "rigs" / "quat.py").is_file()
    assert (site / "zmq" / "__init__.py").is_file() and (site / "msgpack" / "__init__.py").is_file()
    (site / "someone_elses_pkg").mkdir()
    again = cli("install", "blender", "--from-zip", str(built_zip), "--prefix", str(prefix), "--blender-version", "4.5")
    assert again.returncode == 0, again.stderr  # reinstall replaces cleanly
    gone = cli("uninstall", "blender", "--prefix", str(prefix), "--blender-version", "4.5")
    assert gone.returncode == 0, gone.stderr
    assert not ext.exists() and not (site / "zmq").exists() and not (site / "msgpack").exists()
    assert (site / "someone_elses_pkg").is_dir()  # only what we installed is removed
    assert "nothing to remove" in cli("uninstall", "blender", "--prefix", str(prefix), "--blender-version", "4.5").stdout
    (site / "someone_elses_pkg").rmdir()
    assert cli("install", "blender", "--from-zip", str(built_zip), "--prefix", str(prefix), "--blender-version", "4.2").returncode == 0
    old_flag = cli("uninstall", "blender", "--prefix", str(prefix), "--version", "4.2")  # the deprecated spelling still works
    assert old_flag.returncode == 0 and "deprecated" in old_flag.stderr and "use --blender-version" in old_flag.stderr
    assert not (prefix / "4.2").exists(), "an emptied version folder would pass for an installed Blender"


def test_blender_bad_input(tmp_path, wheels):
    missing = cli("install", "blender", "--from-zip", str(tmp_path / "nope.zip"), "--prefix", str(tmp_path))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    bad = cli("install", "blender", "--from-zip", str(junk), "--prefix", str(tmp_path))
    assert bad.returncode == 2 and "not a readable zip" in bad.stderr
    no_wheels = cli("install", "blender", "--wheels-dir", str(tmp_path), "--zip-only", str(tmp_path / "x.zip"))
    assert no_wheels.returncode == 2 and "no wheel for pyzmq, msgpack, pygltflib" in no_wheels.stderr
    assert not (tmp_path / "x.zip").exists() and not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("dcc, flag", [("maya", "--mayapy"), ("motionbuilder", "--mobupy")])
def test_maya_and_motionbuilder_install_with_their_own_pip(dcc, flag, fake_python, tmp_path):
    exe, log = fake_python
    prefix = tmp_path / "user"
    env = {"FAKE_PY_LOG": str(log)}
    if dcc == "maya":  # the user's own userSetup.py must survive install and uninstall
        (prefix / "2025" / "scripts").mkdir(parents=True)
        (prefix / "2025" / "scripts" / "userSetup.py").write_text("print('studio setup')\n")
    done = cli("install", dcc, "--version", "2025", flag, str(exe), "--prefix", str(prefix), env=env)
    assert done.returncode == 0, done.stderr
    (pip,) = calls(log)
    assert pip[:4] == ["-m", "pip", "install", "--upgrade"] and pip[-3:] == ["numpy", "pyzmq", "msgpack"]
    target = Path(pip[pip.index("--target") + 1])
    assert (target / "zmq").is_dir()
    plugin = target.parent
    assert (plugin / "motionbridge" / "dcc_plugin" / dcc / "startup.py").is_file()
    assert (plugin / "motionbridge" / "dcc_plugin" / "core" / "panel.py").is_file()
    if dcc == "maya":
        startup = prefix / "2025" / "scripts" / "userSetup.py"
        text = startup.read_text()
        assert text.startswith("print('studio setup')") and "startup.add_menu" in text
    else:
        startup = prefix / "2025" / "config" / "PythonStartup" / "motionbridge_startup.py"
        text = startup.read_text()
        assert "startup.register_tool()" in text
    assert str(plugin) in text and str(target) in text
    compile(text, str(startup), "exec")  # the startup script is valid Python
    gone = cli("uninstall", dcc, "--version", "2025", "--prefix", str(prefix))
    assert gone.returncode == 0, gone.stderr
    assert not plugin.exists()
    if dcc == "maya":
        assert startup.read_text() == "print('studio setup')\n"
    else:
        assert not startup.exists()


def test_dcc_pip_failure_leaves_nothing(fake_python, tmp_path):
    exe, log = fake_python
    prefix = tmp_path / "user"
    done = cli("install", "maya", "--mayapy", str(exe), "--prefix", str(prefix), "--wheels-dir", str(tmp_path),
               env={"FAKE_PY_LOG": str(log), "FAKE_PY_FAIL": "1"})
    assert done.returncode == 2, done.stderr
    assert "mayapy -m pip failed (ERROR: No matching distribution found for pyzmq)" in done.stderr.replace("dccpy", "mayapy")
    assert calls(log)[0][-6:-3] == ["--no-index", "--find-links", str(tmp_path)]
    assert not any(prefix.rglob("*.py"))
    missing = cli("install", "motionbuilder", "--mobupy", str(tmp_path / "nope"), "--prefix", str(prefix))
    assert missing.returncode == 2 and "--mayapy / --mobupy" in missing.stderr


def test_daemon_service_unit(tmp_path):
    done = cli("install", "daemon-service", "--prefix", str(tmp_path), "--serve-args", "--bind tcp://127.0.0.1:7719 --device cuda")
    assert done.returncode == 0, done.stderr
    unit = tmp_path / "systemd" / "user" / "motionbridge.service"
    text = unit.read_text()
    assert f"ExecStart={sys.executable} -m motionbridge.daemon.cli serve --bind tcp://127.0.0.1:7719 --device cuda" in text
    assert "WantedBy=default.target" in text and "Restart=on-failure" in text
    assert "systemctl --user enable --now motionbridge" in done.stdout
    assert cli("uninstall", "daemon-service", "--prefix", str(tmp_path)).returncode == 0
    assert not unit.exists()
    from motionbridge.install.service import windows_instructions

    assert "schtasks /Create /SC ONLOGON /TN MotionBridge" in windows_instructions(["--bind", "tcp://127.0.0.1:7719"])


BLENDER_INSTALL = """
import bpy
result = bpy.ops.extensions.package_install_files(filepath={zip!r}, repo="user_default", enable_on_install=True)
enabled = [m for m in bpy.context.preferences.addons.keys() if m.endswith(".motionbridge")]
print("RESULT", result, enabled, hasattr(bpy.ops.motionbridge, "generate"), bpy.ops.motionbridge.generate.get_rna_type().name)
"""


def test_blender_own_extension_installer_accepts_the_zip(built_zip, tmp_path):
    """Blender's own extension installer accepts our zip and manifest and enables the add-on,
    which registers its operators from the vendored code alone."""
    pytest.importorskip("bpy")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the zip's vendored code
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "blender_user")
    done = subprocess.run([sys.executable, "-c", BLENDER_INSTALL.format(zip=str(built_zip))],
                          capture_output=True, text=True, env=env, timeout=300)
    assert "RESULT {'FINISHED'} ['bl_ext.user_default.motionbridge'] True Generate" in done.stdout, done.stdout + done.stderr[-2000:]
    ext = tmp_path / "blender_user" / "extensions" / "user_default" / "motionbridge"
    assert (ext / "vendor" / "motionbridge" / "dcc_plugin" / "core" / "panel.py").is_file()
    # (the stand-in wheels are not real distributions, so Blender skips them; with the real
    # pyzmq/msgpack wheels it installs them under extensions/.local, checked by hand)
