"""`motionbridge serve`: run the bridge daemon."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
import time
from urllib.parse import urlparse

from motionbridge.daemon.engine.kinds import ENGINE_KINDS
from motionbridge.daemon.protocol.frames import DEFAULT_ENDPOINT

HELP = "run the bridge daemon: DCC clients send prompts, it streams progress and takes back"
_LOG_FIELDS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default=DEFAULT_ENDPOINT, help=f"ZeroMQ endpoint to listen on (default {DEFAULT_ENDPOINT})")
    parser.add_argument("--model", default=None, help="model name to serve (HY-Motion-1.0 or -Lite); from --checkpoint if omitted")
    parser.add_argument("--checkpoint", help="HY-Motion checkpoint folder (config.yml + weights)")
    parser.add_argument("--qwen", help="Qwen3 text encoder folder")
    parser.add_argument("--clip", help="CLIP text encoder folder")
    parser.add_argument("--parity", help="load the tiny parity fixture folder instead (tests)")
    parser.add_argument("--engine", choices=ENGINE_KINDS, default="fast",
                        help="fast: batches requests together (default); reference: exact, one request at a time")
    parser.add_argument("--device", default="cpu", help="cpu, cuda (one worker per GPU) or cuda:N")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="CPU only: N model worker processes (default 1; each loads the model and takes "
                             "its own batches). On CUDA there is one worker per GPU")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads per worker (default: torch's; results on CPU depend on it)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"),
                        help="auto (default): bfloat16 + CUDA graphs for the fast engine on a GPU, exact float32 otherwise")
    parser.add_argument("--warm-up", default=None, metavar="SECONDS,...",
                        help="clip lengths generated once before serving, so compiling happens at start "
                             "(default on a GPU: 5; none on the CPU; 'none' to skip; 'all': 5, then every other "
                             "shape compiled in the background while serving)")
    parser.add_argument("--low-vram", nargs="?", const="int8", default=None, choices=("int8", "int4", "stream"),
                        help="fast engine: fit the 1.0B model in 12 GiB of GPU memory. Qwen3 stays on the GPU with "
                             "int8 weights (the default; int4: half of that) or is streamed from CPU memory per "
                             "prompt (stream: slowest). Default off: everything resident in bf16")
    parser.add_argument("--max-queue", type=int, default=64, help="waiting requests before BUSY (default 64)")
    parser.add_argument("--max-batch", type=int, default=8, help="rows (seeds) per engine batch (default 8)")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="heartbeat interval in seconds (default 1)")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds SIGTERM waits for running work")
    parser.add_argument("--step-timeout", type=float, default=300.0,
                        help="restart a worker that sends nothing, not even an Euler step, for this many seconds "
                             "mid-batch (default 300; text encoding and decoding send nothing, so cover them)")
    parser.add_argument("--load-timeout", type=float, default=600.0,
                        help="kill a worker that has not loaded the model after this many seconds (default 600; "
                             "a cold 8B text encoder from a slow disk, plus the GPU warm-up, takes minutes)")
    parser.add_argument("--load-retry", type=float, default=10.0,
                        help="seconds before a worker whose load failed or timed out is started again; doubles "
                             "with each failed load in a row, up to 10 minutes (default 10)")
    parser.add_argument("--curve-dir", help="enable CURVE: dir with server.key_secret and clients/*.key allow-list")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    parser.add_argument("--engine-factory", help=argparse.SUPPRESS)  # module:function, for tests and custom engines
    parser.add_argument("--engine-option", action="append", default=[], help=argparse.SUPPRESS)  # key=value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event, and every `extra=` field."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname.lower(), "event": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in _LOG_FIELDS})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


LOOPBACK_INTERFACES = ("lo", "lo0")  # ZeroMQ also binds to an interface by name: tcp://lo:7719


def is_loopback(bind: str) -> bool:
    """Whether the endpoint is reachable from this machine only (no CURVE warning then)."""
    url = urlparse(bind)
    if url.scheme in ("ipc", "inproc"):
        return True
    host = (url.hostname or "").lower()
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8, ::1
    except ValueError:
        return host in ("localhost", *LOOPBACK_INTERFACES)


def build_config(args: argparse.Namespace):
    from motionbridge.daemon.cli import CliError
    from motionbridge.daemon.server.config import ServerConfig
    from motionbridge.daemon.server.supervisor import detect_gpus
    from motionbridge.daemon.server.worker import EngineSpec

    if not (args.engine_factory or args.parity or (args.checkpoint and args.qwen and args.clip)):
        raise CliError("pass --checkpoint DIR --qwen DIR --clip DIR (see `motionbridge weights`), or --parity DIR")
    if args.max_queue < 1 or args.max_batch < 1:
        raise CliError("--max-queue and --max-batch must be at least 1")
    if not 0.05 <= args.heartbeat <= 60:
        raise CliError("--heartbeat must be between 0.05 and 60 seconds")
    if not args.step_timeout > 0:  # 0 would restart the worker on every batch
        raise CliError(f"--step-timeout must be more than 0 seconds, not {args.step_timeout:g}")
    for flag, value in (("--load-timeout", args.load_timeout), ("--load-retry", args.load_retry)):
        if not value > 0:  # 0 would kill every worker before it loads, or start it again in a loop
            raise CliError(f"{flag} must be more than 0 seconds, not {value:g}")
    options = {}
    for item in args.engine_option:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--engine-option {item!r}: pass key=value")
        options[key] = value
    try:
        gpus = detect_gpus(args.device)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.workers is not None:
        if gpus != [None]:
            raise CliError("--workers is for --device cpu; with --device cuda the daemon runs one worker per GPU "
                           "(pick GPUs with CUDA_VISIBLE_DEVICES)")
        if not 1 <= args.workers <= 64:
            raise CliError(f"--workers must be between 1 and 64, not {args.workers}")
        gpus = [None] * args.workers
    if args.threads is not None and args.threads < 1:
        raise CliError(f"--threads must be 1 or more, not {args.threads}")
    if args.low_vram and args.engine != "fast":
        raise CliError("--low-vram is for the fast engine; drop it or pass --engine fast")
    spec = EngineSpec(checkpoint=args.checkpoint, qwen=args.qwen, clip=args.clip, parity=args.parity,
                      factory=args.engine_factory, kind=args.engine, device="cuda" if any(g is not None for g in gpus) else args.device,
                      dtype=args.dtype, options=options, threads=args.threads, precompile_all=args.warm_up == "all",
                      warm_up=_warm_up(None if args.warm_up == "all" else args.warm_up), max_rows=args.max_batch,
                      low_vram=args.low_vram or "")
    return ServerConfig(bind=args.bind, engine=spec, gpus=gpus, max_queue=args.max_queue, max_batch_rows=args.max_batch,
                        heartbeat_s=args.heartbeat, drain_timeout_s=args.drain_timeout, step_timeout_s=args.step_timeout,
                        load_timeout_s=args.load_timeout, load_retry_s=args.load_retry, curve_dir=args.curve_dir,
                        metrics_port=args.metrics_port)


def run(args: argparse.Namespace) -> int:
    import zmq

    from motionbridge.daemon.cli import CliError
    from motionbridge.daemon.server.metrics import serve_metrics
    from motionbridge.daemon.server.server import Server

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("motionbridge.server")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    config = build_config(args)
    if not is_loopback(config.bind) and not config.curve_dir:
        print("\n" + "!" * 78 + f"\n!! WARNING: motionbridge serve listens on {config.bind} WITHOUT CURVE.\n"
              "!! Anyone who can reach this port can use the GPU and read every take.\n"
              "!! Pass --curve-dir DIR (see `motionbridge keys new`) or bind to 127.0.0.1.\n" + "!" * 78 + "\n",
              file=sys.stderr, flush=True)
    try:
        server = Server(config)
    except (ValueError, zmq.ZMQError) as exc:
        raise CliError(f"cannot listen on {config.bind}: {exc}") from None
    if config.metrics_port is not None:
        try:
            httpd = serve_metrics(server.metrics, config.metrics_port)
        except OSError as exc:
            server.close()
            raise CliError(f"cannot serve metrics on 127.0.0.1:{config.metrics_port}: {exc}") from None
        log.info("metrics", extra={"url": f"http://127.0.0.1:{httpd.server_address[1]}/metrics"})
    # tests and supervisors read this line to learn the bound endpoint (port 0 = any free port)
    print(json.dumps({"event": "listening", "endpoint": server.endpoint, "ts": time.time()}), flush=True)
    try:
        return server.serve_forever()
    except SystemExit as exc:
        if isinstance(exc.code, str):
            raise CliError(exc.code) from None
        raise


def _warm_up(text: str | None) -> tuple[float, ...] | None:
    from motionbridge.daemon.cli import CliError

    if text is None:
        return None
    if text.strip().lower() == "none":
        return ()
    try:
        lengths = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise CliError(f"--warm-up {text!r}: pass clip lengths in seconds, e.g. 2,3,5, or 'none'") from None
    if any(not 0 < x <= 12 for x in lengths):
        raise CliError(f"--warm-up {text!r}: lengths must be within (0, 12] seconds")
    return lengths
