"""Shared fixtures: the demo cast (ada, vera, grace, linus), their teams, and a real MLflow store.

ada   data scientist in recsys      vera  viewer in recsys
grace data scientist in search      linus platform engineer (no team)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import factories

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
PASSWORD = factories.PASSWORD


@pytest.fixture
def recsys(db):
    return factories.tenant("recsys", "Recommendations")


@pytest.fixture
def search(db):
    return factories.tenant("search", "Search")


@pytest.fixture
def ada(recsys):
    return factories.user("ada", tenant=recsys, role="data_scientist")


@pytest.fixture
def vera(recsys):
    return factories.user("vera", tenant=recsys, role="viewer")


@pytest.fixture
def grace(search):
    return factories.user("grace", tenant=search, role="data_scientist")


@pytest.fixture
def linus(db):
    return factories.user("linus", is_platform=True)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """A real MLflow sqlite store for the whole test session (models logged once)."""
    root = tmp_path_factory.mktemp("mlflow")
    return factories.MlflowStore(root)


@pytest.fixture
def mlflow(mlflow_store, settings):
    settings.MLFLOW_TRACKING_URI = mlflow_store.uri
    settings.MLFLOW_REGISTRY_URI = mlflow_store.uri
    return mlflow_store


@pytest.fixture
def api(client):
    """Django test client returning JSON; use `api.force_login(user)`."""
    return client


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Tasks run in-process unless a test starts a real worker (marker e2e)."""
    from portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def mlflow_name():
    """A registered-model name no other test uses (the MLflow store lives for the session)."""
    return factories.unique_name("mlf")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """PBKDF2 costs ~0.3 s per user; tests create hundreds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_cache(settings, tmp_path):
    """Rate-limit counters start from zero in every test."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": str(tmp_path)}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Data migrations ship reference rows (checklist definitions, environments, instance
    catalog); a transactional test's flush removes them for every later test. Put them back
    first (one cheap query when nothing is missing)."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db", "live_server"}:
        yield
        return
    transactional = "transactional_db" in names or "live_server" in names or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    request.getfixturevalue("transactional_db" if transactional else "db")
    factories.ensure_reference_data()
    yield


# --- browser tests: one Chromium per session, shared by every folder ------------------------
# Playwright against live_server, driving Debian's Chromium (never a downloaded browser); one
# fresh browser context (cookies, storage) per test, at the 1366×768 laptop size the pages are
# designed for. Screenshots go to /tmp/slipway-shots/.
SHOTS = Path("/tmp/slipway-shots")
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.js_errors = errors
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def sign_in(page):
    def _sign_in(user, *, tab=None):
        tab = tab or page
        tab.goto("/login/")
        tab.fill("#id_username", user.username)
        tab.fill("#id_password", factories.PASSWORD)
        tab.click("button[type=submit]")
        tab.wait_for_url(lambda url: "/login/" not in url)
        return tab
    return _sign_in


@pytest.fixture
def shot():
    SHOTS.mkdir(parents=True, exist_ok=True)

    def _shot(tab, name: str, *, full_page: bool = False) -> Path:
        path = SHOTS / f"{name}.png"
        tab.screenshot(path=str(path), full_page=full_page)
        return path
    return _shot
