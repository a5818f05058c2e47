"""Model versions through the API: import from a real MLflow store, sync, read one version."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.registry.models import ModelVersion
from tests import factories
from tests.api.conftest import Counts, assert_problem

pytestmark = pytest.mark.django_db


def versions_url(model) -> str:
    return f"/api/v1/models/{model.pk}/versions/"


def test_import_a_version_from_mlflow(as_user, ada, mlflow_model):
    response = as_user(ada).post(versions_url(mlflow_model), {"mlflow_version": "2"})
    assert response.status_code == 201, response.content
    body = response.json()
    version = ModelVersion.objects.get(pk=body["id"])
    assert version.version == 2 and version.imported_by == ada
    assert body["metrics"]["auc"] == pytest.approx(0.83)
    assert body["git_commit"] == factories.REPRODUCIBLE_TAGS["git_commit"]
    assert body["random_seed"] == "42"
    assert body["artifact_digest"].startswith("sha256:") and len(body["artifact_digest"]) == 71
    assert body["checklist"]["total"] == 10
    assert body["ready"] is False and "fallback" in body["checklist"]["failing"]
    assert {i["key"] for i in body["failing_items"]} == set(body["checklist"]["failing"])
    # Reproducibility is complete in the seeded run, so that automatic item passed.
    assert "reproducibility" not in body["checklist"]["failing"]
    event = AuditEvent.objects.get(action="version.imported")
    assert event.object_id == str(version.pk) and event.actor == ada and event.source == "api"


def test_import_accepts_a_json_number(as_user, ada, mlflow_model):
    assert as_user(ada).post(versions_url(mlflow_model), {"mlflow_version": 1}).status_code == 201


def test_import_twice_is_a_409_and_writes_nothing(as_user, ada, mlflow_model):
    client = as_user(ada)
    assert client.post(versions_url(mlflow_model), {"mlflow_version": "1"}).status_code == 201
    counts = Counts()
    assert_problem(client.post(versions_url(mlflow_model), {"mlflow_version": "1"}), 409,
                   field="mlflow_version", code="version_exists")
    assert counts.unchanged()


def test_version_missing_in_mlflow_is_a_404_problem(as_user, ada, mlflow_model):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(versions_url(mlflow_model), {"mlflow_version": "99"}), 404,
                   field="mlflow_version", code="mlflow_not_found")
    assert counts.unchanged()


def test_unreachable_mlflow_is_a_503_problem(as_user, ada, ranker, settings):
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_REGISTRY_URI = "http://127.0.0.1:9"
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(versions_url(ranker), {"mlflow_version": "1"}), 503, code="mlflow_unavailable")
    assert counts.unchanged()


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", True, None, [], {"v": 1}, "9" * 40])
def test_malformed_version_numbers_are_400_on_the_field(as_user, ada, ranker, value):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(versions_url(ranker), {"mlflow_version": value}), 400, field="mlflow_version")
    assert counts.unchanged()


def test_viewer_cannot_import(as_user, vera, mlflow_model):
    client = as_user(vera)
    counts = Counts()
    assert_problem(client.post(versions_url(mlflow_model), {"mlflow_version": "1"}), 403)
    assert counts.unchanged()


def test_other_team_cannot_see_or_import(as_user, grace, mlflow_model):
    client = as_user(grace)
    counts = Counts()
    assert_problem(client.get(versions_url(mlflow_model)), 404)
    assert_problem(client.post(versions_url(mlflow_model), {"mlflow_version": "1"}), 404)
    assert counts.unchanged()


def test_sync_imports_every_missing_version_once(as_user, ada, mlflow_model):
    client = as_user(ada)
    client.post(versions_url(mlflow_model), {"mlflow_version": "1"})
    response = client.post(f"/api/v1/models/{mlflow_model.pk}/sync/")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1
    assert [v["version"] for v in response.json()["imported"]] == [2]
    again = client.post(f"/api/v1/models/{mlflow_model.pk}/sync/").json()
    assert again == {"count": 0, "imported": []}
    listed = client.get(versions_url(mlflow_model)).json()
    assert [v["version"] for v in listed["results"]] == [2, 1]
    assert AuditEvent.objects.filter(action="version.imported").count() == 2


def test_sync_of_a_model_missing_in_mlflow_is_a_404(as_user, ada, recsys, mlflow):
    model = factories.model(recsys, "ghost", mlflow_name="never-registered")
    assert_problem(as_user(ada).post(f"/api/v1/models/{model.pk}/sync/"), 404, code="mlflow_not_found")


def test_viewer_cannot_sync(as_user, vera, mlflow_model):
    client = as_user(vera)
    counts = Counts()
    assert_problem(client.post(f"/api/v1/models/{mlflow_model.pk}/sync/"), 403)
    assert counts.unchanged()


def test_version_detail_and_other_team_404(as_user, ada, grace, vera, mlflow_model):
    created = as_user(ada).post(versions_url(mlflow_model), {"mlflow_version": "1"}).json()
    url = f"/api/v1/versions/{created['id']}/"
    body = as_user(vera).get(url).json()
    assert body["model"] == mlflow_model.pk and body["model_name"] == mlflow_model.name
    assert body["tenant"] == "recsys" and body["version"] == 1
    assert body["dataset_version"] == factories.REPRODUCIBLE_TAGS["dataset_version"]
    assert_problem(as_user(grace).get(url), 404)


def test_versions_are_read_only_after_import(as_user, ada, mlflow_model):
    created = as_user(ada).post(versions_url(mlflow_model), {"mlflow_version": "1"}).json()
    url = f"/api/v1/versions/{created['id']}/"
    assert_problem(as_user(ada).patch(url, {"artifact_digest": "sha256:evil"}), 405)
    assert_problem(as_user(ada).delete(url), 405)
    assert ModelVersion.objects.get(pk=created["id"]).artifact_digest == created["artifact_digest"]


def test_import_refuses_mass_assigned_fields(as_user, ada, ranker):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(versions_url(ranker), {"mlflow_version": "1", "artifact_digest": "sha256:x"}),
                   400, field="artifact_digest", code="unknown_field")
    assert counts.unchanged()
