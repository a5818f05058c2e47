"""A tiny stdlib HTTP server that answers Kubernetes-style requests from a script, and records them.

Used to prove the retry/backoff/conflict logic of `Cluster` over real HTTP with exact control of
each response (409, 429 + Retry-After, 5xx, 401, slow answers). The dev cluster tests cover the
same logic against a full API server with random faults.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    method: str | None = None  # when set, the request must use this method


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


def status(code: int, reason: str, message: str = "", **extra: Any) -> dict[str, Any]:
    """A metav1.Status body as the API server sends it."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message or reason, "reason": reason, "code": code, **extra}


class ScriptedAPI:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.seen: list[Seen] = []
        self.unexpected: list[Seen] = []
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw) if raw else None)
                with api._lock:
                    api.seen.append(seen)
                    reply = api.script.pop(0) if api.script else None
                if reply is None or (reply.method and reply.method != self.command):
                    api.unexpected.append(seen)
                    reply = Reply(500, status(500, "InternalError", f"unscripted {self.command} {self.path}"))
                if reply.delay:
                    time.sleep(reply.delay)
                data = json.dumps(reply.body if reply.body is not None else {}).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> ScriptedAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def then(self, *replies: Reply) -> ScriptedAPI:
        self.script.extend(replies)
        return self

    @property
    def methods(self) -> list[str]:
        return [s.method for s in self.seen]
