"""Writes through the API: one audit event per mutation, no mass assignment, no foreign keys
into another team. Walks every API write route the route walker knows (so a new route is
covered as soon as it has a case), plus explicit checks of the operations SPEC §6 names."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.apps import apps as django_apps
from django.db import models as dj_models
from django.test import Client
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.deployments.models import Approval, Deployment
from apps.registry.models import Model, ModelVersion
from apps.tenancy.models import Tenant
from tests import factories
from tests.security.test_route_walker import load_cases, required_routes, walk, world  # noqa: F401  (fixture)

# POSTs that answer a question and change nothing: they must write no audit event.
READ_ONLY_POSTS = {"deployment-plan": "computes a GPU plan for a request; writes nothing"}
INJECTED_DIGEST = "sha256:" + "f" * 64


def api_write_cases() -> list[tuple[str, str]]:
    cases = load_cases()
    api = {r.name for r in walk() if r.is_api}
    return [(r.name, method) for r in required_routes() if r.name in api and r.name in cases
            for method in cases[r.name].writes]


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, url: str, body: dict | None):
    return client.generic(method, url, json.dumps(body or {}), content_type="application/json")


def attempt_as_permitted(world, name: str, method: str, body_override=None):  # noqa: F811
    """Send the route's own (valid) body as ada, or as linus where ada is not permitted."""
    case = load_cases()[name]
    url = reverse(name, kwargs=case.kwargs(world))
    body = case.body(world) if case.body else None
    if body_override is not None:
        body = body_override(body)
    for user in (world.ada, world.linus):
        client = session(user)  # signing in is audited itself: count after it
        before = AuditEvent.objects.count()
        response = send(client, method, url, body)
        if response.status_code not in (403,):
            return user, response, AuditEvent.objects.count() - before
    return user, response, AuditEvent.objects.count() - before


FIGURES: Counter = Counter()


@pytest.mark.django_db
@pytest.mark.parametrize("name,method", api_write_cases())
def test_every_api_write_audits_exactly_once_when_it_succeeds(name, method, world):  # noqa: F811
    user, response, events = attempt_as_permitted(world, name, method)
    assert response.status_code < 500, response.content
    label = f"{method} {name} as {user.username}: {response.status_code}"
    if 200 <= response.status_code < 300:
        expected = 0 if name in READ_ONLY_POSTS else 1
        assert events == expected, f"{label} wrote {events} audit events"
        FIGURES["succeeded"] += 1
    else:
        assert events == 0, f"{label} was refused but wrote {events} audit events"
        FIGURES["refused"] += 1


# --- the operations SPEC §6 names, each with valid input -------------------------------------------

CONFIG = {"instance_type": "g5.xlarge", "gpus_per_replica": 1, "min_replicas": 1, "max_replicas": 2,
          "soak_seconds": 300}


class Audited:
    """The audit events a block writes: exactly one by the caller, with this action.

    Automatic follow-ups the system makes on its own account (e.g. the checklist evaluation
    that an import triggers, actor "system") are separate state changes with their own events.
    """

    def __init__(self, action: str):
        self.action = action

    def __enter__(self):
        self.before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            events = AuditEvent.objects.filter(id__gt=self.before).order_by("id")
            by_caller = [e.action for e in events if e.actor_id is not None]
            assert by_caller == [self.action], f"expected exactly [{self.action!r}], got {by_caller}"
            assert all(e.actor_label in ("system", "worker") for e in events if e.actor_id is None)


def ready_version(model, number: int = 1, digest: str = "sha256:" + "0" * 64):
    version = factories.version(model, number, artifact_digest=digest)
    version.checklist.update(status="pass")
    return version


