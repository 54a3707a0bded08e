"""`motionbridge review serve`: a real HTTP server on loopback, probed with raw requests."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading

import pytest
from review_output import make_output

from motionbridge.daemon.batch import approvals
from motionbridge.daemon.batch.review_server import ReviewServer


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    out = root / "out"
    make_output(out)
    (root / "secret.txt").write_text("outside the output folder")
    (out / ".manifest.lock").write_text("")
    os.symlink(root / "secret.txt", out / "link_out.txt")
    return out


@pytest.fixture
def server(output):
    approvals.sidecar_path(output).unlink(missing_ok=True)
    srv = ReviewServer(output, 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)


def request(srv, method, path, body=None, headers=None, host=None):
    """One raw request: the path goes out exactly as given (no client-side normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{srv.port}")
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    hdrs = {"Content-Type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
    if body is not None:
        hdrs.setdefault("Content-Length", str(len(data)))
    for key, value in hdrs.items():
        conn.putheader(key, value)
    conn.endheaders()
    if data:
        conn.send(data)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    return resp, payload


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


def test_serves_the_output_folder_and_nothing_outside_it(server):
    assert server.server_address[0] == "127.0.0.1"
    resp, _ = request(server, "GET", "/")
    assert resp.status == 302 and resp.getheader("Location") == "/review/index.html"
    resp, body = request(server, "GET", "/review/index.html")
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/html") and b'id="groups"' in body
    assert "default-src 'self'" in resp.getheader("Content-Security-Policy") and resp.getheader("X-Content-Type-Options") == "nosniff"
    assert request(server, "GET", "/review/takes.json")[0].status == 200
    assert request(server, "GET", "/p0_s0.fbx")[1] == b"stand-in take file"
    for path in ("/../secret.txt", "/review/../../secret.txt", "/%2e%2e/secret.txt", "/review/%2E%2E/%2e%2e/secret.txt",
                 "/..%2fsecret.txt", "/..%5csecret.txt", "/link_out.txt", "/.manifest.lock", "/review/", "/manifest.d",
                 "/review/index.html%00.txt", "//etc/passwd", "/%2fetc/passwd"):
        resp, body = request(server, "GET", path)
        assert resp.status == 404 and b"outside" not in body and b"root:" not in body, path


def test_a_verdict_lands_in_the_sidecar_and_bad_requests_change_nothing(server, output):
    before = snapshot(output)
    resp, body = request(server, "POST", "/api/approvals", {"name": "p1_s2", "verdict": "approved"})
    assert resp.status == 200, body
    records = approvals.read(approvals.sidecar_path(output))
    assert records == {"p1_s2": {"verdict": "approved", "take": 5, "prompt": "A person jumps twice.", "seed": 2,
                                 "cfg": 5.0, "duration_s": 2.0, "rig": "ue5_manny"}}
    after = snapshot(output)
    assert set(after) - set(before) == {"review/approvals.json"}  # the only file it writes
    assert all(after[k] == before[k] for k in before)
    assert json.loads(request(server, "GET", "/api/approvals")[1])["takes"] == records

    port = server.port
    bad = [
        ({"name": "p0_s0", "verdict": "approved"}, {}, f"evil.example:{port}", 421),  # DNS rebinding
        ({"name": "p0_s0", "verdict": "approved"}, {"Origin": "http://evil.example"}, None, 403),  # another site's page
        ({"name": "p0_s0", "verdict": "approved"}, {"Content-Type": "text/plain"}, None, 415),  # a form post
        ({"name": "nope_s0", "verdict": "approved"}, {}, None, 404),
        ({"name": "p0_s0", "verdict": "maybe"}, {}, None, 400),
        ({"name": ["p0_s0"], "verdict": "approved"}, {}, None, 400),
        ({"name": "p2_s2", "verdict": "approved"}, {}, None, 409),  # a failed take
        (b"{not json", {}, None, 400),
        (b"x" * 5000, {}, None, 413),
    ]
    written = snapshot(output)
    for body, headers, host, status in bad:
        resp, answer = request(server, "POST", "/api/approvals", body, headers, host)
        assert resp.status == status, (body, answer)
        assert "error" in json.loads(answer)
    assert request(server, "POST", "/review/index.html", {"name": "p0_s0", "verdict": "approved"})[0].status == 404
    assert request(server, "PUT", "/api/approvals", {"name": "p0_s0", "verdict": "approved"})[0].status == 501
    assert request(server, "GET", "/review/index.html", host="evil.example")[0].status == 421
    assert snapshot(output) == written

    assert request(server, "POST", "/api/approvals", {"name": "p1_s2", "verdict": None})[0].status == 200
    assert approvals.read(approvals.sidecar_path(output)) == {}


def test_concurrent_verdicts_all_land(server, output):
    names = [f"p{p}_s{s}" for p in range(3) for s in range(3) if (p, s) != (2, 2)]
    results = {}

    def post(name, verdict):
        results[name] = request(server, "POST", "/api/approvals", {"name": name, "verdict": verdict})[0].status

    threads = [threading.Thread(target=post, args=(n, ("approved", "rejected")[i % 2])) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert set(results.values()) == {200}
    records = approvals.read(approvals.sidecar_path(output))
    assert {n: r["verdict"] for n, r in records.items()} == {n: ("approved", "rejected")[i % 2] for i, n in enumerate(names)}


def test_review_cli_builds_and_serves_and_refuses_a_folder_without_a_page(output, tmp_path, batch_env):
    cli = [sys.executable, "-m", "motionbridge.daemon.cli", "review"]
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, message in ((["serve", str(empty)], "no review page in"), (["build", str(empty)], "no takes in"),
                          (["serve", str(output), "--port", "70000"], "--port must be between 0 and 65535")):
        result = subprocess.run([*cli, *args], env=batch_env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not list(empty.iterdir())

    result = subprocess.run([*cli, "build", str(output), "--title", "Rebuilt <i>"], env=batch_env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "<title>Rebuilt &lt;i&gt;</title>" in (output / "review" / "index.html").read_text()

    proc = subprocess.Popen([*cli, "serve", str(output), "--port", "0"], env=batch_env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/review/index\.html", line)
        assert m, line
        conn = http.client.HTTPConnection("127.0.0.1", int(m[1]), timeout=10)
        conn.request("GET", "/review/index.html")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
