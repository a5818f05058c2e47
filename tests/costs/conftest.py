"""Fixtures for cost tests: deployments with hand-set histories (status transitions at known
times), and helpers to meter them and to make cost rows directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.costs.models import CostRecord
from apps.deployments.models import Deployment, Environment, Rollout, RolloutEvent
from tests import factories
from tests.deployments.conftest import make_version

H10 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday, 10:00 UTC


def config(**overrides) -> dict:
    base = {"instance_type": "g5.xlarge", "gpus_per_replica": 1, "min_replicas": 2, "max_replicas": 4,
            "spot_percent": 0, "strategy": "canary", "steps": [5, 25, 50, 100], "soak_seconds": 60,
            "sla_p99_ms": 200, "autoscaling": {"queue_depth": 10, "gpu_utilization": 70},
            "image": "registry.local/x@sha256:" + "a" * 64}
    return {**base, **overrides}


def deploy(version, environment: str, *, transitions: list[tuple[datetime, str]], previous=None,
           strategy: str = "canary", batches=None, steps: list[tuple[datetime, int]] = (), **cfg) -> Deployment:
    """A deployment whose RolloutEvents record `transitions` [(at, to_status)] and step events."""
    env = Environment.objects.get(name=environment)
    status = transitions[-1][1] if transitions else "queued"
    started = next((at for at, s in transitions if s == "progressing"), None)
    live = next((at for at, s in transitions if s == "live"), None)
    ended = next((at for at, s in transitions if s in ("superseded", "rolled_back", "failed")), None)
    d = Deployment.objects.create(
        tenant_id=version.model.tenant_id, model=version.model, version=version, environment=env, status=status,
        strategy=strategy, config=config(strategy=strategy, **cfg), config_hash="x" * 64,
        requested_by=version.model.created_by or factories.user(), previous=previous,
        started_at=started, live_since=live, finished_at=ended)
    Rollout.objects.create(deployment=d, steps=[100], batches=batches or [], phase="done", cluster_synced=True)
    previous_status = "queued"
    for at, to in transitions:
        RolloutEvent.objects.create(deployment=d, created_at=at, kind="transition", from_status=previous_status,
                                    to_status=to, message=f"→ {to}")
        previous_status = to
    for at, index in steps:
        RolloutEvent.objects.create(deployment=d, created_at=at, kind="step", step_index=index, message=f"step {index}")
    return d


@pytest.fixture
def ctr(recsys, ada):
    return factories.model(recsys, "ctr-ranker", owner="ada@example.com", oncall="#recsys-oncall", created_by=ada)


@pytest.fixture
def v1(ctr):
    return make_version(ctr, 1)


@pytest.fixture
def v2(ctr):
    return make_version(ctr, 2)


@pytest.fixture
def intent(search, grace):
    return factories.model(search, "query-intent", created_by=grace)


def record(model, day, usd, *, environment: str = "production", requests: int | None = 1000, hour: int = 0,
           deployment=None, gpu_utilization: float | None = None, replica_hours="1") -> CostRecord:
    """One cost row made directly (for report, anomaly and budget rules)."""
    env = Environment.objects.get(name=environment)
    if deployment is None:
        version = model.versions.order_by("version").first() or make_version(model, 1)
        deployment = Deployment.objects.filter(model=model, environment=env).first() or deploy(
            version, environment, transitions=[(datetime(2026, 1, 1, tzinfo=UTC), "progressing"),
                                               (datetime(2026, 1, 1, tzinfo=UTC), "live")])
    at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)
    usd = Decimal(str(usd))
    return CostRecord.objects.create(
        tenant_id=model.tenant_id, model=model, environment=env, deployment=deployment,
        version_number=deployment.version.version, hour=at, day=day, instance_type="g5.xlarge", gpus_per_replica=1,
        replica_hours=Decimal(replica_hours), gpu_hours=Decimal(replica_hours), instance_hours=Decimal(replica_hours),
        spot_share=Decimal(0), on_demand_rate=Decimal("1.0060"), spot_rate=Decimal("0.4024"), on_demand_usd=usd,
        spot_usd=Decimal(0), usd=usd, requests=requests, gpu_utilization=gpu_utilization)
