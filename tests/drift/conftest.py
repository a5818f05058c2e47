"""Drift fixtures: a recsys model with versions, samples, JSON clients, live/superseded deployments."""

from __future__ import annotations

import numpy as np
import pytest

from apps.deployments.choices import DeploymentStatus
from apps.deployments.models import Deployment, Environment, Rollout
from tests import factories
from tests.api.conftest import JsonClient

FEATURES = ("age", "income", "country")


def sample(rows: int, *, shift: float = 0.0, seed: int = 1, new_country: bool = False) -> dict:
    """A sample of three features (two numeric, one categorical) and predictions, as a client posts it."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40 + shift * 10, 10, rows).round(1)
    income = rng.lognormal(10 + shift, 0.5, rows).round(2)
    countries = np.array(["de", "fr", "us", "uk"])
    country = countries[rng.integers(0, 4, rows)].tolist()
    if new_country:
        country = ["br" if i % 2 else c for i, c in enumerate(country)]
    predictions = (1 / (1 + np.exp(-(age - 40) / 10 - shift))).round(4)
    return {"features": {"age": age.tolist(), "income": income.tolist(), "country": country},
            "predictions": predictions.tolist()}


@pytest.fixture
def as_user():
    return lambda user: JsonClient(user)


@pytest.fixture
def ranker(recsys):
    return factories.model(recsys, "ranker")


@pytest.fixture
def v1(ranker):
    return factories.version(ranker, 1)


@pytest.fixture
def v2(ranker):
    return factories.version(ranker, 2)


@pytest.fixture
def baseline(v2, ada):
    from apps.drift.services import upload_baseline

    data = sample(2000, seed=11)
    return upload_baseline(v2, actor=ada, features=data["features"], predictions=data["predictions"])


@pytest.fixture(autouse=True)
def reconcile_spy(monkeypatch):
    """Rollbacks enqueue a reconcile on commit; the engine is not under test here."""
    from worker import tasks

    enqueued: list[int] = []
    monkeypatch.setattr(tasks.reconcile_rollout, "delay", lambda rollout_id: enqueued.append(rollout_id))
    return enqueued


def make_deployment(version, environment: str, status: str, *, previous=None, requester=None) -> Deployment:
    """A deployment row in `status` (the deployments app's own tests cover how it got there)."""
    env = Environment.objects.get(name=environment)
    deployment = Deployment.objects.create(
        tenant_id=version.model.tenant_id, model=version.model, version=version, environment=env, status=status,
        config={"instance_type": "g5.xlarge", "gpus_per_replica": 1, "min_replicas": 1}, config_hash="0" * 64,
        previous=previous, requested_by=requester or factories.user("deployer", tenant=version.model.tenant))
    Rollout.objects.create(deployment=deployment, steps=[100], step_soak_seconds=60, batches=[])
    return deployment


@pytest.fixture
def production_live(v1, v2):
    """v1 superseded by v2, which is live in production."""
    old = make_deployment(v1, "production", DeploymentStatus.SUPERSEDED)
    new = make_deployment(v2, "production", DeploymentStatus.LIVE, previous=old)
    return old, new
