"""Approvals are never by the requester, never replayed, never stale (SPEC §1, §10).

Through the API (Bearer tokens, as automation would) and the rollout engine's start check,
driven against the dev cluster served in-process (tests/worker/engine/conftest.py).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from apps.deployments.choices import DeploymentStatus
from apps.deployments.models import Approval, Deployment
from apps.readiness.choices import ItemStatus
from apps.registry import services as registry
from apps.tenancy.services import issue_token
from tests import factories
from tests.worker.engine.conftest import devcluster, harness  # noqa: F401  (fixtures)

S = DeploymentStatus
CONFIG = {"instance_type": "g5.xlarge", "gpus_per_replica": 1, "min_replicas": 1, "max_replicas": 2,
          "soak_seconds": 300}


def bearer(user) -> Client:
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(user, actor=user, name='ci').secret}"
    return client


def post(client: Client, url: str, body: dict):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def imported(mlflow, recsys, ada):
    """A real MLflow version imported into Slipway, every checklist item passed."""
    name = factories.unique_name("appr")
    number = mlflow.log_version(name, metrics={"auc": 0.91}, tags=factories.REPRODUCIBLE_TAGS,
                                params=factories.REPRODUCIBLE_PARAMS)
    model = factories.model(recsys, name, mlflow_name=name)
    version = registry.import_version(model, actor=ada, mlflow_version=number)
    version.checklist.update(status=ItemStatus.PASS)
    return version


@pytest.fixture
def pending(imported, ada):
    """ada's production request, via the API."""
    response = post(bearer(ada), "/api/v1/deployments/", {"version": imported.pk, "environment": "production",
                                                          "config": CONFIG})
    assert response.status_code == 201, response.content
    return Deployment.objects.get(pk=response.json()["id"])


def approve(client, deployment):
    return post(client, f"/api/v1/deployments/{deployment.pk}/approve/", {"comment": "ok"})


def test_requester_cannot_approve_or_reject_their_own_request_even_as_platform_engineer(imported, linus, vince):
    response = post(bearer(linus), "/api/v1/deployments/", {"version": imported.pk, "environment": "production",
                                                            "config": CONFIG})
    assert response.status_code == 201
    deployment = Deployment.objects.get(pk=response.json()["id"])
    for action in ("approve", "reject"):
        refused = post(bearer(linus), f"/api/v1/deployments/{deployment.pk}/{action}/", {"comment": "mine"})
        assert refused.status_code == 403, refused.content
        assert refused.json()["code"] == "self_approval"
    deployment.refresh_from_db()
    assert deployment.status == S.PENDING_APPROVAL and not Approval.objects.exists()
    # Another platform engineer may.
    assert approve(bearer(vince), deployment).status_code == 200


@pytest.fixture
def vince(db):
    return factories.user("vince", is_platform=True)


def test_data_scientists_and_viewers_cannot_approve(pending, ada, vera, grace):
    assert approve(bearer(ada), pending).status_code == 403
    assert approve(bearer(vera), pending).status_code == 403
    assert approve(bearer(grace), pending).status_code == 404, "another team's request does not exist for grace"
    assert not Approval.objects.exists()


def test_an_approval_cannot_be_replayed(pending, linus, vince):
    assert approve(bearer(linus), pending).status_code == 200
    for approver in (linus, vince):
        again = approve(bearer(approver), pending)
        assert again.status_code == 409, again.content
        assert again.json()["errors"][0]["field"] == "status"
    rejected_after = post(bearer(vince), f"/api/v1/deployments/{pending.pk}/reject/", {"comment": "too late"})
    assert rejected_after.status_code == 409
    assert Approval.objects.filter(deployment=pending).count() == 1


def test_concurrent_replays_leave_one_approval(pending, linus, vince):
    first, second = approve(bearer(linus), pending), approve(bearer(vince), pending)
    assert sorted([first.status_code, second.status_code]) == [200, 409]


def test_the_engine_starts_a_fresh_unchanged_approval(harness, pending, linus):  # noqa: F811
    assert approve(bearer(linus), pending).status_code == 200
    assert harness.tick(pending, twice=False) == ["started"], pending.status_reason
    assert Approval.objects.get(deployment=pending).used_at is not None


def test_an_expired_approval_does_not_start_the_rollout(harness, pending, linus):  # noqa: F811
    assert approve(bearer(linus), pending).status_code == 200
    Approval.objects.filter(deployment=pending).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert harness.tick(pending, twice=False) == ["expired"]
    assert pending.status == S.EXPIRED and "expired" in pending.status_reason
    assert harness.weights(pending) is None, "nothing reached the cluster"


def test_an_approval_does_not_cover_a_changed_configuration(harness, pending, linus):  # noqa: F811
    assert approve(bearer(linus), pending).status_code == 200
    # The deployment's configuration changes after the approval (e.g. a direct database edit).
    Deployment.objects.filter(pk=pending.pk).update(config={**pending.config, "min_replicas": 4},
                                                     config_hash="e" * 64)
    assert harness.tick(pending, twice=False) == ["failed"]
    assert pending.status == S.FAILED and "configuration or artifact" in pending.status_reason
    assert harness.weights(pending) is None


def test_an_approval_does_not_cover_a_changed_artifact_digest(harness, pending, linus):  # noqa: F811
    assert approve(bearer(linus), pending).status_code == 200
    type(pending.version).objects.filter(pk=pending.version_id).update(artifact_digest="sha256:" + "d" * 64)
    assert harness.tick(pending, twice=False) == ["failed"]
    assert "configuration or artifact" in pending.status_reason


def test_an_approval_does_not_cover_files_changed_in_mlflow(harness, mlflow, pending, linus):  # noqa: F811
    assert approve(bearer(linus), pending).status_code == 200
    run_id = pending.version.mlflow_run_id
    tampered = [p for p in Path(mlflow.artifacts).rglob("MLmodel") if run_id in str(p)] or \
        list(Path(mlflow.artifacts).rglob("MLmodel"))
    for path in tampered:
        path.write_text(path.read_text() + "\n# tampered after approval\n")
    assert harness.tick(pending, twice=False) == ["artifact_changed"]
    assert pending.status == S.FAILED and "changed since approval" in pending.status_reason
    assert harness.weights(pending) is None