def test_named_operations_write_exactly_one_audit_event_each(mlflow, recsys, ada, linus, vince_platform):
    ada_c, linus_c, vince_c = session(ada), session(linus), session(vince_platform)

    with Audited("model.created"):
        response = send(ada_c, "POST", "/api/v1/models/", {"tenant": "recsys", "name": "audited",
                                                         "mlflow_name": mlflow_registered_name(mlflow)})
        assert response.status_code == 201, response.content
    model = Model.objects.get(pk=response.json()["id"])
    with Audited("model.updated"):
        assert send(ada_c, "PATCH", f"/api/v1/models/{model.pk}/", {"owner": "new-owner"}).status_code == 200
    with Audited("version.imported"):
        response = send(ada_c, "POST", f"/api/v1/models/{model.pk}/versions/", {"mlflow_version": "1"})
        assert response.status_code == 201, response.content
    version = ModelVersion.objects.get(pk=response.json()["id"])
    with Audited("checklist.attested"):
        assert send(ada_c, "POST", f"/api/v1/versions/{version.pk}/checklist/bias_review/",
                    {"status": "pass", "evidence": "reviewed"}).status_code == 200
    with Audited("checklist.waived"):
        response = send(linus_c, "POST", f"/api/v1/versions/{version.pk}/checklist/fallback/",
                        {"status": "waived", "reason": "internal model"})
        assert response.status_code == 200, response.content
    with Audited("token.created"):
        response = send(ada_c, "POST", "/api/v1/tokens/", {"name": "ci"})
        assert response.status_code == 201
    with Audited("token.revoked"):
        assert send(ada_c, "DELETE", f"/api/v1/tokens/{response.json()['id']}/", None).status_code == 204

    ranker = factories.model(recsys, "audited-ranker")
    v1, v2 = ready_version(ranker, 1), ready_version(ranker, 2)
    with Audited("deployment.requested"):
        response = send(ada_c, "POST", "/api/v1/deployments/", {"version": v1.pk, "environment": "production",
                                                              "config": CONFIG})
        assert response.status_code == 201, response.content
    first = response.json()["id"]
    with Audited("approval.approved"):
        assert send(linus_c, "POST", f"/api/v1/deployments/{first}/approve/", {"comment": "ok"}).status_code == 200
    with Audited("deployment.rolled_back"):
        assert send(ada_c, "POST", f"/api/v1/deployments/{first}/abort/", {"reason": "changed my mind"}).status_code == 200
    with Audited("deployment.requested"):
        second = send(ada_c, "POST", "/api/v1/deployments/", {"version": v2.pk, "environment": "production",
                                                            "config": CONFIG}).json()["id"]
    with Audited("approval.rejected"):
        assert send(vince_c, "POST", f"/api/v1/deployments/{second}/reject/", {"comment": "no"}).status_code == 200

    # Rollback of a live deployment restores the previous one: still one event, naming both.
    old = Deployment.objects.create(tenant=recsys, model=ranker, version=v1, environment_id=staging_id(),
                                    status="superseded", config=CONFIG, config_hash="a" * 64, requested_by=ada)
    live = Deployment.objects.create(tenant=recsys, model=ranker, version=v2, environment_id=staging_id(),
                                     status="live", config=CONFIG, config_hash="a" * 64, requested_by=ada,
                                     previous=old)
    from apps.deployments.models import Rollout

    Rollout.objects.create(deployment=live, steps=[100])
    with Audited("deployment.rolled_back"):
        response = send(ada_c, "POST", f"/api/v1/deployments/{live.pk}/rollback/", {"reason": "bad"})
        assert response.status_code == 200, response.content
    assert AuditEvent.objects.filter(action="deployment.rolled_back").order_by("-id").first().after["restored"] == old.pk
    with Audited("model.deleted"):
        other = factories.model(recsys, "to-delete")
        assert send(ada_c, "DELETE", f"/api/v1/models/{other.pk}/", None).status_code == 204


def staging_id() -> int:
    from apps.deployments.models import Environment

    return Environment.objects.get(name="staging").pk


def mlflow_registered_name(mlflow) -> str:
    name = factories.unique_name("aud")
    mlflow.log_version(name, metrics={"auc": 0.9}, params=factories.REPRODUCIBLE_PARAMS, tags=factories.REPRODUCIBLE_TAGS)
    return name


@pytest.fixture
def vince_platform(db):
    return factories.user("vince", is_platform=True)


# --- mass assignment ------------------------------------------------------------------------------

def tenant_fk_models() -> list[type[dj_models.Model]]:
    return [m for m in django_apps.get_models()
            if any(isinstance(f, dj_models.ForeignKey) and f.related_model is Tenant and f.name == "tenant"
                   for f in m._meta.fields)]


def rows_of(tenant) -> dict[str, int]:
    return {m.__name__: m.objects.filter(tenant=tenant).count() for m in tenant_fk_models()}


