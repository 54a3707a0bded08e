"""Directors' verdicts on takes: `DIR/review/approvals.json`, and `batch --only approved`.

The sidecar maps a take's name to its verdict and to what the take was when it was judged
(prompt, seed, cfg, requested duration: the request, of which a take is a pure function).
A verdict counts only while the takes file still asks for that same request, so an edited
prompt is never exported as "approved" on the strength of an older take:

    {"schema": "motionbridge.review/1",
     "takes": {"walk_s3": {"verdict": "approved", "take": 3, "prompt": "A person walks.",
                           "seed": 3, "cfg": 5.0, "duration_s": 4.0, "rig": "mixamo"}}}

The review server writes it (atomically, one verdict per request); the page writes the same
file as a download when opened from disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motionbridge.exporters.atomic import atomic_path

SIDECAR = "approvals.json"
SCHEMA = "motionbridge.review/1"
VERDICTS = ("approved", "rejected")
ONLY_CHOICES = ("approved", "rejected", "unreviewed")
IDENTITY = ("prompt", "seed", "cfg", "duration_s")  # must still match the takes file


def sidecar_path(out_dir: Path) -> Path:
    return out_dir / "review" / SIDECAR


def read(path: Path) -> dict[str, dict[str, Any]]:
    """take name -> its record; an absent file is no verdicts. Raises ValueError (one line)
    for a file that is not a sidecar."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    takes = data.get("takes") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(takes, dict):
        raise ValueError(f"{path} is not a MotionBridge approvals file (schema {SCHEMA!r})")
    return {str(k): v for k, v in takes.items() if isinstance(v, dict) and v.get("verdict") in VERDICTS}


def write(path: Path, records: dict[str, dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"schema": SCHEMA, "takes": dict(sorted(records.items()))}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def record(row: dict[str, Any], prompt: str, verdict: str) -> dict[str, Any]:
    """A sidecar record from a row of the page's data (review.take_row)."""
    return {"verdict": verdict, "take": row["take"], "prompt": prompt, "seed": row.get("seed"),
            "cfg": row.get("cfg"), "duration_s": row.get("duration"), "rig": row.get("rig")}


def verdict_for(records: dict[str, dict[str, Any]], take: Any) -> str | None:
    """The verdict on this take of the takes file, if it was given to the same request."""
    rec = records.get(take.name)
    if rec is None or any(rec.get(key) != getattr(take, key) for key in IDENTITY):
        return None
    return str(rec["verdict"])


@dataclass
class Selection:
    keep: set[int]  # take indices with the wanted verdict
    outdated: int  # verdicts ignored: the takes file now asks for another request under that name


def select(takes: Iterable[Any], records: dict[str, dict[str, Any]], wanted: str) -> Selection:
    """The takes whose verdict is `wanted` ("unreviewed": none, or only an outdated one)."""
    keep: set[int] = set()
    outdated = 0
    for take in takes:
        verdict = verdict_for(records, take)
        outdated += verdict is None and take.name in records
        if (verdict or "unreviewed") == wanted:
            keep.add(take.index)
    return Selection(keep, outdated)


def restrict_plan(plan: Any, wanted: str, sidecar: Path) -> str:
    """Keeps in `plan.pending` only the takes with the wanted verdict (`batch --only`);
    returns a line for the log. Raises ValueError when there is no sidecar to read."""
    from .runner import selected_takes

    if wanted not in ONLY_CHOICES:
        raise ValueError(f"--only must be one of {', '.join(ONLY_CHOICES)}, got {wanted!r}")
    if not sidecar.is_file():
        raise ValueError(f"no approvals file at {sidecar}; judge the takes first (motionbridge review serve OUT_DIR) or pass --approvals FILE")
    records = read(sidecar)
    chosen = select(selected_takes(plan.config.takes_file, plan.selected), records, wanted)
    before = len(plan.pending)
    plan.pending = [i for i in plan.pending if i in chosen.keep]
    note = f"--only {wanted}: {len(chosen.keep)} selected takes are {wanted}, {len(plan.pending)} of them to run ({before - len(plan.pending)} others left out)"
    if chosen.outdated:
        note += f"; {chosen.outdated} verdicts in {sidecar.name} were given to another prompt, seed, cfg or duration and count as unreviewed"
    return note
