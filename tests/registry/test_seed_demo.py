"""`manage.py seed_demo`: real MLflow models imported through the services; re-running adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from apps.core.models import AuditEvent
from apps.readiness.models import ChecklistItem
from apps.registry import demo, mlflow_client
from apps.registry.models import Model, ModelVersion
from apps.tenancy.models import Membership, Tenant, User
from tests.factories import MlflowStore


@pytest.fixture(scope="module")
def demo_mlflow_store(tmp_path_factory):
    """An MLflow store that already holds the demo's versions (logged once per module: ~1 s each)."""
    from django.test import override_settings

    store = MlflowStore(tmp_path_factory.mktemp("demo-mlflow"))
    with override_settings(MLFLOW_TRACKING_URI=store.uri, MLFLOW_REGISTRY_URI=store.uri,
                           MLFLOW_ARTIFACT_ROOT=str(store.artifacts)):
        store.logged = {spec.name: demo.ensure_mlflow_versions(spec) for spec in demo.MODELS}
    return store


@pytest.fixture
def demo_mlflow(demo_mlflow_store, settings):
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_REGISTRY_URI = demo_mlflow_store.uri
    settings.MLFLOW_ARTIFACT_ROOT = str(demo_mlflow_store.artifacts)
    return demo_mlflow_store


def _counts() -> dict[str, int]:
    return {"tenants": Tenant.objects.count(), "users": User.objects.count(),
            "memberships": Membership.objects.count(), "models": Model.objects.count(),
            "versions": ModelVersion.objects.count(), "items": ChecklistItem.objects.count(),
            "audit": AuditEvent.objects.count(),
            "mlflow": sum(len(mlflow_client.list_versions(m.name)) for m in demo.MODELS)}


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_mlflow_versions_are_logged_once(demo_mlflow):
    # the module fixture logged into an empty store; logging again finds them all
    assert demo_mlflow.logged == {"ctr-ranker": 3, "two-tower-retrieval": 2, "query-intent": 2}
    assert [demo.ensure_mlflow_versions(spec) for spec in demo.MODELS] == [0, 0, 0]
    assert [mlflow_client.list_versions(spec.name) for spec in demo.MODELS] == [[1, 2, 3], [1, 2], [1, 2]]


@pytest.mark.django_db
def test_seed_twice_creates_the_demo_once(demo_mlflow):
    first = _seed()
    counts = _counts()
    assert counts["tenants"] == 2 and counts["users"] == 4 and counts["memberships"] == 3
    assert counts["models"] == 3 and counts["versions"] == 7 and counts["mlflow"] == 7
    assert "created 2 teams, 4 users, 3 models, logged 0 MLflow versions, imported 7, attested 4" in first

    second = _seed()
    assert _counts() == counts
    assert "created 0 teams, 0 users, 0 models, logged 0 MLflow versions, imported 0, attested 0" in second


@pytest.mark.django_db
def test_seeded_people_teams_and_models_match_the_demo(demo_mlflow):
    _seed()
    recsys, search = Tenant.objects.get(slug="recsys"), Tenant.objects.get(slug="search")
    assert (recsys.name, recsys.gpu_quota, search.name, search.gpu_quota) == ("Recommendations", 16, "Search", 8)
    assert recsys.monthly_budget_usd > 0 and search.monthly_budget_usd > 0
    roles = {(m.user.username, m.tenant.slug): m.role for m in Membership.objects.select_related("user", "tenant")}
    assert roles == {("ada", "recsys"): "data_scientist", ("vera", "recsys"): "viewer",
                     ("grace", "search"): "data_scientist"}
    assert User.objects.get(username="linus").is_platform
    for username in ("ada", "vera", "grace", "linus"):
        assert authenticate(username=username, password=demo.DEMO_PASSWORD) is not None

    by_team = {(m.tenant.slug, m.name): m.versions.count() for m in Model.objects.select_related("tenant")}
    assert by_team == {("recsys", "ctr-ranker"): 3, ("recsys", "two-tower-retrieval"): 2,
                       ("search", "query-intent"): 2}
    ranker = Model.objects.get(name="ctr-ranker")
    assert (ranker.owner, ranker.oncall, ranker.primary_metric) == ("ada@example.com", "#recsys-oncall", "auc")
    assert ranker.primary_metric_floor == 0.7 and ranker.sla_p99_ms == 150
    # versions came through import_version: audited, with real run metadata
    assert AuditEvent.objects.filter(action="version.imported").count() == 7
    assert AuditEvent.objects.filter(action="model.created", actor_label="ada").count() == 2
    v1 = ranker.versions.get(version=1)
    assert v1.mlflow_run_id and v1.artifact_digest.startswith("sha256:")
    assert 0.5 < v1.metrics["auc"] <= 1.0 and v1.params["random_seed"] == "11"


@pytest.mark.django_db
def test_the_version_without_image_digest_and_seed_fails_reproducibility(demo_mlflow):
    _seed()
    statuses = {(i.version.model.name, i.version.version): (i.status, i.detail)
                for i in ChecklistItem.objects.filter(key="reproducibility").select_related("version__model")}
    status, detail = statuses.pop(("ctr-ranker", 3))
    assert status == "fail"
    assert "container image digest" in detail and "random seed" in detail
    assert {s for s, _ in statuses.values()} == {"pass"}


@pytest.mark.django_db
def test_attested_items_carry_evidence_and_survive_a_rerun(demo_mlflow):
    _seed()
    attested = ChecklistItem.objects.filter(decided_by__isnull=False).select_related("version__model", "decided_by")
    assert attested.count() == 4
    for item in attested:
        assert item.status == "pass" and item.evidence
    bias = attested.get(version__model__name="ctr-ranker", version__version=2, key="bias_review")
    assert bias.decided_by.username == "ada"

    # someone edits the demo; a re-run keeps their change
    Model.objects.filter(name="ctr-ranker").update(description="Edited in the demo.")
    Tenant.objects.filter(slug="search").update(gpu_quota=4)
    _seed()
    assert Model.objects.get(name="ctr-ranker").description == "Edited in the demo."
    assert Tenant.objects.get(slug="search").gpu_quota == 4
    assert ChecklistItem.objects.filter(decided_by__isnull=False).count() == 4


@pytest.mark.django_db
def test_a_version_missing_from_slipway_is_imported_on_rerun(demo_mlflow):
    _seed()
    ModelVersion.objects.filter(model__name="query-intent", version=2).delete()
    out = _seed()
    assert "logged 0 MLflow versions, imported 1" in out
    assert Model.objects.get(name="query-intent").versions.count() == 2


def test_banner_names_the_url_the_password_and_every_login():
    text = demo.banner("http://127.0.0.1:8000/")
    assert "http://127.0.0.1:8000/" in text and demo.DEMO_PASSWORD in text
    for username in ("ada", "vera", "grace", "linus"):
        assert username in text
    assert "viewer, recsys" in text and "platform engineer" in text
