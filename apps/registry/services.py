"""Registry writes: models (create, edit, delete) and version import/sync from MLflow.

Every function validates the rules, writes inside one transaction with an audit event,
and schedules side effects (checklist evaluation) on commit. MLflow is read *before*
the transaction opens, so a slow registry never holds database locks, and a missing or
unreachable MLflow raises before anything is written.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from apps.core import audit
from apps.core.access import require
from apps.core.errors import Conflict, ValidationFailed
from apps.registry import mlflow_client
from apps.registry.errors import RegistryErrorCode
from apps.registry.models import Model, ModelVersion

EDITABLE_FIELDS = ("name", "description", "mlflow_name", "owner", "oncall", "sla_p99_ms", "primary_metric",
                   "primary_metric_floor", "higher_is_better")


def _snapshot(model: Model) -> dict:
    return {f: getattr(model, f) for f in EDITABLE_FIELDS}


def _validate(model: Model) -> None:
    """Field rules from the model (lengths, name format, NUL bytes) as ValidationFailed."""
    errors: list[tuple[str | None, str, str]] = []
    for name in EDITABLE_FIELDS:
        value = getattr(model, name)
        if isinstance(value, str) and "\x00" in value:
            errors.append((name, "null_characters", "NUL characters are not allowed."))
    try:
        model.full_clean(exclude=["tenant", "created_by"], validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        for field_name, messages in exc.message_dict.items():
            for message in messages:
                errors.append((field_name, "invalid", message))
    duplicate = Model.objects.filter(tenant_id=model.tenant_id, name=model.name).exclude(pk=model.pk).exists()
    if model.name and duplicate:
        errors.append(("name", RegistryErrorCode.DUPLICATE_NAME,
                       f"This team already has a model named '{model.name}'."))
    if errors:
        raise ValidationFailed(errors)


def create_model(tenant, *, actor, **fields) -> Model:
    """Create a model in `tenant` (data scientists of the team and platform engineers)."""
    require(actor, "change", tenant.pk, what="team")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed([(name, "unknown_field", "This field cannot be set.") for name in sorted(unknown)])
    model = Model(tenant=tenant, created_by=actor, **fields)
    if not model.mlflow_name:
        model.mlflow_name = model.name
    _validate(model)
    try:
        with transaction.atomic():
            model.save()
            audit.record("model.created", actor=actor, tenant=tenant, obj=model, after=_snapshot(model))
    except IntegrityError:  # a concurrent create won the unique constraint
        raise ValidationFailed([("name", RegistryErrorCode.DUPLICATE_NAME,
                                 f"This team already has a model named '{model.name}'.")]) from None
    return model


def update_model(model: Model, *, actor, **changes) -> Model:
    """Change a model's editable fields; the audit event records before and after."""
    require(actor, "change", model.tenant_id, what="model")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed([(name, "read_only", "This field cannot be changed.") for name in sorted(unknown)])
    with transaction.atomic():
        locked = Model.objects.select_for_update().get(pk=model.pk)
        before = _snapshot(locked)
        for key, value in changes.items():
            setattr(locked, key, value)
        _validate(locked)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise ValidationFailed([("name", RegistryErrorCode.DUPLICATE_NAME,
                                     f"This team already has a model named '{locked.name}'.")]) from None
        after = _snapshot(locked)
        if before != after:
            audit.record("model.updated", actor=actor, tenant=locked.tenant_id, obj=locked,
                         before={k: v for k, v in before.items() if after[k] != v},
                         after={k: v for k, v in after.items() if before[k] != v})
    return locked


def delete_model(model: Model, *, actor) -> None:
    """Delete a model and its versions. Refused while something still depends on it."""
    require(actor, "change", model.tenant_id, what="model")
    with transaction.atomic():
        locked = Model.objects.select_for_update().get(pk=model.pk)
        blocker = _deletion_blocker(locked)
        if blocker:
            raise Conflict(blocker, code=RegistryErrorCode.MODEL_IN_USE)
        snapshot = _snapshot(locked)
        snapshot["versions"] = list(locked.versions.values_list("version", flat=True))
        audit.record("model.deleted", actor=actor, tenant=locked.tenant_id, obj=locked, before=snapshot)
        locked.delete()


