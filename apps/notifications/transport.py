"""Sending one attempt: a signed HTTP POST (stdlib http.client) or an e-mail (Django's mail backend).

The POST connects to the address `addresses.check_url` vetted a moment before — never to a
fresh lookup — with the Host header and TLS server name of the URL's host, so the
certificate is still checked against the name. Redirects are not followed (http.client never
follows them; a 3xx is a failed attempt). The whole attempt is bounded by a timeout.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail

from apps.core.errors import ValidationFailed
from apps.notifications import addresses, signing

EXCERPT = 500


@dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str
    excerpt: str
    duration_ms: int
    retry_after: int | None = None
    refused: bool = False  # the address check failed: retrying will not help


def body_bytes(payload: dict) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def _connect(addresses_: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    """The first vetted address that accepts a connection (never a fresh DNS lookup)."""
    error: OSError | None = None
    for address in addresses_:
        try:
            return socket.create_connection((address, port), timeout)
        except TimeoutError:
            raise
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: addresses.Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._addresses = target.addresses

    def connect(self):
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: addresses.Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = target.addresses

    def connect(self):
        sock = _connect(self._addresses, self.port, self.timeout)
        # The certificate is checked against the URL's host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _retry_after(value: str | None) -> int | None:
    if value and value.strip().isdigit():
        return int(value.strip())
    return None


def post_webhook(url: str, payload: dict, *, secret: str, event: str, delivery_id: int,
                 timeout: float | None = None) -> Result:
    """One signed POST. Never raises: every problem becomes a Result with `error`."""
    timeout = settings.SLIPWAY_NOTIFY_TIMEOUT_SECONDS if timeout is None else timeout
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = addresses.check_url(url)
    except ValidationFailed as exc:
        return Result(None, f"Refused before sending: {exc.message}"[:EXCERPT], "", elapsed(), refused=True)
    body = body_bytes(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Slipway-Webhook/1",
        signing.SIGNATURE_HEADER: signing.sign(secret, body, int(time.time())),
        signing.EVENT_HEADER: event,
        signing.DELIVERY_HEADER: str(delivery_id),
    }
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT * 4).decode("utf-8", errors="replace")[:EXCERPT]
        return Result(response.status, "" if 200 <= response.status < 300 else f"HTTP {response.status}",
                      excerpt, elapsed(), retry_after=_retry_after(response.getheader("Retry-After")))
    except TimeoutError:
        return Result(None, f"Timed out after {timeout:g} s", "", elapsed())
    except ssl.SSLError as exc:
        return Result(None, f"TLS error: {exc}"[:EXCERPT], "", elapsed())
    except (OSError, http.client.HTTPException) as exc:
        return Result(None, f"{type(exc).__name__}: {exc}"[:EXCERPT], "", elapsed())
    finally:
        connection.close()


def send_email(address: str, subject: str, text: str) -> Result:
    """One e-mail through the configured backend (console by default, SMTP in production)."""
    started = time.monotonic()
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend error is a failed attempt, retried
        return Result(None, f"{type(exc).__name__}: {exc}"[:EXCERPT], "", int((time.monotonic() - started) * 1000))
    return Result(None, "", "accepted by the mail backend", int((time.monotonic() - started) * 1000))
