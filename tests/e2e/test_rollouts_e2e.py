"""End to end: a real `celery worker` and `beat` drive rollouts against the dev cluster process.

Versions come from the test's real MLflow store (the worker checks the approved artifact
digest against it when a production rollout starts, and moves the environment's alias when a
version goes live). Beat ticks every second; the Environment rows carry short smoke, soak and
guard windows. Each test runs against Redis (REDIS_URL) and the embedded filesystem broker.
"""

from __future__ import annotations

import time
import uuid

import pytest
from mlflow import MlflowClient

from apps.deployments import services
from apps.deployments.choices import DeploymentStatus as S
from apps.deployments.models import Deployment, Environment, RolloutEvent
from apps.readiness.choices import ItemStatus
from apps.readiness.services import waive
from apps.registry.services import create_model, import_version
from tests.chaos.conftest import CONFIG, RPS, point_environments, running_devcluster, traffic_steps
from tests.factories import REPRODUCIBLE_PARAMS, REPRODUCIBLE_TAGS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def devcluster_proc(tmp_path):
    with running_devcluster(tmp_path) as dc:
        yield dc


def _wait_status(processes, deployment: Deployment, statuses: set[str], what: str) -> Deployment:
    def settled():
        deployment.refresh_from_db()
        return deployment.status in statuses and deployment.rollout.cluster_synced

    processes.wait_for(settled, what, timeout=90)
    return deployment


def test_staging_then_approved_production_canary_then_automatic_rollback(
        celery_processes, broker, mlflow, devcluster_proc, ada, linus, recsys):
    # given a model with three versions in MLflow, imported; environments on the dev cluster process
    point_environments(devcluster_proc.url)
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    model = create_model(recsys, actor=ada, name=name, owner="ada@example.com", oncall="#recsys-oncall",
                         primary_metric="auc", primary_metric_floor=0.5)
    versions = []
    for _ in range(3):
        number = mlflow.log_version(name, params=REPRODUCIBLE_PARAMS, tags=REPRODUCIBLE_TAGS)
        versions.append(import_version(model, actor=ada, mlflow_version=number))
    for env in Environment.objects.all():
        for version in versions:
            devcluster_proc.behave(env.namespace_for(recsys.slug), f"{name}-v{version.version}", rps=RPS,
                                   error_rate=0.001, p99_ms=80)
    celery_processes.env["SLIPWAY_TICK_SECONDS"] = "1"
    celery_processes.worker()
    celery_processes.beat()
    started = time.monotonic()

    # when ada deploys v1 to staging, it goes live (smoke analysis, then 100 %)
    staging = services.request_deployment(versions[0], environment="staging", config=CONFIG, actor=ada)
    _wait_status(celery_processes, staging, {S.LIVE}, f"staging live ({broker.kind})")
    staging_seconds = time.monotonic() - started
    assert devcluster_proc.routes()[f"{staging.namespace}/{name}"] == {f"{name}-v1": 100}

    # the rest of the checklist is waived by the platform engineer for the production requests
    # (readiness is tested in tests/readiness; the engine is what runs here). Waived, not
    # written as passed: the worker re-evaluates automatic items when staging goes live, and
    # evaluation never overrides a person's decision.
    for version in versions:
        for item in version.checklist.exclude(status__in=[ItemStatus.PASS, ItemStatus.WAIVED]):
            waive(item, actor=linus, reason="e2e: engine under test, readiness covered elsewhere")

    # v1 in production: requested by ada, approved by linus, first deployment → live
    first = services.request_deployment(versions[0], environment="production", config=CONFIG, actor=ada)
    assert first.status == S.PENDING_APPROVAL
    services.approve(first, actor=linus, comment="e2e: first production version")
    _wait_status(celery_processes, first, {S.LIVE}, f"production v1 live ({broker.kind})")

    # v2: approved, then a canary through every step of its plan, and live
    began = time.monotonic()
    canary = services.request_deployment(versions[1], environment="production", config=CONFIG, actor=ada)
    services.approve(canary, actor=linus, comment="e2e: canary")
    _wait_status(celery_processes, canary, {S.LIVE}, f"production v2 canary live ({broker.kind})")
    canary_seconds = time.monotonic() - began
    assert traffic_steps(canary) == list(enumerate(CONFIG["steps"]))
    first.refresh_from_db()
    assert first.status == S.SUPERSEDED
    assert devcluster_proc.routes()[f"{canary.namespace}/{name}"] == {f"{name}-v1": 0, f"{name}-v2": 100}
    assert canary.approvals.get().used_at is not None

    # v3: approved, but its canary answers 30 % errors → rolled back automatically, the gate named
    bad = services.request_deployment(versions[2], environment="production", config=CONFIG, actor=ada)
    devcluster_proc.behave(bad.namespace, f"{name}-v3", error_rate=0.3)
    services.approve(bad, actor=linus, comment="e2e: bad canary")
    began = time.monotonic()
    _wait_status(celery_processes, bad, {S.ROLLED_BACK, S.FAILED}, f"production v3 rolled back ({broker.kind})")
    rollback_seconds = time.monotonic() - began
    assert bad.status == S.ROLLED_BACK
    assert "gate error_rate" in bad.status_reason, bad.status_reason
    analysis = bad.rollout.analyses.filter(verdict="rollback").get()
    assert analysis.gate == "error_rate" and analysis.canary_error_rate > 0.05
    assert devcluster_proc.routes()[f"{bad.namespace}/{name}"] == {f"{name}-v2": 100, f"{name}-v3": 0}
    assert devcluster_proc.replicas()[f"{bad.namespace}/{name}-v3"] == 0
    canary.refresh_from_db()
    assert canary.status == S.LIVE
    # the registry stays true: the environment aliases name the live versions
    client = MlflowClient(tracking_uri=mlflow.uri, registry_uri=mlflow.uri)
    assert str(client.get_model_version_by_alias(name, "staging").version) == "1"
    assert str(client.get_model_version_by_alias(name, "production").version) == "2"
    assert RolloutEvent.objects.filter(deployment=bad, kind="transition", to_status=S.ROLLED_BACK,
                                       actor_label="worker").exists()
    print(f"\n[e2e rollouts] broker={broker.kind}, tick 1 s: staging live in {staging_seconds:.1f} s; production "
          f"canary {CONFIG['steps']} live in {canary_seconds:.1f} s; bad canary rolled back in "
          f"{rollback_seconds:.1f} s — {bad.status_reason}")
