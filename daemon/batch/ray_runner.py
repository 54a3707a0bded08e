"""`--ray`: the same takes on a Ray cluster, through Ray Data.

`map_batches` runs a pool of TakeActor actors (one engine each, `num_gpus` per actor,
a fixed pool of `actors`). Each actor generates its batches with the in-process code path and
writes the output files and its own manifest shard, so only small status rows travel back
to the driver; the driver shows progress and merges the manifest at the end. Every node
must see `--out` at the same path (shared storage).

Ray's trap on small machines: an actor asking for a whole CPU on a 2-core box leaves no
slot for Ray Data's own tasks and the pipeline stalls. Actors ask for `cpus_per_actor`
(0.5 by default), which leaves room.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from . import manifest
from .engines import EngineSpec
from .generation import EngineGenerator
from .progress import Progress
from .runner import (
    BatchConfig,
    BatchResult,
    Plan,
    finish,
    pending_takes,
    run_windows,
    take_from_json,
    take_to_json,
)
from .writer import TakeWriter


@dataclass(frozen=True)
class RayOptions:
    address: str  # "auto", "ray://host:10001", or "local" (start Ray in this process)
    actors: int = 1
    gpus_per_actor: float = 1.0
    cpus_per_actor: float = 0.5


class TakeActor:
    """One engine for the actor's lifetime; each call generates and writes a batch of takes."""

    def __init__(self, spec: EngineSpec, config: BatchConfig, run_id: str):
        self.generator = EngineGenerator(spec.build())
        self.shard = manifest.ShardWriter(config.out_dir, tag=run_id)
        self.writer = TakeWriter(config.output_options(), self.shard)
        self.batch_size = config.batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        todo = [take_from_json(str(text)) for text in batch["take"]]
        result = BatchResult(selected=len(todo))
        run_windows(self.generator, iter(todo), self.writer, self.batch_size, result, None)
        failed = {index: error for index, _, error in result.failed}
        rows: dict[str, list[Any]] = {"take": [], "status": [], "error": []}
        for take in todo:
            rows["take"].append(take.index)
            if take.index in failed:
                rows["status"].append("failed")
                rows["error"].append(failed[take.index])
            elif result.stopped and take.index not in failed:
                rows["status"].append("not run")
                rows["error"].append(result.stopped)
            else:
                rows["status"].append("ok")
                rows["error"].append("")
        return rows


def run_ray(p: Plan, spec: EngineSpec, options: RayOptions) -> BatchResult:
    import ray

    spec.check()
    if options.actors < 1 or options.gpus_per_actor < 0 or options.cpus_per_actor <= 0:
        raise ValueError("--ray-actors must be >= 1, --ray-gpus >= 0 and --ray-cpus > 0")
    start = time.monotonic()
    result = BatchResult(selected=len(p.selected), skipped=p.skipped)
    if not ray.is_initialized():
        ray.init(address=None if options.address == "local" else options.address, include_dashboard=False, log_to_driver=False)
    run_id = f"ray-{uuid.uuid4().hex[:8]}"
    progress = Progress(len(p.pending), skipped=p.skipped)
    try:
        if p.pending:
            items = [{"take": take_to_json(t)} for t in pending_takes(p)]
            ds = ray.data.from_items(items).map_batches(
                TakeActor,
                fn_constructor_kwargs={"spec": spec, "config": p.config, "run_id": run_id},
                batch_size=p.config.batch_size,
                num_gpus=options.gpus_per_actor,
                num_cpus=options.cpus_per_actor,
                compute=ray.data.ActorPoolStrategy(size=options.actors),  # `concurrency` before Ray 2.51
                batch_format="numpy",
            )
            for row in ds.iter_rows():
                status = str(row["status"])
                if status == "ok":
                    result.ok += 1
                else:
                    result.failed.append((int(row["take"]), f"#{int(row['take'])}", str(row["error"])))
                    if status == "not run":
                        result.stopped = str(row["error"])
                progress.update(ok=status == "ok", failed=status != "ok")
    finally:
        progress.close()
        ours = tuple((p.config.out_dir / manifest.SHARDS).glob(f"*@{run_id}.jsonl"))
        finish(p.config, drop=ours, result=result)
        result.elapsed_s = time.monotonic() - start
    latest = manifest.read_latest(p.config.out_dir)
    result.failed = [(i, latest.get(i, {}).get("name", name), err) for i, name, err in result.failed]
    return result
