"""Fixtures for deployments: a model with a ready version in recsys, environments."""

from __future__ import annotations

import pytest

from apps.deployments.models import Environment
from apps.readiness.choices import ItemStatus
from apps.registry.models import ModelVersion
from tests import factories


def make_version(model, number: int, *, digest: str = "sha256:" + "0" * 64, ready: bool = True,
                 metrics: dict | None = None) -> ModelVersion:
    """A version row as an import would leave it, with its checklist all passed (or not)."""
    from apps.readiness.services import ensure_items

    version = ModelVersion.objects.create(
        model=model, version=number, mlflow_run_id=f"run{number}", artifact_uri=f"models:/m-{number}",
        artifact_digest=digest, git_commit="a" * 40, dataset_version="d1", image_digest="registry.local/serve@sha256:"
        + "b" * 64, random_seed="42", data_validation="passed", metrics=metrics or {"auc": 0.8})
    ensure_items(version)
    if ready:
        version.checklist.update(status=ItemStatus.PASS, detail="passed in fixture")
    return version


@pytest.fixture
def staging(db):
    return Environment.objects.get(name="staging")


@pytest.fixture
def production(db):
    return Environment.objects.get(name="production")


@pytest.fixture
def ctr(recsys):
    return factories.model(recsys, "ctr-ranker")


@pytest.fixture
def v1(ctr):
    return make_version(ctr, 1)


@pytest.fixture
def v2(ctr):
    return make_version(ctr, 2)


SMALL = {"instance_type": "g5.xlarge", "gpus_per_replica": 1, "min_replicas": 1, "max_replicas": 2,
         "soak_seconds": 60}


@pytest.fixture(autouse=True)
def reconcile_spy(monkeypatch):
    """Service tests check *that* a reconcile is enqueued on commit; the engine has its own tests."""
    from worker import tasks

    enqueued: list[int] = []
    monkeypatch.setattr(tasks.reconcile_rollout, "delay", lambda rollout_id: enqueued.append(rollout_id))
    return enqueued
