"""The dev cluster's HTTP server: Kubernetes REST subset, ``/metrics`` and the ``/_sim`` admin API.

    from devcluster.server import DevCluster
    with DevCluster(port=0, ready_delay_seconds=0, traffic="manual") as dc:
        kubernetes.client.Configuration(host=dc.url) ...

One lock guards all state; injected API latency is slept outside it.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devcluster import admin
from devcluster.api import KubeApi
from devcluster.errors import ApiError
from devcluster.faults import Auth, Faults
from devcluster.pods import PodTracker
from devcluster.simulator import Simulator
from devcluster.store import Store

logger = logging.getLogger("devcluster")

TRAFFIC_MODES = ("auto", "manual")


class DevCluster:
    """A local stand-in for an EKS API server plus the traffic Prometheus would see."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8001,
        *,
        ready_delay_seconds: float = 2.0,
        traffic: str = "auto",
        clock: Callable[[], float] | None = None,
        stats_retention_seconds: int = 3600,
    ) -> None:
        if traffic not in TRAFFIC_MODES:
            raise ValueError(f"traffic must be one of {TRAFFIC_MODES}")
        self.host, self.port = host, port
        self.lock = threading.RLock()
        self._base_clock = clock or time.time
        self.offset = 0.0
        self.initial_ready_delay = float(ready_delay_seconds)
        self.ready_delay_seconds = float(ready_delay_seconds)
        self.traffic = traffic
        self.store = Store(self.now)
        self.pods = PodTracker(self.store, self.now, lambda: self.ready_delay_seconds)
        self.sim = Simulator(self.store, self.pods, retention=int(stats_retention_seconds))
        self.sim.last_tick = int(self.now())
        self.faults = Faults()
        self.auth = Auth()
        self.api = KubeApi(self)
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- clock and simulation ----------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated time: the base clock plus every ``advance`` so far."""
        return self._base_clock() + self.offset

    def advance(self, seconds: int) -> dict[str, Any]:
        """Move the clock ``seconds`` ahead and simulate that much traffic at once."""
        with self.lock:
            if self.traffic == "manual":
                start = max(self.sim.last_tick, int(self.now()))
                self.sim.last_tick = start
                self.offset += seconds
                ticks = self.sim.run_until(start + seconds)
            else:
                self.offset += seconds
                ticks = self.sim.run_until(int(self.now()))
            return {"now": self.now(), "offset": self.offset, "ticks": ticks, "last_tick": self.sim.last_tick}

    def set_traffic(self, mode: str) -> None:
        with self.lock:
            if mode == "auto" and self.traffic != "auto":
                self.sim.last_tick = max(self.sim.last_tick, int(self.now()))  # do not replay the paused gap
            self.traffic = mode

    def reset(self) -> None:
        """Forget every object, counter, workload setting, fault and token; the clock keeps running forward."""
        with self.lock:
            self.pods.reset()
            self.sim.reset()
            self.store.reset()
            self.faults = Faults()
            self.auth = Auth()
            self.ready_delay_seconds = self.initial_ready_delay
            self.sim.last_tick = max(self.sim.last_tick, int(self.now()))

    def _ticker(self) -> None:
        while not self._stopping.wait(1.0):
            with self.lock:
                if self.traffic == "auto":
                    now = self.now()
                    target = int(now)
                    # After a long stall (a suspended laptop), skip what the ring could not keep anyway.
                    self.sim.last_tick = max(self.sim.last_tick, target - self.sim.retention)
                    self.sim.run_until(target, ready_at=now)

    # -- server lifecycle ----------------------------------------------------------------------------------

    def start(self) -> DevCluster:
        handler = type("BoundHandler", (Handler,), {"cluster": self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._stopping.clear()
        serve = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="devcluster-http", daemon=True)
        tick = threading.Thread(target=self._ticker, name="devcluster-ticker", daemon=True)
        self._threads = [serve, tick]
        for thread in self._threads:
            thread.start()
        logger.info("dev cluster listening on %s (traffic=%s)", self.url, self.traffic)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def request_stop(self) -> None:
        """Ask ``wait`` to return (safe from a signal handler)."""
        self._stopping.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``request_stop``; True when stop was requested."""
        return self._stopping.wait(timeout)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> DevCluster:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Handler(BaseHTTPRequestHandler):
    cluster: DevCluster
    protocol_version = "HTTP/1.1"
    server_version = "devcluster/1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms a request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _send(self, code: int, payload: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _json(self, code: int, body: Any) -> None:
        self._send(code, json.dumps(body).encode(), "application/json")

    def _handle(self, method: str) -> None:
        cluster = self.cluster
        split = urlsplit(self.path)
        path, query = split.path, dict(parse_qsl(split.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type") or "application/json"
        try:
            if path == "/metrics" and method == "GET":
                with cluster.lock:
                    text = cluster.sim.metrics_text()
                self._send(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")
                return
            if path == "/healthz":
                self._send(200, b"ok", "text/plain")
                return
            if path.startswith("/_sim/") or path == "/_sim":
                code, body = admin.handle(cluster, method, path, query, raw)
                self._json(code, body)
                return
            self._kube(method, path, query, content_type, raw)
        except ApiError as exc:
            self._json(exc.code, exc.status())
        except Exception:  # never let a bug drop the connection; answer like the API server does
            logger.exception("dev cluster failed on %s %s", method, self.path)
            self._json(500, ApiError(500, "InternalError", "Internal error occurred in the dev cluster").status())

    def _kube(self, method: str, path: str, query: dict[str, str], content_type: str, raw: bytes) -> None:
        cluster = self.cluster
        with cluster.lock:
            cluster.auth.check(self.headers.get("Authorization"))
            delay, fault = cluster.faults.draw(method)
        if delay:
            time.sleep(delay)
        if fault is not None:
            raise fault
        with cluster.lock:
            code, body = cluster.api.handle(method, path, query, content_type, raw)
        self._json(code, body)
