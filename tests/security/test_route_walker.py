"""Walk every registered URL as anonymous, as another team and as a viewer (STYLE §6).

Every route in `portal.urls` needs a case (tests/security/routes_api.py, routes_ui.py; the
format is documented in tests/security/__init__.py). A new route without one fails here,
named; so does a case whose route no longer exists, and a case that does not declare every
HTTP method its view implements.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from importlib.util import find_spec
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.views.generic.edit import ProcessFormView

from apps.core import audit
from apps.readiness.services import ensure_items
from apps.registry.models import ModelVersion
from apps.tenancy.services import issue_token
from tests import factories
from tests.security import LEAK_MARKERS, RouteCase, World

# Routes with no tenant data or with their own access control, and why they need no case.
ALLOWLIST = {
    "healthz": "liveness probe: answers 'ok', no data",
    "readyz": "readiness probe: dependency status only, no tenant data",
    "metrics": "Prometheus scrape: request counts by view name, no tenant data",
    "api-schema": "the OpenAPI document: describes endpoints, holds no tenant data",
    "api-docs": "Swagger UI over the schema (static assets served locally)",
    "api-redoc": "ReDoc over the schema",
    "api-not-found": "catch-all that answers 404 for unknown /api/v1/ paths",
}
SKIPPED_PREFIXES = {
    "admin/": "Django admin: staff-only, guarded by Django's own staff checks",
    "static/": "static files: public assets",
}

CASE_MODULES = ("tests.security.routes_api", "tests.security.routes_ui")
DRF_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    name: str | None
    pattern: str
    callback: object

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")


def walk(patterns=None, prefix: str = "", namespace: str | None = None) -> list[Route]:
    """Every URLPattern under portal.urls, with its full pattern and namespaced name."""
    routes: list[Route] = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        full = prefix + str(entry.pattern)
        if any(full.startswith(skip) for skip in SKIPPED_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            routes += walk(entry.url_patterns, full, ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            routes.append(Route(name, full, entry.callback))
    return routes


def ui_cases_exist() -> bool:
    return find_spec("tests.security.routes_ui") is not None


def load_cases() -> dict[str, RouteCase]:
    cases: dict[str, RouteCase] = {}
    for module_name in CASE_MODULES:
        if find_spec(module_name) is None:
            continue
        for case in importlib.import_module(module_name).CASES:
            assert case.route not in cases, f"two cases for route {case.route!r}"
            cases[case.route] = case
    return cases


def required_routes() -> list[Route]:
    """Routes that need a case. UI routes need one as soon as routes_ui.py exists."""
    return [r for r in walk() if r.name not in ALLOWLIST and (r.is_api or ui_cases_exist())]


def implemented_methods(callback) -> set[str] | None:
    """HTTP methods the view answers (None when it cannot be told, e.g. a plain function)."""
    actions = getattr(callback, "actions", None)  # DRF viewset routes
    if actions:
        return {m.upper() for m in actions if m in DRF_METHODS}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return None
    return {m.upper() for m in DRF_METHODS
            if m in view_class.http_method_names and hasattr(view_class, m)
            # Django's form views alias PUT to POST; checking POST covers it.
            and getattr(view_class, m) is not ProcessFormView.put}


# --- coverage -------------------------------------------------------------------------

def test_every_route_has_a_case():
    cases = load_cases()
    routes = required_routes()
    unnamed = [r.pattern for r in routes if r.name is None]
    assert not unnamed, f"routes without a name cannot have a case; name them: {unnamed}"
    missing = sorted(r.name for r in routes if r.name not in cases)
    assert not missing, (
        "routes without a route-walker case (add one to tests/security/routes_api.py or routes_ui.py): "
        + ", ".join(missing))


def test_every_case_names_a_route_and_declares_its_methods():
    routes = {r.name: r for r in walk()}
    stale = sorted(name for name in load_cases() if name not in routes)
    assert not stale, f"cases for routes that no longer exist: {stale}"
    wrong = []
    for name, case in load_cases().items():
        implemented = implemented_methods(routes[name].callback)
        declared = set(case.reads) | set(case.writes)
        if implemented is not None and implemented != declared:
            wrong.append(f"{name}: view answers {sorted(implemented)}, case declares {sorted(declared)}")
    assert not wrong, "; ".join(wrong)


def test_allowlisted_routes_exist():
    names = {r.name for r in walk()}
    assert set(ALLOWLIST) <= names, sorted(set(ALLOWLIST) - names)


# --- behaviour ------------------------------------------------------------------------

@pytest.fixture
def world(recsys, search, ada, vera, grace, linus) -> World:
    model = factories.model(recsys, LEAK_MARKERS[0], description=LEAK_MARKERS[1], mlflow_name=LEAK_MARKERS[0])
    version = ModelVersion.objects.create(model=model, version=1, mlflow_run_id="0" * 32,
                                          artifact_digest="sha256:" + "1" * 64)
    ensure_items(version)
    token = issue_token(ada, actor=ada, name=LEAK_MARKERS[1]).token
    event = audit.record("model.updated", actor=ada, tenant=recsys, obj=model, after={"note": LEAK_MARKERS[1]})
    return World(recsys=recsys, search=search, ada=ada, vera=vera, grace=grace, linus=linus, model=model,
                 version=version, ada_token=token, audit_event=event)


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def send(client: Client, method: str, url: str, body: dict | None, *, api: bool):
    if method == "GET":
        return client.get(url)
    if api:
        return client.generic(method, url, json.dumps(body or {}), content_type="application/json")
    return getattr(client, method.lower())(url, body or {})


def check_anonymous(response, case: RouteCase, api: bool, label: str) -> None:
    if case.anonymous is not None:
        assert response.status_code == case.anonymous, label
    elif api:
        assert response.status_code in (401, 403), label
        assert response["Content-Type"].startswith("application/problem+json"), label
    else:
        assert response.status_code == 302, label
        assert urlsplit(response["Location"]).path == reverse(settings.LOGIN_URL), label


def check_no_leak(response, label: str) -> None:
    if 200 <= response.status_code < 300 and not getattr(response, "streaming", False):
        text = response.content.decode(errors="replace")
        for marker in LEAK_MARKERS:
            assert marker not in text, f"{label}: recsys data ({marker!r}) shown to another team"


def case_ids() -> list[str]:
    cases = load_cases()
    return [r.name for r in required_routes() if r.name in cases]


@pytest.mark.django_db
@pytest.mark.parametrize("route_name", case_ids())
def test_route_refuses_outsiders(route_name, world):
    case = load_cases()[route_name]
    api = route_name in {r.name for r in walk() if r.is_api}
    url = reverse(route_name, kwargs=case.kwargs(world))
    body = case.body(world) if case.body else None
    anonymous, grace, vera, ada = (client_for(u) for u in (None, world.grace, world.vera, world.ada))

    for method in case.reads:
        label = f"{method} {url} ({route_name})"
        response = send(ada, method, url, None, api=api)
        assert response.status_code == case.owner_read, f"{label} as ada: {response.status_code}"
        viewer_read = case.owner_read if case.viewer_read is None else case.viewer_read
        response = send(vera, method, url, None, api=api)
        assert response.status_code == viewer_read, f"{label} as vera: {response.status_code}"
        check_anonymous(send(anonymous, method, url, None, api=api), case, api, f"{label} as anonymous")
        response = send(grace, method, url, None, api=api)
        assert response.status_code == case.other_team_read, f"{label} as grace: {response.status_code}"
        check_no_leak(response, f"{label} as grace")

    for method in case.writes:
        label = f"{method} {url} ({route_name})"
        check_anonymous(send(anonymous, method, url, body, api=api), case, api, f"{label} as anonymous")
        response = send(grace, method, url, body, api=api)
        assert response.status_code == case.other_team_write, f"{label} as grace: {response.status_code}"
        check_no_leak(response, f"{label} as grace")
        response = send(vera, method, url, body, api=api)
        assert response.status_code == case.viewer_write, f"{label} as vera: {response.status_code}"

    # The refused writes changed nothing of recsys's.
    world.model.refresh_from_db()
    assert world.model.owner != "walker"
    assert ModelVersion.objects.filter(model=world.model).count() == 1
