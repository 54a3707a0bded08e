"""The review page: `DIR/review/index.html`, a director's view of a batch, built from the manifest.

The page is a small static HTML file plus its script and style (`review_page/`, copied as
they are); the takes themselves go to `review/takes.json` next to it, one compact row per
take, which the script loads and shows a page of prompt groups at a time, so 10,000 takes
open as fast as 100. Browsers refuse `fetch()` from a `file://` page, so the same data is
also written as `review/takes.js` (one assignment), which the page loads only when opened
from disk. Relative links only: the folder can be copied, zipped or served as is.

Approvals are not part of the page: `motionbridge review serve DIR` saves them to
`review/approvals.json` (see approvals.py); opened from disk, the page downloads that file.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from motionbridge.exporters.atomic import atomic_path

PAGE = "index.html"
DATA = "takes.json"
DATA_SCRIPT = "takes.js"  # the same data for pages opened from file://
DATA_GLOBAL = "MOTIONBRIDGE_REVIEW"
ASSETS = Path(__file__).resolve().parent / "review_page"
ASSET_FILES = ("review.js", "review.css")
SCHEMA = "motionbridge.review-data/1"


def take_row(entry: dict[str, Any], prompt_id: int) -> dict[str, Any]:
    """The fields a director sees of one manifest entry (retarget metrics stay in the manifest)."""
    fps = entry.get("fps") or 0
    frames = entry.get("frames") or 0
    row: dict[str, Any] = {
        "take": int(entry["take"]),
        "name": str(entry.get("name", "")),
        "prompt": prompt_id,
        "seed": entry.get("seed"),
        "cfg": entry.get("cfg"),
        "duration": entry.get("duration_s"),  # as requested: part of the take's identity
        # what the take lasts (frames / fps); the request's duration before a take is made
        "seconds": round(frames / fps, 2) if fps and frames else entry.get("duration_s"),
        "rig": entry.get("rig") or "SMPL-X",
        "status": "ok" if entry.get("status") == "ok" else "failed",
    }
    if entry.get("preview"):
        row["preview"] = str(entry["preview"])
    if entry.get("files"):
        row["files"] = [[str(f["format"]), str(f["path"])] for f in entry["files"]]
    if row["status"] != "ok":
        row["error"] = str(entry.get("error") or entry.get("status") or "failed")
    if entry.get("warnings"):
        row["warnings"] = len(entry["warnings"])
    return row


def write_page(out_dir: Path, entries: Iterable[dict[str, Any]], title: str) -> Path:
    """Writes review/takes.json (+ takes.js), the page and its assets from entries in take
    order; streams the rows, so memory holds only the distinct prompts. Returns the page."""
    folder = out_dir / "review"
    folder.mkdir(parents=True, exist_ok=True)
    prompts: dict[str, int] = {}
    counts = {"ok": 0, "failed": 0}
    with atomic_path(folder / DATA) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f'{{"schema": {json.dumps(SCHEMA)}, "title": {json.dumps(title)}, "takes": [')
        for n, entry in enumerate(entries):
            prompt = str(entry.get("prompt", ""))
            row = take_row(entry, prompts.setdefault(prompt, len(prompts)))
            counts[row["status"]] += 1
            fh.write(("," if n else "") + "\n" + json.dumps(row, separators=(",", ":"), ensure_ascii=False))
        fh.write(f'\n], "prompts": {json.dumps(list(prompts), ensure_ascii=False)}}}\n')
    _write_data_script(folder)
    for name in ASSET_FILES:
        with atomic_path(folder / name) as tmp:
            shutil.copyfile(ASSETS / name, tmp)
    summary = f"{counts['ok'] + counts['failed']} takes of {len(prompts)} prompts: {counts['ok']} ok, {counts['failed']} failed"
    page = (ASSETS / PAGE).read_text(encoding="utf-8")
    page = page.replace("{{title}}", html.escape(title)).replace("{{summary}}", html.escape(summary))
    with atomic_path(folder / PAGE) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return folder / PAGE


def _write_data_script(folder: Path) -> None:
    """takes.js = `window.MOTIONBRIDGE_REVIEW = <takes.json>;`, copied in blocks. JSON is a
    JavaScript expression; "</script>" cannot end it early, as it is loaded by src, not inline."""
    with atomic_path(folder / DATA_SCRIPT) as tmp, open(folder / DATA, "rb") as src, open(tmp, "wb") as dst:
        dst.write(f"window.{DATA_GLOBAL} = ".encode())
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.write(b";\n")


def read_data(out_dir: Path) -> dict[str, Any]:
    """The page's data as written by write_page (for the review server and `batch --only`)."""
    with open(out_dir / "review" / DATA, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{out_dir / 'review' / DATA} is not a MotionBridge review data file")
    return data
