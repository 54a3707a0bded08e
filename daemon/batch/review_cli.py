"""`motionbridge review serve|build DIR`: the review page of a batch output folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "serve a batch's review page on 127.0.0.1 (saving approve/reject verdicts), or rebuild it from the manifest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="serve DIR/review/index.html on 127.0.0.1; verdicts go to DIR/review/approvals.json")
    serve.add_argument("out_dir", type=Path, metavar="DIR", help="a `motionbridge batch --out` folder")
    serve.add_argument("--port", type=int, default=8719, help="TCP port on 127.0.0.1 (default 8719; 0 picks a free one)")
    build = sub.add_parser("build", help="rewrite DIR/review/ (page and takes.json) from DIR/manifest.jsonl")
    build.add_argument("out_dir", type=Path, metavar="DIR", help="a `motionbridge batch --out` folder")
    build.add_argument("--title", help="page title (default: the folder's name)")


def run(args: argparse.Namespace) -> int:
    from motionbridge.daemon.cli import CliError

    if args.review_command == "build":
        return _build(args.out_dir, args.title or f"MotionBridge batch: {args.out_dir.resolve().name}")
    from .review_server import ReviewServer

    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, got {args.port}")
    try:
        server = ReviewServer(args.out_dir, args.port)
    except FileNotFoundError:
        raise CliError(f"no review page in {args.out_dir} (review/takes.json); run `motionbridge batch ... --out {args.out_dir}` "
                       f"or `motionbridge review build {args.out_dir}` first") from None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot serve {args.out_dir}: {exc}") from None
    print(f"motionbridge review: {server.url} (this machine only; Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _build(out_dir: Path, title: str) -> int:
    from motionbridge.daemon.cli import CliError

    from . import manifest, review

    entries = manifest.read_latest(out_dir)
    if not entries:
        raise CliError(f"no takes in {out_dir / manifest.MANIFEST}; is {out_dir} a `motionbridge batch --out` folder?")
    page = review.write_page(out_dir, (entries[i] for i in sorted(entries)), title)
    print(f"motionbridge review: {page} ({len(entries)} takes)", file=sys.stderr)
    return 0
