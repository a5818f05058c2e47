"""End to end with real processes: a Celery worker evaluates checklists, beat imports new versions.

Each test runs against Redis (REDIS_URL) and against the embedded filesystem broker.
"""

from __future__ import annotations

import uuid

import pytest

from apps.core.models import AuditEvent
from apps.readiness.models import ChecklistItem
from apps.registry.models import Model, ModelVersion
from apps.registry.services import create_model, import_version
from tests.factories import REPRODUCIBLE_PARAMS, REPRODUCIBLE_TAGS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _owner_item(version: ModelVersion) -> ChecklistItem:
    return ChecklistItem.objects.get(version=version, key="owner_oncall")


def test_worker_evaluates_the_checklist_of_an_imported_version(celery_processes, broker, mlflow, ada, recsys):
    # given a model without an owner, and a version of it in MLflow
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    model = create_model(recsys, actor=ada, name=name, owner="", oncall="#recsys-oncall",
                         primary_metric="auc", primary_metric_floor=0.5)
    mlflow.log_version(name, params=REPRODUCIBLE_PARAMS, tags=REPRODUCIBLE_TAGS)

    # when ada imports it through the service, its first (synchronous) evaluation fails the owner item
    version = import_version(model, actor=ada, mlflow_version=1)
    assert _owner_item(version).status == "fail"
    # ... the owner is set behind the service's back, so only a later evaluation can notice ...
    Model.objects.filter(pk=model.pk).update(owner="ada@example.com")
    # ... and the evaluation enqueued on commit waits in the broker until a worker starts
    celery_processes.worker()

    # then the worker re-evaluates the checklist and the item passes
    celery_processes.wait_for(lambda: _owner_item(version).status == "pass", f"the worker ({broker.kind})")
    event = AuditEvent.objects.filter(action="checklist.evaluated", object_id=str(version.pk),
                                      source="worker").first()
    assert event is not None and event.after == {"owner_oncall": "pass"}
    assert event.actor_label == "worker"


def test_beat_imports_a_version_newly_logged_in_mlflow(celery_processes, broker, mlflow, ada, recsys):
    # given a model with version 1 imported
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    model = create_model(recsys, actor=ada, name=name, owner="ada@example.com", oncall="#recsys-oncall",
                         primary_metric="auc", primary_metric_floor=0.5)
    mlflow.log_version(name, params=REPRODUCIBLE_PARAMS, tags=REPRODUCIBLE_TAGS)
    import_version(model, actor=ada, mlflow_version=1)
    # when a data scientist logs version 2 in MLflow and beat and a worker run
    mlflow.log_version(name, params=REPRODUCIBLE_PARAMS, tags=REPRODUCIBLE_TAGS)
    celery_processes.worker()
    celery_processes.beat()

    # then beat's sync_all_models fans out to the worker, which imports version 2 with its checklist
    version = celery_processes.wait_for(
        lambda: ModelVersion.objects.filter(model=model, version=2).first(), f"beat + worker ({broker.kind})")
    assert version.imported_by is None and version.mlflow_run_id
    assert version.params["random_seed"] == REPRODUCIBLE_PARAMS["random_seed"]
    assert AuditEvent.objects.filter(action="version.imported", object_id=str(version.pk), source="worker").exists()
    celery_processes.wait_for(
        lambda: ChecklistItem.objects.filter(version=version, key="reproducibility", status="pass").exists(),
        "the imported version's checklist")
    assert model.versions.count() == 2
