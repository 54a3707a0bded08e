"""Hostile character and mapping files: every reader refuses with one short RigError line
(and `motionbridge convert --rig` with exit status 2), never a crash, a traceback or a
gigabyte allocation. Includes a bounded, seeded fuzz run per reader in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rig_files import BVH, gltf_doc, nested_ascii, write_binary_rig, zlib_bomb

from motionbridge.exporters import npz
from motionbridge.rigs import RigError, read_mapping_file, read_skeleton
from motionbridge.rigs.synthetic import MOTIONS

HERE = Path(__file__).resolve().parent
ASCII_RIG = HERE / "ascii_rig.fbx"
MAPPING = {"name": "hero", "bones": {"hips": "Hips", "chest": "Chest", "left_upper_arm": "Arm"}, "skeleton": "rig.bvh",
           "prefixes": [""], "parents": {"Arm": "Chest"}, "extra": {"Tail": {"parent": "Hips"}}}


@pytest.fixture(scope="module")
def take(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("take") / "take.npz"
    npz.write(path, [MOTIONS["waving"]()], ["take"])
    return path


def convert_with_rig(take: Path, rig: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "convert", str(take), str(out), "--rig", str(rig)],
                          capture_output=True, text=True, timeout=120, env=os.environ)


def assert_one_line_exit_2(run: subprocess.CompletedProcess, match: str, out: Path) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 600 and match in lines[0], run.stderr[:2000]
    assert not out.exists() and not list(out.parent.glob(".*.part"))


def test_ascii_fbx_nested_50000_deep_is_one_line_not_a_segfault(take, tmp_path):
    rig = tmp_path / "deep.fbx"
    rig.write_text(nested_ascii(50_000))
    assert_one_line_exit_2(convert_with_rig(take, rig, tmp_path / "out.bvh"), "nesting deeper than", tmp_path / "out.bvh")


def read_skeleton_capped(path: Path, memory_bytes: int = 2 << 30) -> subprocess.CompletedProcess:
    """read_skeleton in a child whose address space is capped, so a reader that trusts a
    bomb fails there instead of taking gigabytes from the test machine."""
    code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({memory_bytes}, {memory_bytes}))\n"
            "from motionbridge.rigs import RigError, read_skeleton\n"
            "try:\n    print('joints', read_skeleton(sys.argv[1]).num_joints)\n"
            "except RigError as exc:\n    print('RigError', exc)\n")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # no per-core buffers under the cap
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120, env=env)


def test_fbx_zlib_array_declaring_2g_elements_is_refused_before_assimp(tmp_path):
    data = write_binary_rig(tmp_path / "rig.fbx")
    assert read_skeleton_capped(tmp_path / "rig.fbx").stdout.strip() == "joints 55"
    bomb = tmp_path / "bomb.fbx"
    bomb.write_bytes(zlib_bomb(data))
    assert bomb.stat().st_size == len(data)  # only the declared counts changed
    run = read_skeleton_capped(bomb)
    assert run.stdout.startswith("RigError") and "more than zlib can expand to" in run.stdout, (run.stdout, run.stderr[-1000:])


def test_fbx_declared_sizes_are_checked_against_the_file(tmp_path):
    data = write_binary_rig(tmp_path / "rig.fbx")
    cut = tmp_path / "cut.fbx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RigError, match="outside its parent or the file|overrun"):
        read_skeleton(cut)
    lying = tmp_path / "lying.fbx"
    lying.write_text(ASCII_RIG.read_text().replace("Vertices: *6", "Vertices: *99999999999"))
    with pytest.raises(RigError, match="more than the file can hold"):
        read_skeleton(lying)


def test_hand_written_ascii_fbx_reads(tmp_path):
    skel = read_skeleton(ASCII_RIG)
    assert skel.names == ("Hips", "Spine", "Head") and list(skel.parents) == [-1, 0, 1]


@pytest.mark.parametrize("damage, match", [
    (lambda d: d["nodes"][1].update(children=[2, 99]), "node 1 children must be a list of node indices"),
    (lambda d: d["nodes"][1].update(children=["2"]), "node 1 children must be a list of node indices"),
    (lambda d: d["skins"][0].update(joints=[4, 1, 2, 6]), "skin 0 joints must be a list of node indices"),
    (lambda d: d["nodes"][3].update(translation=[1, "x", 0]), "'translation' must be a list of 3 numbers"),
    (lambda d: d["nodes"][2].update(matrix=[0] * 15), "'matrix' must be a list of 16 numbers"),
])
def test_gltf_bad_indices_and_values_are_one_line(tmp_path, damage, match):
    doc = gltf_doc()
    damage(doc)
    path = tmp_path / "a.gltf"
    path.write_text(json.dumps(doc))
    with pytest.raises(RigError, match=match):
        read_skeleton(path)


def test_gltf_deep_node_chain_needs_no_recursion(tmp_path):
    # listed leaf first: solving node 0 walks 5000 parents up before anything is known
    nodes = [{"name": "b0", "translation": [0, 0.01, 0]}]
    nodes += [{"name": f"b{i}", "translation": [0, 0.01, 0], "children": [i - 1]} for i in range(1, 5000)]
    path = tmp_path / "chain.gltf"
    path.write_text(json.dumps({"nodes": nodes, "skins": [{"joints": list(range(5000))}]}))
    assert read_skeleton(path).num_joints == 5000


def test_json_nested_100k_deep_in_gltf_and_mapping_is_one_line(take, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep.gltf").write_text('{"nodes": [{}], "extras": ' + deep + "}")
    (tmp_path / "deep.json").write_text('{"bones": ' + deep + "}")
    for name in ("deep.gltf", "deep.json"):
        out = tmp_path / f"out_{name}.bvh"
        assert_one_line_exit_2(convert_with_rig(take, tmp_path / name, out), "nested too deeply", out)


def test_50_mb_mapping_gives_a_short_error(take, tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"bones": {f"bone{i}": "x" * 100 for i in range(500_000)}}))
    assert path.stat().st_size > 50e6
    out = tmp_path / "out.bvh"
    assert_one_line_exit_2(convert_with_rig(take, path, out), "larger than 1 MiB", out)
    # under the size cap, a message quoting many names is still one short line
    path.write_text(json.dumps({"bones": {f"bone{i}" * 50: "x" for i in range(1000)}}))
    with pytest.raises(RigError) as info:
        read_mapping_file(path)
    assert len(str(info.value)) <= 400 and "\n" not in str(info.value)


@pytest.mark.parametrize("skeleton", ["/etc/passwd.bvh", "../outside/rig.bvh", "link/rig.bvh"])
def test_mapping_skeleton_must_stay_in_the_mappings_folder(tmp_path, skeleton):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "rig.bvh").write_text(BVH)
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "link").symlink_to(outside)
    (folder / "hero.json").write_text(json.dumps({**MAPPING, "skeleton": skeleton}))
    with pytest.raises(RigError, match="inside the mapping's folder"):
        read_mapping_file(folder / "hero.json")
    (folder / "rig.bvh").write_text(BVH)
    (folder / "hero.json").write_text(json.dumps({**MAPPING, "skeleton": "rig.bvh"}))
    assert read_mapping_file(folder / "hero.json").skeleton.num_joints == 3


def _seed_file(kind: str, folder: Path) -> Path:
    if kind == "fbx_binary":
        write_binary_rig(folder / "rig.fbx")
        return folder / "rig.fbx"
    if kind == "fbx_ascii":
        (folder / "ascii.fbx").write_bytes(ASCII_RIG.read_bytes())
        return folder / "ascii.fbx"
    if kind == "gltf":
        (folder / "a.gltf").write_text(json.dumps(gltf_doc()))
        return folder / "a.gltf"
    (folder / "rig.bvh").write_text(BVH)
    if kind == "bvh":
        return folder / "rig.bvh"
    (folder / "hero.json").write_text(json.dumps(MAPPING))
    return folder / "hero.json"


def run_fuzz(reader: str, seed_file: Path, cases: int) -> str:
    """The fuzz script in a subprocess: a native crash fails the test instead of killing pytest."""
    run = subprocess.run([sys.executable, "-W", "ignore", str(HERE / "fuzz_readers.py"), reader, str(seed_file), str(cases), "16"],
                         capture_output=True, text=True, timeout=300, env=os.environ)
    tail = run.stdout.strip().splitlines()[-3:]
    assert run.returncode == 0, f"exit {run.returncode}; last lines: {tail} {run.stderr[-1500:]}"
    assert tail[-1].startswith(f"done {cases} "), tail
    return tail[-1]


@pytest.mark.parametrize("kind, reader, cases", [
    ("fbx_binary", "fbx", 120), ("fbx_ascii", "fbx", 200), ("gltf", "gltf", 300), ("bvh", "bvh", 300), ("mapping", "mapping", 300),
])
def test_fuzzed_files_parse_or_give_one_line(tmp_path, kind, reader, cases):
    summary = run_fuzz(reader, _seed_file(kind, tmp_path), cases)
    assert "parsed=0 " not in summary and "refused=0" not in summary, summary  # both outcomes were exercised