@pytest.mark.django_db
@pytest.mark.parametrize("name,method", [c for c in api_write_cases() if c[1] in ("POST", "PUT", "PATCH")])
def test_mass_assignment_is_ignored_or_refused(name, method, world):  # noqa: F811
    """tenant, status, approved_by, requested_by, artifact_digest in any write body change nothing they name."""
    search_rows = rows_of(world.search)

    def inject(body):
        body = dict(body or {})
        extra = {"tenant": world.search.slug, "status": "live", "approved_by": world.grace.pk,
                 "requested_by": world.grace.pk, "decided_by": world.grace.pk, "artifact_digest": INJECTED_DIGEST}
        for key, value in extra.items():
            body.setdefault(key, value)  # a field the route really takes (e.g. attest's status) keeps its value
        return body

    user, response, _ = attempt_as_permitted(world, name, method, body_override=inject)
    assert response.status_code < 500, response.content
    assert rows_of(world.search) == search_rows, f"{name}: a row was written into another team"
    assert not Deployment.objects.filter(requested_by=world.grace).exists()
    assert not Deployment.objects.filter(status="live").exists()
    assert not Approval.objects.filter(decided_by=world.grace).exists()
    assert not ModelVersion.objects.filter(artifact_digest=INJECTED_DIGEST).exists()
    if 200 <= response.status_code < 300 and response.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict):
            assert body.get("tenant") not in (world.search.slug, world.search.pk), name
            assert body.get("requested_by") not in (world.grace.pk, "grace"), name
            assert body.get("artifact_digest") != INJECTED_DIGEST, name


def test_model_create_and_update_ignore_or_refuse_protected_fields(recsys, search, ada):
    client = session(ada)
    response = send(client, "POST", "/api/v1/models/", {"tenant": "recsys", "name": "m1", "id": 999_999,
                                                      "created_at": "2000-01-01T00:00:00Z"})
    assert response.status_code == 201
    model = Model.objects.get(name="m1")
    assert model.pk != 999_999 and model.created_at.year > 2000 and model.tenant == recsys
    response = send(client, "PATCH", f"/api/v1/models/{model.pk}/", {"tenant": "search"})
    model.refresh_from_db()
    assert model.tenant == recsys, "a model never moves to another team"
    assert response.status_code in (200, 400)


# --- foreign keys into another team -------------------------------------------------------------------

@pytest.fixture
def search_objects(search, grace):
    model = factories.model(search, "search-model")
    version = ready_version(model)
    return {"tenant": search.slug, "model": model.pk, "version": version.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("name,method", [c for c in api_write_cases() if c[1] in ("POST", "PUT", "PATCH")])
def test_foreign_keys_into_another_team_are_refused(name, method, world, search_objects):  # noqa: F811
    """ada (recsys only) names a search object in any reference field of a write body: 400 or 404, nothing written."""
    case = load_cases()[name]
    body = case.body(world) if case.body else None
    keys = [k for k in (body or {}) if k in search_objects]
    if not keys:
        FIGURES["fk_routes_without_references"] += 1
        return
    url = reverse(name, kwargs=case.kwargs(world))
    client = session(world.ada)
    before = (AuditEvent.objects.count(), rows_of(world.search), rows_of(world.recsys))
    response = send(client, method, url, {**body, **{k: search_objects[k] for k in keys}})
    assert response.status_code in (400, 404), f"{name} with search's {keys}: {response.status_code}"
    assert response["Content-Type"].startswith("application/problem+json")
    assert (AuditEvent.objects.count(), rows_of(world.search), rows_of(world.recsys)) == before
    FIGURES["fk_refused"] += 1


def test_deployment_of_another_teams_version_is_404_and_model_in_another_team_is_400(ada, search_objects):
    client = session(ada)
    response = send(client, "POST", "/api/v1/deployments/", {"version": search_objects["version"],
                                                           "environment": "staging", "config": CONFIG})
    assert response.status_code == 404
    response = send(client, "POST", "/api/v1/models/", {"tenant": "search", "name": "sneaky"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "tenant"
    assert not Model.objects.filter(name="sneaky").exists()
    # The page form too: naming another team is a form error.
    form = client.post(reverse("registry:model_create"), {"team": Tenant.objects.get(slug="search").pk,
                                                          "name": "sneaky", "mlflow_name": "sneaky"})
    assert form.status_code == 422 and not Model.objects.filter(name="sneaky").exists()


def test_write_walk_figures():
    names = api_write_cases()
    print(f"\nAPI write walk: {len(names)} (route, method) pairs; {dict(FIGURES)}")
    assert len(names) >= 20
