"""A small OpenID Connect provider for tests: stdlib HTTP server on 127.0.0.1, real RS256 keys.

Serves discovery, JWKS, token and userinfo endpoints. A test plays the user at the IdP's
login screen with `authorize(...)`: it hands out an authorization code bound to the nonce the
portal sent and to the claims the ID token and userinfo will carry. Knobs let a test make
the IdP misbehave (sign with a key it does not publish, another audience, expired tokens).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "test-key-1"


@dataclass
class Grant:
    claims: dict
    nonce: str
    used: bool = False


@dataclass
class Provider:
    client_id: str = "slipway-test"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                                                     key_size=2048))
    # Misbehaviour knobs.
    rogue_key: rsa.RSAPrivateKey | None = None  # sign with this (same kid), publish the real one
    audience: str | None = None  # put this in aud instead of the client id
    lifetime: int = 300  # seconds; negative = already expired
    issuer_override: str | None = None
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict] = field(default_factory=dict)
    token_requests: list[dict] = field(default_factory=list)
    url: str = ""

    @property
    def issuer(self) -> str:
        return self.url

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def authorize(self, *, nonce: str, claims: dict) -> str:
        """The user signed in at the IdP: a one-time code for these claims."""
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(claims=claims, nonce=nonce)
        return code

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer_override or self.issuer, "sub": grant.claims.get("sub", "sub-1"),
                   "aud": self.audience or self.client_id, "iat": now, "exp": now + self.lifetime,
                   "nonce": grant.nonce, **grant.claims}
        return jwt.encode(payload, self.rogue_key or self.key, algorithm="RS256", headers={"kid": KID})

    def settings(self) -> dict:
        """Django settings pointing mozilla-django-oidc at this provider."""
        return {
            "OIDC_RP_CLIENT_ID": self.client_id, "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_ISSUER": self.issuer,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/jwks",
            "OIDC_RP_SIGN_ALGO": "RS256",
        }


def make_handler(provider: Provider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet test output
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/.well-known/openid-configuration":
                return self._json(200, {
                    "issuer": provider.issuer, "authorization_endpoint": f"{provider.url}/authorize",
                    "token_endpoint": f"{provider.url}/token", "userinfo_endpoint": f"{provider.url}/userinfo",
                    "jwks_uri": f"{provider.url}/jwks", "id_token_signing_alg_values_supported": ["RS256"],
                    "response_types_supported": ["code"], "subject_types_supported": ["public"]})
            if self.path == "/jwks":
                return self._json(200, provider.jwks())
            if self.path == "/userinfo":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                claims = provider.tokens.get(token)
                if claims is None:
                    return self._json(401, {"error": "invalid_token"})
                return self._json(200, claims)
            return self._json(404, {"error": "not_found"})

        def do_POST(self):
            if self.path != "/token":
                return self._json(404, {"error": "not_found"})
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            provider.token_requests.append(form)
            if form.get("client_id") != provider.client_id or form.get("client_secret") != provider.client_secret:
                return self._json(401, {"error": "invalid_client"})
            grant = provider.grants.get(form.get("code", ""))
            if grant is None or grant.used or form.get("grant_type") != "authorization_code":
                return self._json(400, {"error": "invalid_grant"})
            grant.used = True
            access = secrets.token_urlsafe(16)
            provider.tokens[access] = {"sub": grant.claims.get("sub", "sub-1"), **grant.claims}
            return self._json(200, {"access_token": access, "token_type": "Bearer", "expires_in": 300,
                                    "id_token": provider.id_token(grant)})

    return Handler


class running_provider:
    """Context manager: a Provider served on an ephemeral 127.0.0.1 port."""

    def __init__(self, **kwargs):
        self.provider = Provider(**kwargs)

    def __enter__(self) -> Provider:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.provider))
        self.provider.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.provider

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
