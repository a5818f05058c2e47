"""Facts the rollouts produce for the checklist, and the approval's digest check at rollout start."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.deployments import services
from apps.deployments.choices import DeploymentStatus
from apps.readiness.choices import ItemStatus
from apps.readiness.services import evaluate
from apps.registry import services as registry
from tests import factories
from tests.deployments.conftest import SMALL, make_version

S = DeploymentStatus


def item(version, key):
    return version.checklist.get(key=key)


def test_staging_live_passes_latency_sla_and_staging_soak(harness, recsys, ada):
    ctr = factories.model(recsys, "ctr-ranker", sla_p99_ms=200)
    version = make_version(ctr, 1, ready=False)
    evaluate(version)
    assert item(version, "latency_sla").status == ItemStatus.PENDING
    deployment = services.request_deployment(version, environment="staging", config=SMALL, actor=ada)
    harness.run_until(deployment, {S.LIVE})
    evaluate(version)
    assert item(version, "latency_sla").status == ItemStatus.PASS
    assert "< SLA 200 ms" in item(version, "latency_sla").detail
    assert item(version, "staging_soak").status == ItemStatus.PASS


def test_staging_rollback_on_latency_fails_latency_sla(harness, recsys, ada):
    ctr = factories.model(recsys, "ctr-ranker", sla_p99_ms=200)
    version = make_version(ctr, 1, ready=False)
    deployment = services.request_deployment(version, environment="staging", config=SMALL, actor=ada)
    harness.tick(deployment)
    harness.tick(deployment)
    harness.advance(5)
    harness.tick(deployment)
    harness.behave(deployment, p99_ms=900)
    harness.run_until(deployment, {S.ROLLED_BACK})
    evaluate(version)
    assert item(version, "latency_sla").status == ItemStatus.FAIL
    assert item(version, "staging_soak").status == ItemStatus.FAIL


@pytest.fixture
def imported(mlflow, recsys, ada):
    """A real MLflow version imported into Slipway, with every checklist item passed."""
    name = "fraud-score"
    number = mlflow.log_version(name, metrics={"auc": 0.91}, tags=factories.REPRODUCIBLE_TAGS,
                                params=factories.REPRODUCIBLE_PARAMS)
    model = factories.model(recsys, "fraud-score", mlflow_name=name)
    version = registry.import_version(model, actor=ada, mlflow_version=number)
    version.checklist.update(status=ItemStatus.PASS)
    return version


def test_production_starts_when_the_artifact_is_unchanged(harness, imported, ada, linus):
    deployment = services.request_deployment(imported, environment="production",
                                             config={**SMALL, "soak_seconds": 300}, actor=ada)
    approval = services.approve(deployment, actor=linus, comment="ok")
    assert harness.tick(deployment, twice=False) == ["started"], deployment.status_reason
    approval.refresh_from_db()
    assert approval.used_at is not None


def test_production_refuses_an_artifact_changed_since_approval(harness, mlflow, imported, ada, linus):
    deployment = services.request_deployment(imported, environment="production",
                                             config={**SMALL, "soak_seconds": 300}, actor=ada)
    services.approve(deployment, actor=linus, comment="ok")
    # Someone rewrites the model's files in the artifact store after the approval.
    mlmodel = next(Path(mlflow.artifacts).rglob("MLmodel"))
    candidates = [p for p in Path(mlflow.artifacts).rglob("MLmodel")]
    for path in candidates:
        path.write_text(path.read_text() + "\n# tampered\n")
    assert mlmodel.exists()
    assert harness.tick(deployment, twice=False) == ["artifact_changed"]
    assert deployment.status == S.FAILED
    assert "changed since approval" in deployment.status_reason
    assert harness.weights(deployment) is None  # nothing reached the cluster