def _deletion_blocker(model: Model) -> str | None:
    """Deployments that are not finished keep their model (checked once deployments exist)."""
    related = getattr(model, "deployments", None)
    if related is not None:
        from django.apps import apps

        if apps.is_installed("apps.deployments"):
            from apps.deployments.choices import TERMINAL  # type: ignore[import-not-found]

            active = related.exclude(status__in=TERMINAL).count()
            if active:
                return f"The model has {active} active deployment(s); roll them back or let them finish first."
    return None


def _schedule_evaluation(version_id: int) -> None:
    from worker.tasks import evaluate_checklist

    transaction.on_commit(lambda: evaluate_checklist.delay(version_id))


def import_version(model: Model, *, actor, mlflow_version) -> ModelVersion:
    """Import one version of the model's MLflow registered model, with its run's metadata.

    Raises MlflowNotFound (404, field `mlflow_version`) or MlflowUnavailable (503) before
    writing anything; a version imported twice is a 409. The checklist is created at once
    and evaluated by the worker after commit.
    """
    from apps.readiness.services import ensure_items, evaluate

    require(actor, "change", model.tenant_id, what="model")
    if isinstance(mlflow_version, bool) or mlflow_version in (None, ""):
        raise ValidationFailed([("mlflow_version", "required", "Give the MLflow version number to import.")])
    info = mlflow_client.fetch_version(model.mlflow_name, mlflow_version)  # outside the transaction
    with transaction.atomic():
        if ModelVersion.objects.filter(model=model, version=info.version).exists():
            raise Conflict(f"Version {info.version} of {model.name} is already imported.",
                           code=RegistryErrorCode.VERSION_EXISTS, field="mlflow_version")
        version = ModelVersion(
            model=model, version=info.version, mlflow_run_id=info.run_id, artifact_uri=info.artifact_uri,
            artifact_digest=info.artifact_digest, git_commit=info.first(mlflow_client.GIT_COMMIT_KEYS),
            dataset_version=info.first(mlflow_client.DATASET_VERSION_KEYS),
            image_digest=info.first(mlflow_client.IMAGE_DIGEST_KEYS),
            random_seed=info.first(mlflow_client.RANDOM_SEED_KEYS),
            data_validation=info.first(mlflow_client.DATA_VALIDATION_KEYS).lower()[:20],
            metrics=info.metrics, params=info.params, tags=info.tags, mlflow_status=info.status,
            mlflow_created_at=info.created_at, imported_by=actor if getattr(actor, "pk", None) else None,
        )
        try:
            with transaction.atomic():
                version.save()
        except IntegrityError:
            raise Conflict(f"Version {info.version} of {model.name} is already imported.",
                           code=RegistryErrorCode.VERSION_EXISTS, field="mlflow_version") from None
        audit.record("version.imported", actor=actor, tenant=model.tenant_id, obj=version,
                     after={"version": version.version, "run_id": version.mlflow_run_id,
                            "artifact_digest": version.artifact_digest})
        ensure_items(version)
        # A first synchronous pass gives the page an immediate answer; the worker
        # re-evaluates after commit (facts such as other versions may have changed).
        evaluate(version, actor=None)
    _schedule_evaluation(version.pk)
    return version


def sync_versions(model: Model, *, actor) -> list[ModelVersion]:
    """Import every MLflow version of the model that Slipway does not have yet."""
    require(actor, "change", model.tenant_id, what="model")
    available = mlflow_client.list_versions(model.mlflow_name)
    known = set(model.versions.values_list("version", flat=True))
    imported = []
    for number in available:
        if number in known:
            continue
        try:
            imported.append(import_version(model, actor=actor, mlflow_version=number))
        except Conflict:  # imported concurrently by someone else: fine
            continue
    return imported
