"""API test helpers: JSON clients for the demo cast, Bearer tokens, problem-detail checks."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from apps.core.models import AuditEvent
from apps.registry.models import Model, ModelVersion
from apps.tenancy.services import issue_token
from tests import factories


class JsonClient:
    """A Django test client speaking JSON, logged in (session) or with a Bearer token."""

    def __init__(self, user=None, *, token: str | None = None):
        self.client = Client()
        self.headers: dict[str, str] = {}
        if user is not None and token is None:
            self.client.force_login(user)
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def _send(self, method: str, url: str, data=None, *, raw: bytes | str | None = None,
              content_type: str = "application/json", **extra):
        body = raw if raw is not None else (json.dumps(data) if data is not None else "")
        return getattr(self.client, method)(url, data=body, content_type=content_type,
                                            headers={**self.headers, **extra.pop("headers", {})}, **extra)

    def get(self, url: str, params: dict | None = None, **extra):
        return self.client.get(url, params or {}, headers={**self.headers, **extra.pop("headers", {})}, **extra)

    def post(self, url: str, data=None, **kw):
        return self._send("post", url, data, **kw)

    def patch(self, url: str, data=None, **kw):
        return self._send("patch", url, data, **kw)

    def put(self, url: str, data=None, **kw):
        return self._send("put", url, data, **kw)

    def delete(self, url: str, **kw):
        return self._send("delete", url, None, **kw)


def assert_problem(response, status: int, *, field: str | None = None, code: str | None = None) -> dict:
    """The response is an RFC 9457 problem detail with `status`; optionally naming `field`/`code`."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    for key in ("type", "title", "detail", "errors"):
        assert key in body, body
    if field is not None:
        fields = [e["field"] for e in body["errors"]]
        assert field in fields, body
    if code is not None:
        codes = [e["code"] for e in body["errors"]] + [body.get("code")]
        assert code in codes, body
    return body


class Counts:
    """Row counts that a refused request must leave unchanged."""

    def __init__(self):
        self.before = self.snapshot()

    @staticmethod
    def snapshot() -> tuple[int, int, int]:
        return Model.objects.count(), ModelVersion.objects.count(), AuditEvent.objects.count()

    def unchanged(self) -> bool:
        return self.snapshot() == self.before


@pytest.fixture
def as_user():
    """`as_user(ada)` → a session-authenticated JSON client; `as_user(None)` → anonymous."""
    return lambda user: JsonClient(user)


@pytest.fixture
def bearer():
    """`bearer(ada)` → a JSON client authenticated with a fresh personal API token of ada."""

    def make(user, **kw):
        issued = issue_token(user, actor=user, name=f"test-{uuid.uuid4().hex[:6]}", **kw)
        client = JsonClient(token=issued.secret)
        client.token = issued.token
        client.secret = issued.secret
        return client

    return make


@pytest.fixture
def ranker(recsys):
    """A recsys model."""
    return factories.model(recsys, "ranker", description="Ranks the home feed.")


@pytest.fixture
def finder(search):
    """A search model (another team's, for recsys members)."""
    return factories.model(search, "finder")


def unique_name(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def mlflow_registered(mlflow_store) -> str:
    """One MLflow registered model with two reproducible versions, logged once per session
    (logging a real pyfunc takes seconds); tests mirror it in Slipway models of their own."""
    name = unique_name("clf")
    for auc in (0.81, 0.83):
        mlflow_store.log_version(name, metrics={"auc": auc}, params=factories.REPRODUCIBLE_PARAMS,
                                 tags=factories.REPRODUCIBLE_TAGS)
    return name


@pytest.fixture
def mlflow_model(mlflow, mlflow_registered, recsys):
    """A recsys model mirroring `mlflow_registered` (versions 1 and 2 in MLflow, none imported)."""
    return factories.model(recsys, "classifier", mlflow_name=mlflow_registered)


@pytest.fixture
def version(ranker):
    """A version of ranker with its checklist (made directly: these tests are not about import)."""
    from apps.readiness.services import ensure_items

    made = ModelVersion.objects.create(model=ranker, version=1, mlflow_run_id="r" * 32,
                                       artifact_digest="sha256:" + "0" * 64)
    ensure_items(made)
    return made
