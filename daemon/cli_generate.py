"""`motionbridge generate "PROMPT" --out take.npz`: run HY-Motion in-process (no daemon),
or with `--server tcp://HOST:PORT` through a running daemon.

Everything the user typed is validated before any weights are loaded, so bad input fails in
a moment with one line; the output extension picks the writer (exporters registry), and
`--rig` retargets onto a character first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from motionbridge.daemon.cli import CliError
from motionbridge.daemon.engine.kinds import ENGINE_KINDS
from motionbridge.daemon.protocol import limits

HELP = "generate motion takes from a text prompt (in-process, or through a daemon with --server)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="what the character does, in English")
    parser.add_argument("--duration", default="5.0", metavar="S", help="seconds (0.67 to 12 s are used; default 5)")
    parser.add_argument("--seed", nargs="+", default=["0"], metavar="N", help="one or more seeds; each writes its own file")
    parser.add_argument("--cfg", default="5.0", metavar="F", help="text guidance scale, >= 1 (default 5)")
    parser.add_argument("--model", default="1.0", help="1.0 or lite (default 1.0)")
    parser.add_argument("--checkpoint", type=Path, metavar="DIR", help="folder with config.yml and latest.ckpt / model.safetensors")
    parser.add_argument("--qwen", type=Path, metavar="DIR", help="Qwen3-8B folder (Hugging Face snapshot)")
    parser.add_argument("--clip", type=Path, metavar="DIR", help="clip-vit-large-patch14 folder (Hugging Face snapshot)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"),
                        help="DiT precision; auto (default): bfloat16 for the fast engine on a GPU, exact float32 otherwise (the text LLM stays "
                             "bf16 as the official)")
    parser.add_argument("--game", action="store_true", help="HY-Motion's special game-feature flag")
    parser.add_argument("--engine", choices=ENGINE_KINDS,
                        help="fast (default, as `serve` and `batch` run): trimmed, batched, exact float32 on a CPU; reference: float32, exactly the "
                             "official path")
    parser.add_argument("--server", metavar="ENDPOINT", help="use a running daemon (e.g. tcp://127.0.0.1:7719) instead of loading the model here")
    parser.add_argument("--server-key", metavar="FILE", help="the daemon's CURVE public key file (with --server on a CURVE daemon)")
    parser.add_argument("--client-keys", metavar="DIR", help="folder with this client's CURVE key pair (motionbridge keys new)")
    parser.add_argument("--server-timeout", type=float, default=5.0, metavar="S", help="seconds to wait for each daemon reply before retrying (default 5)")
    assist = parser.add_argument_group("prompt assistant (off by default; any OpenAI-compatible endpoint, e.g. Text2MotionPrompter)")
    assist.add_argument("--rewrite", action="store_true", help="let the prompter rewrite the prompt first (the original is kept in the metadata)")
    assist.add_argument("--auto-duration", action="store_true", help="let the prompter estimate the duration (--duration is the fallback)")
    assist.add_argument("--prompter", metavar="URL", help="API base, e.g. http://127.0.0.1:8000/v1 (default $MOTIONBRIDGE_PROMPTER_URL)")
    assist.add_argument("--prompter-model", metavar="NAME",
                        help="model name sent to the endpoint (default $MOTIONBRIDGE_PROMPTER_MODEL or Text2MotionPrompter)")
    assist.add_argument("--prompter-timeout", type=float, default=30.0, metavar="S", help="seconds to wait for the prompter (default 30)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="output file; the extension picks the format (.npz, .fbx, .glb, .gltf, .bvh, .usd, .usda, .usdc, .amass.npz)")
    from motionbridge.exporters.output import add_output_arguments

    add_output_arguments(parser)
    from motionbridge.daemon.controls.cli import add_control_arguments

    add_control_arguments(parser)


def _checked(fn, value):
    try:
        return fn(value)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _prompt(raw: str) -> limits.Checked:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # undecodable argv bytes arrive as surrogate escapes
        return _checked(limits.check_prompt, os.fsencode(raw))
    return _checked(limits.check_prompt, raw)


def _number(text: str, kind, what: str):
    try:
        return kind(text)
    except ValueError:
        raise CliError(f"{what} must be a number, got {text!r}") from None


def _distinct_seeds(seeds: list[int]) -> tuple[list[int], list[str]]:
    """A seed given twice would write the same take twice: each is kept once, with a warning."""
    distinct = list(dict.fromkeys(seeds))
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    return distinct, [f"seed {', '.join(map(str, repeated))} given more than once; each seed is generated once"] if repeated else []


def _prompter(args: argparse.Namespace):
    """The prompt assistant's endpoint when --rewrite or --auto-duration asks for it, else None."""
    if not (args.rewrite or args.auto_duration):
        return None
    from motionbridge.daemon.prompt_assist import URL_ENV, PrompterConfig

    config = PrompterConfig.from_env(args.prompter, args.prompter_model, args.prompter_timeout)
    if config is None:
        raise CliError(f"--rewrite / --auto-duration need the prompter's address: pass --prompter URL or set {URL_ENV}")
    _checked(PrompterConfig.check, config)
    return config


