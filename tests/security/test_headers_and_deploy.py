"""Production settings pass `manage.py check --deploy`; every answer carries the security headers."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from apps.core.security import CSP_DIRECTIVES, build_csp

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_CSP = {"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
                "connect-src": "'self'", "frame-ancestors": "'none'", "form-action": "'self'", "base-uri": "'none'"}


def production_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SECURE_", "SESSION_COOKIE", "CSRF_COOKIE", "DJANGO_ALLOW_ASYNC_UNSAFE"))}
    env.update(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="slipway.example.com",
               CSRF_TRUSTED_ORIGINS="https://slipway.example.com", SLIPWAY_VAR_DIR=str(tmp_path))
    return env


def manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = production_env(tmp_path)
    # Every security check, warnings included, must pass.
    security = manage(["check", "--deploy", "--tag", "security", "--fail-level", "WARNING"], env)
    print(f"\ncheck --deploy --tag security: exit {security.returncode}; {security.stderr.strip().splitlines()[-1:]}")
    assert security.returncode == 0, security.stdout + security.stderr
    assert "no issues" in security.stdout, security.stdout
    # And the whole deploy check finds no error.
    full = manage(["check", "--deploy"], env)
    assert full.returncode == 0, full.stdout + full.stderr
    assert "security." not in full.stdout + full.stderr


def test_production_settings_refuse_the_placeholder_secret(tmp_path):
    env = production_env(tmp_path)
    env.pop("SECRET_KEY")
    result = manage(["check"], env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_settings_values(tmp_path):
    code = ("from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_HTTPONLY)")
    result = manage(["shell", "-v", "0", "-c", code], production_env(tmp_path))
    assert result.stdout.strip().splitlines()[-1].split() == ["False", "True", "True", "31536000", "True", "True", "True"], result.stderr


def test_csp_is_the_strict_policy():
    policy = dict(part.split(" ", 1) for part in build_csp("/").split("; "))
    for name, value in REQUIRED_CSP.items():
        assert policy[name] == value, name
    assert "'unsafe-inline'" not in build_csp("/") and "'unsafe-eval'" not in build_csp("/")
    assert CSP_DIRECTIVES["script-src"] == "'self'"
    # The third-party API docs get inline styles only, never inline scripts.
    docs = dict(part.split(" ", 1) for part in build_csp("/api/docs/").split("; "))
    assert docs["script-src"] == "'self'" and "'unsafe-inline'" in docs["style-src"]


def assert_security_headers(response, label: str) -> None:
    csp = response.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, label
    assert response["X-Content-Type-Options"] == "nosniff", label
    assert response["Referrer-Policy"] == "same-origin", label
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", label
    assert "camera=()" in response["Permissions-Policy"], label
    assert response["X-Frame-Options"] == "DENY", label


PAGES = ["/", "/models/", "/approvals/", "/deployments/", "/costs/", "/drift/", "/runbooks/", "/audit/", "/tokens/"]


@pytest.mark.django_db
def test_pages_api_errors_and_static_files_carry_the_headers(ada, recsys):
    anonymous = Client()
    for url in ["/login/", "/healthz", "/api/schema/", "/api/docs/", "/static/css/slipway.css", "/no-such-page/"]:
        assert_security_headers(anonymous.get(url), f"anonymous {url}")
    assert_security_headers(anonymous.get("/api/v1/models/"), "API 401")
    client = Client()
    client.force_login(ada)
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_security_headers(response, url)
    for url in ["/api/v1/me/", "/api/v1/models/", "/api/v1/nope/", "/api/v1/models/999999/"]:
        assert_security_headers(client.get(url), url)
    response = client.post("/api/v1/models/", "{broken", content_type="application/json")
    assert response.status_code in (400, 403)
    assert_security_headers(response, "API error")


@pytest.mark.django_db
def test_https_only_headers_in_production(settings, ada):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    plain = client.get("/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200, "probes are exempt from the https redirect"
    secure = client.get("/login/", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
