"""CSRF is enforced on every session-authenticated write, UI and API, found by walking the routes.

Each write route the route walker knows (tests/security/routes_*.py, which must cover every
route) is sent as a signed-in user with a client that enforces CSRF checks: without the
token it must be refused with 403 by the CSRF check; with the token the CSRF check must let
it through (whatever the view then decides). Bearer-token API calls carry no cookie and need
no token.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.security.test_route_walker import load_cases, required_routes, walk, world  # noqa: F401  (fixture)

CSRF_MARKERS = ("CSRF verification failed", "CSRF Failed")


def write_routes() -> list[str]:
    cases = load_cases()
    return [r.name for r in required_routes() if r.name in cases and cases[r.name].writes]


def csrf_client(user) -> tuple[Client, str]:
    """A client enforcing CSRF, holding a CSRF cookie (as a browser would), signed in as `user`."""
    client = Client(enforce_csrf_checks=True)
    response = client.get(reverse(settings.LOGIN_URL))
    assert response.status_code == 200
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    if user is not None:
        client.force_login(user)
    return client, token


def send(client: Client, method: str, url: str, body: dict | None, *, api: bool, token: str | None):
    headers = {"X-CSRFToken": token} if token and api else {}
    if api:
        return client.generic(method, url, json.dumps(body or {}), content_type="application/json", headers=headers)
    data = dict(body or {})
    if token:
        data["csrfmiddlewaretoken"] = token
    if method == "POST":
        return client.post(url, data)
    return client.generic(method, url, "&".join(f"{k}={v}" for k, v in data.items()),
                          content_type="application/x-www-form-urlencoded")


def is_csrf_refusal(response) -> bool:
    return response.status_code == 403 and any(m in response.content.decode(errors="replace") for m in CSRF_MARKERS)


RESULTS: dict[str, int] = {"routes": 0, "writes": 0}


@pytest.mark.django_db
@pytest.mark.parametrize("route_name", write_routes())
def test_session_write_without_csrf_token_is_refused(route_name, world):  # noqa: F811
    case = load_cases()[route_name]
    api = route_name in {r.name for r in walk() if r.is_api}
    url = reverse(route_name, kwargs=case.kwargs(world))
    body = case.body(world) if case.body else None
    # The login form is the one write an anonymous browser makes; every other write is a signed-in one.
    user = None if route_name == "tenancy:login" else world.linus
    for method in case.writes:
        client, token = csrf_client(user)
        refused = send(client, method, url, body, api=api, token=None)
        assert is_csrf_refusal(refused), f"{method} {url} without a CSRF token: {refused.status_code}"
        client, token = csrf_client(user)
        allowed = send(client, method, url, body, api=api, token=token)
        assert not is_csrf_refusal(allowed), f"{method} {url} with the token was refused by CSRF"
        RESULTS["writes"] += 1
    RESULTS["routes"] += 1


def test_csrf_walk_covered_every_write_route():
    """Figures (run after the walk above in the same session)."""
    names = write_routes()
    api = sum(1 for n in names if n in {r.name for r in walk() if r.is_api})
    print(f"\nCSRF walk: {len(names)} write routes ({api} API, {len(names) - api} UI)")
    assert len(names) >= 30 and api >= 10


@pytest.mark.django_db
def test_bearer_token_writes_need_no_csrf_token(ada, recsys):
    from apps.tenancy.services import issue_token

    secret = issue_token(ada, actor=ada, name="ci").secret
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/models/", json.dumps({"tenant": "recsys", "name": "via-token"}),
                           content_type="application/json", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 201, response.content
