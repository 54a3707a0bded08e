"""Batch output folders for the review tests, without an engine: manifest entries written
through the real shard writer and merge, and real preview GIFs of the rigs package's
synthetic walk retargeted onto each take's rig."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from motionbridge.daemon.batch import manifest, preview, retarget, review
from motionbridge.rigs.synthetic import walking

INJECTION = "The <img src=x onerror=\"document.title='pwned'\"> person waves</h2><script>document.title='pwned'</script>"
PROMPTS = ("A person walks forward in a relaxed way.", "A person jumps twice.", INJECTION)
RIGS = ("mixamo", "ue5_manny", "mixamo")
FAILED = "p2_s2"
ERROR = "rig 'x' does not map hips <b>bold</b>"


def entry(take: int, prompt: str, seed: int, duration: float, rig: str, status: str = "ok", **more: Any) -> dict[str, Any]:
    row = {"take": take, "line": take + 1, "name": more.pop("name", f"t{take}_s{seed}"), "prompt": prompt, "seed": seed,
           "cfg": 5.0, "duration_s": duration, "rig": rig, "formats": ["fbx"], "status": status, "files": [],
           "frames": round(duration * 30), "fps": 30.0, "metrics": {"direction_error.mean": 2.9e-13},
           "warnings": [], "error": None if status == "ok" else ERROR}
    row.update(more)
    return row


def make_output(out: Path) -> dict[str, dict[str, Any]]:
    """3 prompts x 3 seeds (1, 1.5 and 2 s), on mixamo and ue5_manny, one failed take; the
    third prompt tries to inject HTML. Returns name -> manifest entry."""
    (out / "review").mkdir(parents=True, exist_ok=True)
    shard = manifest.ShardWriter(out)
    entries = {}
    for p, (prompt, rig) in enumerate(zip(PROMPTS, RIGS)):
        for seed in range(3):
            name, duration = f"p{p}_s{seed}", 1.0 + 0.5 * seed
            status = "failed" if name == FAILED else "ok"
            more: dict[str, Any] = {"name": name}
            if status == "ok":
                clip, more["metrics"] = retarget.apply(rig, walking(duration))
                gif = preview.render_gif(clip, out / "review" / f"{name}.gif", rig=retarget.load_target(rig).mapping)
                (out / f"{name}.fbx").write_bytes(b"stand-in take file")
                more.update(preview=gif.relative_to(out).as_posix(), files=[manifest.file_record(out, out / f"{name}.fbx", "fbx")])
            e = entry(3 * p + seed, prompt, seed, duration, rig, status, **more)
            shard.append(e)
            entries[name] = e
    shard.close()
    manifest.merge(out, drop=(shard.path,))
    latest = manifest.read_latest(out)
    review.write_page(out, (latest[i] for i in sorted(latest)), "MotionBridge batch: demo.yaml")
    return entries


def many_entries(count: int, variations: int = 4, previews: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """`count` takes, `variations` seeds per prompt, durations 2 to 8 s, two rigs, every 50th failed."""
    for i in range(count):
        prompt_no, seed = divmod(i, variations)
        status = "failed" if i % 50 == 49 else "ok"
        more = {"files": [{"format": "fbx", "path": f"t{i}_s{seed}.fbx", "bytes": 1, "sha256": "0" * 64}]} if status == "ok" else {}
        if previews and status == "ok":
            more["preview"] = previews[i % len(previews)]
        yield entry(i, f"A person performs move number {prompt_no} with some style.", seed, 2.0 + prompt_no % 13 * 0.5,
                    ("mixamo", "ue5_manny")[prompt_no % 2], status, **more)


def write_sidecar(path: Path, takes: dict[str, dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": "motionbridge.review/1", "takes": takes}))
    return path
