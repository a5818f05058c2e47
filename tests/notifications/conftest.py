"""A real webhook receiver for the notification tests: stdlib http.server on 127.0.0.1, in a thread.

It checks each request's `X-Slipway-Signature` the way docs/webhooks.md tells receivers to
(HMAC-SHA256 over "<t>.<body>", constant-time compare, timestamps older than 5 minutes
refused), records what it got, and answers the statuses a test scripts (default 200).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.notifications import services
from apps.tenancy.models import Tenant

TOLERANCE_SECONDS = 300


def verify_signature(secret: str, body: bytes, header: str, *, now: float | None = None,
                     tolerance: int = TOLERANCE_SECONDS) -> bool:
    """The receiver's check, as in docs/webhooks.md (independent of Slipway's own code)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        received = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False  # too old (a replay) or from a badly wrong clock
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    verified: bool | None

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Scriptable: `script(500, 200)` answers 500 then 200; `delay` seconds before answering."""

    port: int = 0
    secret: str | None = None
    requests: list[Received] = field(default_factory=list)
    statuses: deque = field(default_factory=deque)
    delay: float = 0.0
    extra_headers: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/slipway"

    def script(self, *statuses: int) -> None:
        self.statuses.extend(statuses)


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            verified = None
            if receiver.secret is not None:
                verified = verify_signature(receiver.secret, body, self.headers.get("X-Slipway-Signature", ""))
            receiver.requests.append(Received(self.path, dict(self.headers), body, verified))
            if receiver.delay:
                time.sleep(receiver.delay)
            status = 401 if verified is False else (receiver.statuses.popleft() if receiver.statuses else 200)
            answer = b"bad signature" if verified is False else f"receiver says {status}".encode()
            try:
                self.send_response(status)
                for key, value in receiver.extra_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver():
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def hook(recsys, ada, receiver):
    """A recsys webhook destination pointing at the receiver, which knows its secret."""
    destination, secret = services.create_destination(recsys, actor=ada, name="#recsys-alerts", url=receiver.url)
    receiver.secret = secret
    return destination


@pytest.fixture
def production(settings):
    """Production address rules: https only, no loopback (DEBUG=false defaults)."""
    settings.SLIPWAY_NOTIFY_ALLOW_HTTP = False
    settings.SLIPWAY_NOTIFY_ALLOW_LOOPBACK = False
    return settings


@pytest.fixture
def fake_dns(monkeypatch):
    """Map chosen host names to chosen addresses (everything else resolves normally)."""
    import socket

    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
            return [(family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in table[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def refresh(tenant: Tenant) -> Tenant:
    tenant.refresh_from_db()
    return tenant
