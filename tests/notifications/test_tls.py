"""https webhooks: the certificate is verified against the URL's host name although Slipway connects
to the address it vetted (SNI and Host carry the name)."""

from __future__ import annotations

import ssl
import subprocess
import threading
from http.server import ThreadingHTTPServer

import pytest

from apps.notifications import services
from tests.notifications.conftest import Receiver, _handler

pytestmark = pytest.mark.django_db


@pytest.fixture
def tls_receiver(tmp_path):
    """The signing receiver behind TLS, with a self-signed certificate for `localhost`."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    state.cert = cert
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def test_an_untrusted_certificate_is_refused(recsys, ada, tls_receiver):
    destination, _ = services.create_destination(recsys, actor=ada, name="tls",
                                                 url=f"https://localhost:{tls_receiver.port}/hook")
    delivery = services.send_test(destination, actor=ada)
    assert delivery.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert tls_receiver.requests == []


def test_a_trusted_certificate_for_the_host_name_is_delivered(recsys, ada, tls_receiver, monkeypatch):
    trusted = ssl.create_default_context(cafile=str(tls_receiver.cert))
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: trusted)
    destination, secret = services.create_destination(recsys, actor=ada, name="tls",
                                                      url=f"https://localhost:{tls_receiver.port}/hook")
    tls_receiver.secret = secret
    delivery = services.send_test(destination, actor=ada)
    assert delivery.status == "delivered", delivery.last_error
    assert tls_receiver.requests[0].verified is True
    assert tls_receiver.requests[0].headers["Host"] == f"localhost:{tls_receiver.port}"
