"""Prometheus metrics, served as text on a loopback HTTP port (stdlib only)."""

from __future__ import annotations

import bisect
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "motionbridge_"
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    def lines(self, name: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip(self.buckets, self.counts):
            running += count
            out.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
        total = running + self.counts[-1]
        out += [f'{name}_bucket{{le="+Inf"}} {total}', f"{name}_sum {self.sum:.6f}", f"{name}_count {total}"]
        return out


class Metrics:
    """Thread-safe: the server loop writes, the HTTP thread reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.waiting = 0
        self.oom_total = 0
        self.cancelled_total = 0
        self.worker_restarts_total = 0
        self.worker_load_failures_total = 0
        self.clients_dropped_total = 0  # clients that did not read their replies (outbox.py)
        self.errors_total: dict[str, int] = {}
        self.queue_seconds = _Histogram(SECONDS_BUCKETS)
        self.request_seconds = _Histogram(SECONDS_BUCKETS)
        self.batch_size = _Histogram(BATCH_BUCKETS)

    def set_load(self, running: int, waiting: int) -> None:
        with self._lock:
            self.running, self.waiting = running, waiting

    def count(self, name: str, code: str | None = None) -> None:
        with self._lock:
            if name == "errors_total":
                self.errors_total[code or "unknown"] = self.errors_total.get(code or "unknown", 0) + 1
            else:
                setattr(self, name, getattr(self, name) + 1)

    def observe(self, name: str, value: float) -> None:
        with self._lock:
            getattr(self, name).observe(value)

    def render(self) -> str:
        with self._lock:
            lines = [
                f"# TYPE {PREFIX}requests_running gauge", f"{PREFIX}requests_running {self.running}",
                f"# TYPE {PREFIX}requests_waiting gauge", f"{PREFIX}requests_waiting {self.waiting}",
            ]
            for name in ("oom_total", "cancelled_total", "worker_restarts_total", "worker_load_failures_total",
                         "clients_dropped_total"):
                lines += [f"# TYPE {PREFIX}{name} counter", f"{PREFIX}{name} {getattr(self, name)}"]
            lines.append(f"# TYPE {PREFIX}errors_total counter")
            lines += [f'{PREFIX}errors_total{{code="{c}"}} {n}' for c, n in sorted(self.errors_total.items())]
            for name in ("queue_seconds", "request_seconds", "batch_size"):
                lines.append(f"# TYPE {PREFIX}{name} histogram")
                lines += getattr(self, name).lines(PREFIX + name)
        return "\n".join(lines) + "\n"


def serve_metrics(metrics: Metrics, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Starts the /metrics endpoint in a daemon thread; returns the server (port 0 = any)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404, "only /metrics is served")
                return
            body = metrics.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # scrapes are not worth a log line
            pass

    httpd = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=httpd.serve_forever, name="motionbridge-metrics", daemon=True).start()
    return httpd
