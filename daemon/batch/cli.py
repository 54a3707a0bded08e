"""`motionbridge batch`: many takes from a takes file, resumable, in-process, via a daemon or on Ray."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from pathlib import Path

from motionbridge.daemon.engine.kinds import ENGINE_KINDS

HELP = "generate, retarget and export every take of a takes file (YAML, CSV or JSONL)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("takes_file", type=Path, help="YAML, CSV or JSONL; one row per take (name, prompt, duration, seeds|variations, cfg, rig, format)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder: one file per take and format, manifest.jsonl, review/index.html")
    parser.add_argument("--rig", metavar="PRESET|FILE", help="retarget every take onto this rig (rows may override)")
    parser.add_argument("--format", default="npz", metavar="EXT[,EXT]", help="output formats, e.g. fbx,glb (default: npz; rows may override)")
    parser.add_argument("--takes", metavar="RANGE", help="only these take indices, e.g. 0-99 (inclusive); farm tasks split work this way")
    parser.add_argument("--resume", action="store_true", help="skip takes whose files match the manifest; redo missing, changed or failed ones")
    parser.add_argument("--check", action="store_true", help="validate the takes file, formats and rigs, print the plan, run nothing")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N", help="takes per engine call (default 8)")
    parser.add_argument("--no-preview", action="store_true", help="skip the animated GIF previews of the review page")
    parser.add_argument("--subfolders", type=int, metavar="N",
                        help="N takes per subfolder (00000-00999/, ...); 0: all in --out (default: 1000 when the file has over 2000 takes)")
    parser.add_argument("--no-merge", action="store_true",
                        help="leave this run's manifest shard for a final `--merge` (farm tasks writing to one folder)")
    parser.add_argument("--merge", action="store_true",
                        help="once every task has ended: merge the manifest shards into manifest.jsonl and write the review page; "
                             "exit 1 if any selected take is not done")
    parser.add_argument("--export-workers", type=int, metavar="N",
                        help="processes that retarget, write and preview while the engine generates the next takes "
                             "(default with a GPU or --server: one per core but one, at most 8; on a CPU: 0, in line)")
    parser.add_argument("--only", choices=("approved", "rejected", "unreviewed"),
                        help="only the takes with this verdict on the review page (e.g. export the approved ones to another --format or --rig)")
    parser.add_argument("--approvals", type=Path, metavar="FILE", help="the verdicts --only reads (default: OUT/review/approvals.json)")
    where = parser.add_argument_group("where to run (default: in this process)")
    where.add_argument("--server", metavar="tcp://HOST:PORT", help="send requests to a running `motionbridge serve` daemon at batch priority")
    where.add_argument("--server-timeout", type=float, default=3600.0, metavar="S", help="seconds to wait for one request on the daemon")
    where.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster ('auto', 'ray://HOST:10001', or 'local' for a local Ray)")
    where.add_argument("--ray-actors", type=int, default=1, metavar="N", help="engine actors (one engine, one GPU each; default 1)")
    where.add_argument("--ray-gpus", type=float, default=1.0, metavar="G", help="GPUs per actor (default 1; 0 for CPU tests)")
    where.add_argument("--ray-cpus", type=float, default=0.5, metavar="C", help="CPUs per actor (default 0.5: leaves a slot for Ray Data's own tasks)")
    engine = parser.add_argument_group("engine (in-process and Ray)")
    engine.add_argument("--checkpoint", metavar="DIR", help="HY-Motion checkpoint folder")
    engine.add_argument("--qwen", metavar="DIR", help="Qwen3-8B folder")
    engine.add_argument("--clip", metavar="DIR", help="CLIP ViT-L/14 folder")
    engine.add_argument("--parity", metavar="DIR", help="the tiny random-weight fixture instead of a checkpoint (tests)")
    engine.add_argument("--engine-factory", metavar="MODULE:FUNC", help="build the engine with FUNC(device=, dtype=, kind=)")
    engine.add_argument("--engine", default="fast", choices=ENGINE_KINDS, help="fast: batches prompts and trims frames (default); reference: the exact port")
    engine.add_argument("--device", default="cuda", help="cpu, cuda or cuda:N (default cuda)")
    engine.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"),
                        help="auto (default): bfloat16 for the fast engine on a GPU, exact float32 otherwise")


def run(args: argparse.Namespace) -> int:
    from motionbridge.daemon.cli import CliError

    from . import runner, takes
    from .engines import EngineSpec, EngineUnavailable
    from .export_pool import default_workers

    if args.verbose < 1:  # writer warnings (renamed joints, ...) go to the manifest, not the log
        logging.getLogger("motionbridge.exporters").setLevel(logging.ERROR)

    if args.server and args.ray:
        raise CliError("choose one of --server and --ray")
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.export_workers is None:
        args.export_workers = default_workers(args.device, through_daemon=bool(args.server))
    if not 0 <= args.export_workers <= 256:
        raise CliError(f"--export-workers must be between 0 and 256, got {args.export_workers}")
    try:
        formats = tuple(dict.fromkeys(takes.normalise_format(f) for f in args.format.split(",") if f.strip()))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not formats:
        raise CliError("--format is empty; pass e.g. fbx,glb")
    from motionbridge.exporters.atomic import ExportError, refuse_symlink

    try:
        refuse_symlink(args.out, "--out folder")
    except ExportError as exc:
        raise CliError(str(exc)) from None
    config = runner.BatchConfig(
        takes_file=args.takes_file, out_dir=args.out, formats=formats, rig=args.rig, selection=args.takes,
        resume=args.resume or args.merge, batch_size=args.batch_size, previews=not args.no_preview,
        export_workers=args.export_workers, merge=not args.no_merge, subfolders=args.subfolders,
    )
    spec = EngineSpec(args.checkpoint, args.qwen, args.clip, args.parity, args.engine_factory, args.device, args.dtype, args.engine)
    try:
        if not (args.server or args.merge):
            spec.check()
            _check_device(args.device, here=not args.ray)
        plan = runner.plan(config)
    except takes.TakesFileError as exc:
        print(f"motionbridge batch: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    if args.only:
        from .approvals import restrict_plan, sidecar_path

        try:
            print(f"motionbridge batch: {restrict_plan(plan, args.only, args.approvals or sidecar_path(args.out))}", file=sys.stderr)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    elif args.approvals:
        raise CliError("--approvals is read only with --only approved|rejected|unreviewed")
    print(
        f"motionbridge batch: {len(plan.selected)} takes selected of {plan.num_takes}, "
        f"{plan.skipped} already done, {len(plan.pending)} to run -> {config.out_dir}",
        file=sys.stderr,
    )
    if args.check:
        return 0
    if args.merge:
        return _merge_only(plan)
    # a farm cancels a task with SIGTERM: unwind like Ctrl-C, so the manifest is merged on the way out
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.ray:
            from .ray_runner import RayOptions, run_ray

            options = RayOptions(args.ray, args.ray_actors, args.ray_gpus, args.ray_cpus)
            result = run_ray(plan, spec, options)
        else:
            result = runner.run_local(plan, _generator(args, spec) if plan.pending else _Nothing())
    except (EngineUnavailable, ImportError, ValueError) as exc:
        raise CliError(str(exc)) from None
    print(result.summary(), file=sys.stderr)
    return result.exit_code


def _merge_only(plan) -> int:
    from . import manifest
    from .runner import BatchResult, finish

    result = BatchResult(selected=len(plan.selected), skipped=plan.skipped)
    # the final step, once every task has ended: the shards there now are all folded in and removed
    finish(plan.config, drop=tuple((plan.config.out_dir / manifest.SHARDS).glob("*.jsonl")), result=result)
    print(f"motionbridge batch: merged the manifest in {plan.config.out_dir}: {plan.skipped} of {len(plan.selected)} "
          f"selected takes complete" + (f"; {len(plan.pending)} to run again (rerun with --resume)" if plan.pending else ""),
          file=sys.stderr)
    if result.stopped:
        print(result.stopped, file=sys.stderr)
    return 0 if not (plan.pending or result.stopped) else 1


def _check_device(device: str, here: bool) -> None:
    """As `generate` does, before any work: a device torch can name and, for an engine in
    this process, one that exists (Ray actors check theirs on their own nodes)."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise ValueError(f"--device {device!r}: pass cpu, cuda or cuda:N")
    if here and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"--device {device} but no CUDA GPU is visible; use --device cpu")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"--device {device} but only {torch.cuda.device_count()} CUDA GPU(s) are visible")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _generator(args: argparse.Namespace, spec):
    from motionbridge.daemon.cli import CliError

    from .generation import EngineGenerator, ServerGenerator

    if not args.server:
        return EngineGenerator(spec.build())
    try:
        return ServerGenerator(args.server, args.server_timeout)
    except Exception as exc:  # the client's errors say what is wrong (unreachable, auth, ...)
        raise CliError(f"cannot use the daemon at {args.server}: {exc}") from None


class _Nothing:
    """Generator for a run with nothing left to do (no engine is loaded for it)."""

    def generate(self, takes):  # pragma: no cover - never called with work
        raise RuntimeError("nothing to generate")
