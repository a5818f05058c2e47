"""Shared fixtures: the demo cast (ada, vera, grace, linus), their teams, and a real MLflow store.

ada   data scientist in recsys      vera  viewer in recsys
grace data scientist in search      linus platform engineer (no team)
"""

from __future__ import annotations

import os

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
