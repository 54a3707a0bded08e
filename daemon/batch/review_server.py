"""`motionbridge review serve DIR`: the review page over HTTP on 127.0.0.1, saving verdicts.

It serves the files of the output folder read-only (no listings, no dot-files, nothing
outside the folder, symlinks included) and answers one API, `/api/approvals`: GET returns
the sidecar, POST `{"name": TAKE, "verdict": "approved"|"rejected"|null}` sets one verdict
and rewrites `review/approvals.json` atomically. That file is the only one it writes.

Only this machine can reach it: it binds 127.0.0.1, and answers only requests addressed to
127.0.0.1 or localhost (a page elsewhere cannot reach it through DNS rebinding). A POST must
be JSON from the page's own origin, which another site's page cannot send without a CORS
preflight, which this server never grants.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import shutil
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from . import approvals, review

log = logging.getLogger(__name__)

API = "/api/approvals"
PAGE_URL = "/review/index.html"
MAX_BODY = 4096  # bytes: one verdict
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
}


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, out_dir: Path, port: int = 0):
        self.root = out_dir.resolve()
        review.read_data(self.root)  # fails now, with a clear error, if there is no page
        super().__init__(("127.0.0.1", port), _Handler)
        self.port = int(self.server_address[1])
        self.lock = threading.Lock()  # one read-modify-write of the sidecar at a time
        self._rows: dict[str, tuple[dict[str, Any], str]] = {}
        self._data_mtime = -1.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PAGE_URL}"

    def take(self, name: str) -> tuple[dict[str, Any], str] | None:
        """The page's row and prompt for a take name (re-read when the batch rewrote the data)."""
        data_path = self.root / "review" / review.DATA
        mtime = data_path.stat().st_mtime
        if mtime != self._data_mtime:
            data = review.read_data(self.root)
            self._rows = {row["name"]: (row, data["prompts"][row["prompt"]]) for row in data["takes"]}
            self._data_mtime = mtime
        return self._rows.get(name)

    def set_verdict(self, name: str, verdict: str | None) -> dict[str, Any] | None:
        sidecar = approvals.sidecar_path(self.root)
        with self.lock:
            found = self.take(name)
            if found is None:
                raise LookupError(f"no take named {name!r} on this page")
            if verdict == "approved" and found[0]["status"] != "ok":
                raise ValueError(f"take {name} failed: there is nothing to approve")
            records = approvals.read(sidecar)
            if verdict is None:
                records.pop(name, None)
            else:
                records[name] = approvals.record(found[0], found[1], verdict)
            approvals.write(sidecar, records)
            return records.get(name)


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "MotionBridgeReview"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- answers
    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode(), "application/json; charset=utf-8", {"Cache-Control": "no-store"})

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _addressed_here(self) -> bool:
        host = self.headers.get("Host", "")
        if host in (f"127.0.0.1:{self.server.port}", f"localhost:{self.server.port}"):
            return True
        self._error(HTTPStatus.MISDIRECTED_REQUEST, "this review server answers only http://127.0.0.1 and http://localhost")
        return False

    # -- GET / HEAD: files of the output folder
    def do_GET(self) -> None:
        if not self._addressed_here():
            return
        path = urlsplit(self.path).path
        if path == "/":
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", PAGE_URL)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == API:
            try:
                self._json(HTTPStatus.OK, {"schema": approvals.SCHEMA, "takes": approvals.read(approvals.sidecar_path(self.server.root))})
            except ValueError as exc:
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))
            return
        target = self._file_for(path)
        if target is None:
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        with open(target, "rb") as fh:
            size = target.stat().st_size
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", "no-cache")
            for key, value in SECURITY_HEADERS.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                shutil.copyfileobj(fh, self.wfile)

    do_HEAD = do_GET

    def _file_for(self, url_path: str) -> Path | None:
        """The regular file inside the output folder that a URL names, or None: no '..',
        no dot-files (temp files, locks), no backslashes or NULs, no symlink out."""
        text = unquote(url_path)
        if not text.startswith("/") or "\x00" in text or "\\" in text:
            return None
        parts = text[1:].split("/")
        if any(not p or p.startswith(".") for p in parts):
            return None
        try:
            target = self.server.root.joinpath(*parts).resolve()
        except (OSError, RuntimeError):
            return None
        if not target.is_relative_to(self.server.root) or not target.is_file():
            return None
        return target

    # -- POST: one verdict
    def do_POST(self) -> None:
        if not self._addressed_here():
            return
        if urlsplit(self.path).path != API:
            self._error(HTTPStatus.NOT_FOUND, f"the only thing to POST to is {API}")
            return
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{self.headers.get('Host')}":
            self._error(HTTPStatus.FORBIDDEN, "verdicts come only from the review page itself")
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON (Content-Type: application/json)")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return
        if not 0 < length <= MAX_BODY:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"one verdict is at most {MAX_BODY} bytes")
            return
        try:
            body = json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._error(HTTPStatus.BAD_REQUEST, "the body is not JSON")
            return
        name = body.get("name") if isinstance(body, dict) else None
        verdict = body.get("verdict") if isinstance(body, dict) else None
        if not isinstance(name, str) or not (verdict is None or verdict in approvals.VERDICTS):
            self._error(HTTPStatus.BAD_REQUEST, 'send {"name": TAKE, "verdict": "approved" | "rejected" | null}')
            return
        try:
            saved = self.server.set_verdict(name, verdict)
        except LookupError as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
            return
        except ValueError as exc:
            self._error(HTTPStatus.CONFLICT, str(exc))
            return
        except OSError as exc:
            log.error("cannot save the verdict on %s: %s", name, exc)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"cannot save: {exc}")
            return
        self._json(HTTPStatus.OK, {"name": name, "record": saved})