def _assisted(args: argparse.Namespace, prompter, prompt: str, duration_s: float):
    """Asks the prompt assistant and says on stderr what it changed (or why it could not)."""
    from motionbridge.daemon.prompt_assist import assist

    got = assist(prompt, duration_s, prompter, args.rewrite, args.auto_duration)
    for w in got.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if got.rewritten:
        print(f"prompt rewritten: {got.prompt}", file=sys.stderr)
    if got.estimated:
        print(f"duration estimated: {got.duration_s:g} s", file=sys.stderr)
    return got


def output_paths(out: Path, seeds: tuple[int, ...]) -> list[Path]:
    """One file per seed: take.npz for one seed, take_seed3.npz, take_seed7.npz for several."""
    if len(seeds) == 1:
        return [out]
    return [out.with_name(f"{out.stem}_seed{s}{out.suffix}") for s in seeds]


def _check_output(out: Path, args: argparse.Namespace) -> None:
    from motionbridge.exporters.atomic import ExportError
    from motionbridge.exporters.output import check_output_options

    try:
        check_output_options(out, args)  # extension, format options, --takes-per-file, --rig
    except (ExportError, ValueError) as exc:
        raise CliError(str(exc)) from None
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"output folder {folder} does not exist; create it or pick another --out")
    try:  # a real probe: permission bits say nothing to root, or about read-only mounts
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CliError(f"output folder {folder} is not writable ({exc.strerror}); pick another --out") from None
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name such as {out / 'take.npz'}")


