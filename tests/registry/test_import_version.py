"""registry.services.import_version / sync_versions against a real MLflow store."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from mlflow import MlflowClient

from apps.core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from apps.core.models import AuditEvent
from apps.readiness.models import ChecklistItem
from apps.registry import mlflow_client, services
from apps.registry.models import ModelVersion
from tests import factories
from worker import tasks


def _nothing_written() -> bool:
    return not ModelVersion.objects.exists() and not ChecklistItem.objects.exists() \
        and not AuditEvent.objects.exists()


def _mlmodel_sha256(store, name: str, version: int) -> str:
    """Hash the MLmodel file straight from the store's artifact folder, without Slipway's code."""
    client = MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)
    source = client.get_model_version(name, str(version)).source
    if source.startswith("models:/"):
        location = client.get_logged_model(source.split("/")[-1]).artifact_location
    else:
        location = source
    parsed = urlparse(location)
    folder = Path(unquote(parsed.path)) if parsed.scheme in ("file", "") else None
    assert folder is not None and (folder / "MLmodel").is_file(), location
    return "sha256:" + hashlib.sha256((folder / "MLmodel").read_bytes()).hexdigest()


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_mlflow(settings, closed_port):
    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{closed_port}"
    settings.MLFLOW_REGISTRY_URI = settings.MLFLOW_TRACKING_URI


def test_import_reads_run_metadata_digest_and_checklist(recsys, ada, mlflow, mlflow_name):
    # given: a version whose run records everything, with extra metrics, params and tags
    number = factories.reproducible_version(
        mlflow, mlflow_name, metrics={"auc": 0.91, "val_loss": 0.3}, params={"learning_rate": "0.1"},
        tags={"data_validation": " PASSED ", "team": "recsys"})
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    run_id = MlflowClient(tracking_uri=mlflow.uri, registry_uri=mlflow.uri).get_model_version(mlflow_name, str(number)).run_id

    # when
    version = services.import_version(model, actor=ada, mlflow_version=str(number))

    # then: facts from the run, the digest of the MLmodel file, ten checklist items, one audit row
    version.refresh_from_db()
    assert version.version == number and version.mlflow_run_id == run_id and len(run_id) == 32
    assert version.artifact_uri.startswith("models:/m-")
    assert version.artifact_digest == _mlmodel_sha256(mlflow, mlflow_name, number)
    assert version.git_commit == factories.REPRODUCIBLE_TAGS["git_commit"]
    assert version.dataset_version == "clicks-2026-11-01"
    assert version.image_digest == factories.REPRODUCIBLE_TAGS["image_digest"]
    assert version.random_seed == "42"
    assert version.data_validation == "passed"
    assert version.metrics["auc"] == pytest.approx(0.91) and version.metrics["val_loss"] == pytest.approx(0.3)
    assert {"accuracy", "logloss"} <= set(version.metrics)  # what the real fit logged
    assert version.params == {"random_seed": "42", "learning_rate": "0.1"}
    assert version.tags["team"] == "recsys"
    assert version.mlflow_status == "READY" and version.mlflow_created_at is not None
    assert version.imported_by == ada
    assert ChecklistItem.objects.filter(version=version).count() == 10
    statuses = dict(ChecklistItem.objects.filter(version=version).values_list("key", "status"))
    assert statuses["reproducibility"] == statuses["data_validation"] == statuses["validation_metrics"] == "pass"
    event = AuditEvent.objects.get(action="version.imported")
    assert (event.actor_id, event.tenant_id, event.object_id) == (ada.pk, recsys.pk, str(version.pk))
    assert event.after["artifact_digest"] == version.artifact_digest and event.after["run_id"] == run_id


def test_digest_is_stable_and_changes_with_the_artifact(recsys, ada, mlflow, mlflow_name):
    first = mlflow.log_version(mlflow_name, metrics={"auc": 0.8})
    second = mlflow.log_version(mlflow_name, metrics={"auc": 0.8})
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)

    v1 = services.import_version(model, actor=ada, mlflow_version=first)
    v2 = services.import_version(model, actor=ada, mlflow_version=second)

    assert v1.artifact_digest != v2.artifact_digest  # a different model was logged
    assert v2.artifact_digest == _mlmodel_sha256(mlflow, mlflow_name, second)
    assert mlflow_client.artifact_digest(mlflow_name, first) == v1.artifact_digest  # re-reading: same digest


def test_missing_reproducibility_facts_are_imported_as_empty(recsys, ada, mlflow, mlflow_name):
    number = mlflow.log_version(mlflow_name, metrics={"auc": 0.8})
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    version = services.import_version(model, actor=ada, mlflow_version=number)
    assert (version.git_commit, version.dataset_version, version.image_digest, version.random_seed,
            version.data_validation) == ("", "", "", "", "")
    assert ChecklistItem.objects.get(version=version, key="reproducibility").status == "fail"


def test_awkward_run_data_is_stored_without_error(recsys, ada, mlflow, mlflow_name):
    # given: a NaN metric (jsonb has no NaN) and facts longer than their columns
    number = mlflow.log_version(mlflow_name, metrics={"auc": 0.8, "broken": float("nan")},
                                params={"random_seed": "7" * 100},
                                tags={"git_commit": "c" * 80, "dataset_version": "d" * 300})
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)

    version = services.import_version(model, actor=ada, mlflow_version=number)

    version.refresh_from_db()
    assert version.metrics["broken"] is None and version.metrics["auc"] == pytest.approx(0.8)
    assert version.git_commit == "c" * 64 and version.dataset_version == "d" * 200
    assert version.random_seed == "7" * 64
    assert version.params["random_seed"] == "7" * 100  # the full value is kept in the run data


def test_importing_a_version_twice_is_a_conflict(recsys, ada, mlflow, mlflow_name):
    number = mlflow.log_version(mlflow_name)
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    services.import_version(model, actor=ada, mlflow_version=number)

    with pytest.raises(Conflict) as caught:
        services.import_version(model, actor=ada, mlflow_version=str(number))
    assert (caught.value.code, caught.value.field) == ("version_exists", "mlflow_version")
    assert ModelVersion.objects.count() == 1
    assert AuditEvent.objects.filter(action="version.imported").count() == 1


def test_concurrent_import_losing_at_insert_is_a_conflict(recsys, ada, mlflow, mlflow_name, monkeypatch):
    number = mlflow.log_version(mlflow_name)
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    real_fetch = mlflow_client.fetch_version

    def fetch_while_someone_else_imports(name, version):
        info = real_fetch(name, version)
        ModelVersion.objects.create(model=model, version=info.version)  # the other request commits first
        return info

    monkeypatch.setattr(mlflow_client, "fetch_version", fetch_while_someone_else_imports)
    with pytest.raises(Conflict):
        services.import_version(model, actor=ada, mlflow_version=number)
    assert ModelVersion.objects.count() == 1 and not AuditEvent.objects.exists()


def test_missing_mlflow_version_is_not_found_and_writes_nothing(recsys, ada, mlflow, mlflow_name):
    mlflow.log_version(mlflow_name)
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    with pytest.raises(mlflow_client.MlflowNotFound) as caught:
        services.import_version(model, actor=ada, mlflow_version=99)
    assert caught.value.status == 404 and caught.value.field == "mlflow_version"
    assert _nothing_written()


def test_missing_mlflow_model_is_not_found_and_writes_nothing(recsys, ada, mlflow, mlflow_name):
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)  # never logged
    with pytest.raises(mlflow_client.MlflowNotFound):
        services.import_version(model, actor=ada, mlflow_version=1)
    with pytest.raises(mlflow_client.MlflowNotFound) as caught:
        services.sync_versions(model, actor=ada)
    assert caught.value.field == "mlflow_name"
    assert _nothing_written()


def test_unreachable_mlflow_fails_fast_and_writes_nothing(recsys, ada, unreachable_mlflow):
    model = factories.model(recsys, "ranker")
    started = time.monotonic()
    with pytest.raises(mlflow_client.MlflowUnavailable) as caught:
        services.import_version(model, actor=ada, mlflow_version=1)
    with pytest.raises(mlflow_client.MlflowUnavailable):
        services.sync_versions(model, actor=ada)
    with pytest.raises(mlflow_client.MlflowUnavailable):
        mlflow_client.ping()
    elapsed = time.monotonic() - started
    assert caught.value.status == 503 and "127.0.0.1" in caught.value.message
    assert elapsed < 15, f"three calls to a closed port took {elapsed:.1f}s"
    assert _nothing_written()


def test_sync_task_logs_and_skips_an_unreachable_mlflow(recsys, unreachable_mlflow, caplog):
    model = factories.model(recsys, "ranker")
    assert tasks.sync_model_versions.delay(model.pk).get() == 0
    assert "skipped" in caplog.text and not ModelVersion.objects.exists()


@pytest.mark.parametrize("bad", [None, "", "  ", True, 0, -1, "abc", "1.5", 2.5, "１", "99999999999", [1]])
def test_malformed_version_number_is_refused_before_asking_mlflow(recsys, ada, unreachable_mlflow, bad):
    # MLflow is unreachable: a 400 proves the number was refused without a round trip
    model = factories.model(recsys, "ranker")
    with pytest.raises(ValidationFailed) as caught:
        services.import_version(model, actor=ada, mlflow_version=bad)
    assert caught.value.field == "mlflow_version"
    assert _nothing_written()


def test_viewer_cannot_import_a_version(recsys, vera, mlflow, mlflow_name):
    number = mlflow.log_version(mlflow_name)
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    with pytest.raises(NotPermitted):
        services.import_version(model, actor=vera, mlflow_version=number)
    with pytest.raises(NotPermitted):
        services.sync_versions(model, actor=vera)
    assert _nothing_written()


def test_other_team_cannot_import_a_version(recsys, grace, mlflow, mlflow_name):
    number = mlflow.log_version(mlflow_name)
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    with pytest.raises(NotFound):
        services.import_version(model, actor=grace, mlflow_version=number)
    assert _nothing_written()


def test_sync_imports_exactly_the_missing_versions_and_is_idempotent(recsys, ada, mlflow, mlflow_name):
    numbers = [mlflow.log_version(mlflow_name, metrics={"auc": 0.7 + i / 100}) for i in range(3)]
    assert numbers == [1, 2, 3]
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    services.import_version(model, actor=ada, mlflow_version=2)

    imported = services.sync_versions(model, actor=ada)

    assert [v.version for v in imported] == [1, 3]
    assert sorted(model.versions.values_list("version", flat=True)) == [1, 2, 3]
    assert services.sync_versions(model, actor=ada) == []
    assert AuditEvent.objects.filter(action="version.imported").count() == 3
    assert ChecklistItem.objects.filter(version__model=model).count() == 30


def test_sync_task_imports_as_the_worker(recsys, mlflow, mlflow_name):
    mlflow.log_version(mlflow_name)
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    assert tasks.sync_model_versions.delay(model.pk).get() == 1
    assert tasks.sync_model_versions.delay(model.pk).get() == 0
    event = AuditEvent.objects.get(action="version.imported")
    assert (event.actor_id, event.actor_label, event.source) == (None, "worker", "worker")


def test_sync_skips_a_version_deleted_between_listing_and_import(recsys, ada, mlflow, mlflow_name, monkeypatch):
    mlflow.log_version(mlflow_name)
    model = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    monkeypatch.setattr(mlflow_client, "list_versions", lambda name: [1, 2])  # 2 vanished meanwhile
    assert [v.version for v in services.sync_versions(model, actor=ada)] == [1]


def test_sync_all_models_is_not_stopped_by_one_broken_model(recsys, mlflow, mlflow_name):
    mlflow.log_version(mlflow_name)
    factories.model(recsys, "broken", mlflow_name=factories.unique_name("never-logged"))
    good = factories.model(recsys, "ranker", mlflow_name=mlflow_name)
    tasks.sync_all_models.delay().get()
    assert list(ModelVersion.objects.values_list("model_id", "version")) == [(good.pk, 1)]
