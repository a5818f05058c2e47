"""No traceback or SQL in any error body: an unexpected failure answers a generic 500 (problem
detail on /api/, the error page elsewhere), and ordinary 4xx answers carry none either."""

from __future__ import annotations

import pytest
from django.test import Client

LEAK_SIGNS = ("Traceback", "SELECT ", "psycopg", "sqlite3", "secret_table")


def assert_clean(response, label: str) -> None:
    text = response.content.decode(errors="replace")
    for sign in LEAK_SIGNS:
        assert sign not in text, f"{label}: {sign!r} in the body"


@pytest.mark.urls("tests.security.error_urls")
@pytest.mark.django_db
def test_server_errors_hide_the_exception(settings):
    client = Client(raise_request_exception=False)
    for method in ("get", "post"):
        response = getattr(client, method)("/api/v1/_broken/")
        assert response.status_code == 500
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["code"] == "server_error"
        assert_clean(response, f"{method} API 500")
    response = client.get("/_broken/")
    assert response.status_code == 500 and "text/html" in response["Content-Type"]
    assert_clean(response, "page 500")


@pytest.mark.django_db
def test_client_errors_carry_no_internals(ada):
    client = Client()
    client.force_login(ada)
    answers = [
        client.post("/api/v1/models/", "{not json", content_type="application/json"),
        client.post("/api/v1/models/", '{"tenant": "recsys", "name": "' + "x" * 5000 + '"}',
                    content_type="application/json"),
        client.post("/api/v1/models/", '{"tenant": "recsys", "name": "a\\u0000b"}', content_type="application/json"),
        client.get("/api/v1/models/?page=99999"),
        client.get("/api/v1/models/not-a-number/"),
        client.get("/api/v1/audit/?since=2026-01-01T00:00:00-23:59"),
        client.get("/api/v1/audit/?since=9999-12-31T23:59:59-23:59"),
        client.post("/api/v1/deployments/", '{"version": 99999999999999999999, "environment": "x"}',
                    content_type="application/json"),
        client.get("/models/999999/"),
        client.get("/no-such-page/"),
    ]
    for response in answers:
        assert response.status_code < 500, (response.status_code, response.content[:300])
        assert_clean(response, f"{response.status_code} {response.request['PATH_INFO']}")