def run(args: argparse.Namespace) -> int:
    prompt = _prompt(args.prompt)
    duration = _checked(limits.check_duration, _number(args.duration, float, "--duration"))
    distinct, seed_warnings = _distinct_seeds([_number(s, int, "--seed") for s in args.seed])
    seeds = _checked(limits.check_seeds, distinct)
    cfg = _checked(limits.check_cfg, _number(args.cfg, float, "--cfg"))
    model = _checked(limits.check_model, args.model)
    _check_output(args.out, args)
    prompter = _prompter(args)
    from motionbridge.daemon.controls.cli import read_controls, run_controls

    controls, duration = read_controls(args, duration)  # the directing flags, checked before weights load
    for w in (*prompt.warnings, *duration.warnings, *seed_warnings):
        print(f"warning: {w}", file=sys.stderr)
    typed = prompt.value
    assisted = _assisted(args, prompter, prompt.value, duration.value) if prompter else None
    if assisted is not None:
        prompt = limits.Checked(assisted.prompt, prompt.warnings)
        duration = limits.Checked(assisted.duration_s, duration.warnings)
    from motionbridge.daemon.engine.api import GenerationRequest

    request = GenerationRequest(prompt.value, duration.value, seeds.value, cfg.value, args.game, "cli")
    started = time.perf_counter()

    live = sys.stderr.isatty()

    def progress(info) -> None:
        if live:
            print(f"\rsampling {info.step}/{info.total}", end="" if info.step < info.total else "\n", file=sys.stderr, flush=True)
        elif info.step % 10 == 0 or info.step == info.total:
            print(f"sampling {info.step}/{info.total}", file=sys.stderr, flush=True)

    if args.server:
        clips = _generate_remote(args, request, progress, controls)
    else:
        engine = _load_engine(args, model.value)
        takes = run_controls(engine, request, controls, progress) if controls else engine.generate([request], on_step=progress)
        for w in takes[0].warnings if takes else ():
            if w not in prompt.warnings + duration.warnings:
                print(f"warning: {w}", file=sys.stderr)
        clips = [take.clip for take in takes]
    if assisted is not None and assisted.rewritten:
        for clip in clips:
            clip.metadata["prompt_as_typed"] = typed
    _write(args, clips, seeds.value)
    print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def _write(args: argparse.Namespace, clips: list, seeds: tuple[int, ...]) -> None:
    """Default: one file per seed (take_seed3.fbx); --takes-per-file N groups takes instead."""
    from motionbridge.exporters.atomic import ExportError
    from motionbridge.exporters.output import write_outputs
    from motionbridge.rigs import RigError

    def report(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    try:
        if getattr(args, "takes_per_file", 0):
            for clip, seed in zip(clips, seeds):
                clip.metadata.setdefault("take_name", f"{args.out.stem}_seed{seed}")
            written = write_outputs(args.out, clips, args, report)
        else:
            written = []
            for clip, path in zip(clips, output_paths(args.out, seeds)):
                clip.metadata["take_name"] = path.name.split(".")[0]
                written += write_outputs(path, [clip], args, report)
    except (ExportError, RigError, ValueError) as exc:
        raise CliError(str(exc)) from None
    for path in written:
        print(f"wrote {path}", file=sys.stderr)


def _generate_remote(args: argparse.Namespace, request, progress, controls=None) -> list:
    from motionbridge.daemon.remote_generate import ClientError, generate_via_server

    try:
        return generate_via_server(
            args.server, [request], progress=progress, model=args.model, controls=controls or None,
            server_public_key=args.server_key, client_keys=args.client_keys, timeout_s=args.server_timeout,
        )
    except ClientError as exc:
        raise CliError(f"daemon at {args.server}: {exc}") from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _load_engine(args: argparse.Namespace, model: str):
    try:
        import torch
    except ImportError as exc:
        raise CliError(f"generating needs torch ({exc}); pip install 'motionbridge[daemon]'") from None
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CliError("--device cuda but no CUDA GPU is visible; use --device cpu")
    from motionbridge.daemon.model import loading
    from motionbridge.daemon.model.config import ConfigError
    from motionbridge.daemon.model.text_encoder import TextEncoderError

    defaults = loading.default_paths(model)
    paths = loading.WeightPaths(args.checkpoint or defaults.checkpoint_dir, args.qwen or defaults.qwen_dir, args.clip or defaults.clip_dir)
    missing = loading.missing_files(paths)
    if missing:
        raise CliError(
            f"weights missing: {'; '.join(missing)}. Get them with `motionbridge weights download --model {model}` "
            "or point --checkpoint/--qwen/--clip at existing folders"
        )
    from motionbridge.daemon.engine.kinds import engine_class as engine_of
    from motionbridge.daemon.engine.kinds import resolve_dtype

    kind = args.engine or "fast"  # what `serve` and `batch` run, so a take is the same bytes in-process and through a daemon
    engine_class = engine_of(kind)
    try:
        return engine_class.from_dirs(paths.checkpoint_dir, paths.qwen_dir, paths.clip_dir, device=args.device,
                                      dtype=resolve_dtype(kind, args.device, args.dtype))
    except (loading.WeightsError, ConfigError, TextEncoderError) as exc:
        raise CliError(str(exc)) from None
