"""A tiny OpenAI-compatible chat-completions server with fixed answers, run as its own process by
the prompt-assistant tests: `python prompter_server.py` prints its port, then serves
POST /<mode>/v1/chat/completions, where <mode> picks the answer:

  ok        the official JSON; the caption is "Refined: " + the text after the format's "# Input"
            (so a test sees that the official format carried the prompt), 96 frames
  fenced    the same inside a ```json fence with a sentence before it
  slow      the ok answer after 5 s
  prose     a chat answer without JSON
  notjson   an HTTP 200 body that is not JSON
  nochoices {"choices": []}
  baddur    a negative duration
  longdur   3000 frames (100 s, past the 60 s limit)
  error500  HTTP 500
  auth      the ok answer only with "Authorization: Bearer sekrit", else HTTP 401

GET /count answers how many POSTs were served (the cache tests count calls)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CALLS = {"n": 0}


def _completion(content: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}).encode()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send(200, json.dumps({"count": CALLS["n"]}).encode())

    def do_POST(self):
        CALLS["n"] += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        mode = self.path.strip("/").split("/")[0]
        text = body["messages"][0]["content"]
        if "# Role" not in text or "# Input" not in text or "short_caption" not in text:
            return self._send(400, b'{"error": "not the official prompt format"}')
        typed = text.split("# Input", 1)[1].strip()
        ok = json.dumps({"duration": 96, "short_caption": f"Refined: {typed}"})
        if mode == "slow":
            time.sleep(5)
        if mode == "auth" and self.headers.get("Authorization") != "Bearer sekrit":
            return self._send(401, b'{"error": "unauthorized"}')
        answers = {
            "ok": _completion(ok), "slow": _completion(ok), "auth": _completion(ok),
            "fenced": _completion(f"Here is the result:\n```json\n{ok}\n```"),
            "prose": _completion("Sure! The person walks for about three seconds."),
            "notjson": b"<html>gateway</html>",
            "nochoices": b'{"choices": []}',
            "baddur": _completion(json.dumps({"duration": -5, "short_caption": "A person walks."})),
            "longdur": _completion(json.dumps({"duration": 3000, "short_caption": "A person walks."})),
        }
        if mode not in answers:
            return self._send(500, b'{"error": "internal"}')
        self._send(200, answers[mode])


@contextlib.contextmanager
def running() -> Iterator[str]:
    """Starts this server as its own process; yields its base URL (http://127.0.0.1:PORT)."""
    proc = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
    try:
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
