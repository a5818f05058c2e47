"""Engine fixtures: the dev cluster served in-process, the real adapter, an injectable clock.

`Harness.tick()` runs `reconcile` twice for every tick (idempotency) and checks after each
that the model's route weights sum to 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import requests
from django.utils import timezone

from apps.deployments.choices import DeploymentStatus
from apps.deployments.models import Deployment, Environment, Rollout
from tests.deployments.conftest import production, reconcile_spy, staging  # noqa: F401  (shared fixtures)
from worker.cluster import get_cluster
from worker.engine.reconcile import Engine, reconcile
from worker.metrics.devcluster import DevClusterProvider


class Clock:
    def __init__(self):
        # Start at the real time: services (pause, resume) stamp rows with timezone.now().
        self.now = timezone.now()

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    dc: object
    clock: Clock
    engine: Engine
    aliases: list = field(default_factory=list)

    def advance(self, seconds: int) -> None:
        """Time passes for the engine and the simulated traffic alike."""
        self.clock.now += timedelta(seconds=seconds)
        if seconds > 0:
            self.dc.advance(seconds)

    def tick(self, deployment: Deployment, *, twice: bool = True) -> list[str]:
        rollout_id = Rollout.objects.get(deployment=deployment).pk
        outcomes = [reconcile(rollout_id, self.engine)]
        self.check_weights(deployment)
        if twice:
            outcomes.append(reconcile(rollout_id, self.engine))
            self.check_weights(deployment)
        deployment.refresh_from_db()
        return outcomes

    def weights(self, deployment: Deployment) -> dict[str, int] | None:
        cluster = self.engine.cluster_factory(deployment.environment)
        return cluster.get_route_weights(deployment.namespace, deployment.model.name)

    def check_weights(self, deployment: Deployment) -> None:
        weights = self.weights(deployment)
        if weights is not None:
            assert sum(weights.values()) == 100, weights

    def replicas(self, deployment: Deployment) -> int:
        cluster = self.engine.cluster_factory(deployment.environment)
        return cluster.workload_status(deployment.namespace, deployment.workload).desired

    def behave(self, deployment: Deployment, **settings) -> None:
        response = requests.put(f"{self.dc.url}/_sim/workloads/{deployment.namespace}/{deployment.workload}",
                                json=settings, timeout=5)
        response.raise_for_status()

    def faults(self, **settings) -> None:
        requests.put(f"{self.dc.url}/_sim/faults", json=settings, timeout=5).raise_for_status()

    def run_until(self, deployment: Deployment, statuses: set[str], *, step_seconds: int = 10,
                  max_ticks: int = 200) -> int:
        for count in range(max_ticks):
            deployment.refresh_from_db()
            settled = deployment.status not in (DeploymentStatus.LIVE, DeploymentStatus.ROLLED_BACK,
                                                DeploymentStatus.FAILED) or Rollout.objects.get(
                deployment=deployment).cluster_synced
            if deployment.status in statuses and settled:
                return count
            self.advance(step_seconds)
            self.tick(deployment)
        raise AssertionError(f"#{deployment.pk} still {deployment.status} after {max_ticks} ticks")


@pytest.fixture
def devcluster():
    from devcluster.server import DevCluster

    dc = DevCluster(port=0, ready_delay_seconds=0, traffic="manual").start()
    yield dc
    dc.stop()


@pytest.fixture
def harness(devcluster, db):
    clock = Clock()
    clusters: dict[str, object] = {}

    def cluster_factory(environment: Environment):
        if environment.name not in clusters:
            clusters[environment.name] = get_cluster({"kind": "url", "url": devcluster.url},
                                                     environment=environment.name, sleep=lambda _s: None)
        return clusters[environment.name]

    aliases: list = []
    engine = Engine(clock=clock, cluster_factory=cluster_factory,
                    metrics_factory=lambda env: DevClusterProvider(devcluster.url),
                    owner="test-engine", set_alias=lambda name, alias, version: aliases.append((name, alias, version)))
    Environment.objects.update(cluster={"kind": "url", "url": devcluster.url}, smoke_seconds=30,
                               guard_window_seconds=120)
    return Harness(dc=devcluster, clock=clock, engine=engine, aliases=aliases)
