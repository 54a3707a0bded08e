"""The review page: `DIR/review/index.html`, one card per take, built from the manifest.

Static HTML with relative links only, so the folder can be copied, zipped or served as is.
Images load lazily, so a page of 2,000 cards opens at once.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from motionbridge.exporters.atomic import atomic_path

PAGE = "index.html"

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;background:#f4f4f6;color:#222}
h1{font-size:18px} .summary{margin-bottom:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:10px}
.card{background:#fff;border-radius:6px;padding:8px;box-shadow:0 1px 2px #0002;font-size:12px}
.card.failed{border:2px solid #c33} .card img{width:160px;height:160px;display:block;margin:0 auto}
.name{font-weight:600;word-break:break-all} .prompt{margin:4px 0;color:#444}
.error{color:#c33;word-break:break-word} table{font-size:11px;border-collapse:collapse}
td{padding:0 6px 0 0} .files a{margin-right:6px}
"""


def _card(entry: dict[str, Any]) -> str:
    e = html.escape
    ok = entry.get("status") == "ok"
    parts = [f'<div class="card{"" if ok else " failed"}" id="take-{int(entry["take"])}">']
    if entry.get("preview"):
        parts.append(f'<img loading="lazy" src="../{e(entry["preview"])}" alt="preview of {e(entry["name"])}">')
    parts.append(f'<div class="name">#{int(entry["take"])} {e(str(entry.get("name", "")))}</div>')
    parts.append(f'<div class="prompt">{e(str(entry.get("prompt", "")))}</div>')
    rows = [("seed", entry.get("seed")), ("cfg", entry.get("cfg")), ("frames", entry.get("frames")), ("rig", entry.get("rig") or "SMPL-X")]
    rows += [(k, f"{v:.4g}") for k, v in sorted((entry.get("metrics") or {}).items())]
    parts.append("<table>" + "".join(f"<tr><td>{e(str(k))}</td><td>{e(str(v))}</td></tr>" for k, v in rows) + "</table>")
    if entry.get("files"):
        links = "".join(f'<a href="../{e(f["path"])}">{e(f["format"])}</a>' for f in entry["files"])
        parts.append(f'<div class="files">{links}</div>')
    if not ok:
        parts.append(f'<div class="error">{e(str(entry.get("error") or entry.get("status")))}</div>')
    parts.append("</div>")
    return "".join(parts)


def write_page(out_dir: Path, entries: Iterable[dict[str, Any]], title: str) -> Path:
    """Writes the page from entries in take order; streams, so memory stays flat."""
    folder = out_dir / "review"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / PAGE
    ok = failed = 0
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>")
            fh.write(f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><div class='grid'>\n")
            for entry in entries:
                ok += entry.get("status") == "ok"
                failed += entry.get("status") != "ok"
                fh.write(_card(entry) + "\n")
            fh.write(f"</div><p class='summary'>{ok} ok, {failed} failed</p></body></html>\n")
    return target
