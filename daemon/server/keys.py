"""`motionbridge keys`: CURVE key pairs, and the daemon's ZAP allow-list (Ironhouse).

A curve dir holds the daemon's pair (`server.key`, `server.key_secret`) and a `clients/`
folder of allowed client public keys (`*.key`). Only clients whose public key is in there
complete the handshake; everything else is refused by ZAP before a single message arrives.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

HELP = "create CURVE key pairs for an authenticated daemon (keys new NAME)"
SERVER_NAME = "server"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="create NAME.key (public) and NAME.key_secret in --dir")
    new.add_argument("name", help="'server' for the daemon's own pair, any other name for a client")
    new.add_argument("--dir", default=".", help="where to write the pair (default: current folder)")
    new.add_argument("--allow-in", metavar="CURVE_DIR",
                     help="also copy the new public key into CURVE_DIR/clients/ (allow this client)")


def run(args: argparse.Namespace) -> int:
    from motionbridge.daemon.cli import CliError

    try:
        public, secret = new_pair(args.dir, args.name)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(f"public key: {public}\nsecret key: {secret} (keep it private)")
    if args.allow_in:
        allowed = allow(args.allow_in, public)
        print(f"allowed:    {allowed}")
    return 0


def new_pair(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    import zmq.auth

    if not _NAME.match(name):
        raise ValueError(f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    public, secret = d / f"{name}.key", d / f"{name}.key_secret"
    if public.exists() or secret.exists():
        raise ValueError(f"{public} already exists; pick another name or delete the old pair first")
    zmq.auth.create_certificates(str(d), name)
    os.chmod(secret, 0o600)
    return public, secret


def allow(curve_dir: str | os.PathLike[str], public_key_file: str | os.PathLike[str]) -> Path:
    clients = Path(curve_dir) / "clients"
    clients.mkdir(parents=True, exist_ok=True)
    target = clients / Path(public_key_file).name
    shutil.copyfile(public_key_file, target)
    return target


def start_authenticator(ctx, curve_dir: str | os.PathLike[str]):
    """Starts ZAP with the clients/ allow-list; returns (authenticator, server public, server secret)."""
    import zmq.auth
    from zmq.auth.thread import ThreadAuthenticator

    d = Path(curve_dir)
    secret_file = d / f"{SERVER_NAME}.key_secret"
    clients = d / "clients"
    if not secret_file.is_file():
        raise ValueError(f"{secret_file} is missing; create it with: motionbridge keys new server --dir {d}")
    if not clients.is_dir() or not any(clients.glob("*.key")):
        raise ValueError(f"{clients} has no client public keys; add one with: "
                         f"motionbridge keys new NAME --dir KEYS --allow-in {d}")
    public, secret = zmq.auth.load_certificate(str(secret_file))
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(clients))
    return auth, public, secret
