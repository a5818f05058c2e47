"""Registry writes: models (create, edit, delete) and version import/sync from MLflow.

Every function validates the rules, writes inside one transaction with an audit event,
and schedules side effects (checklist evaluation) on commit. MLflow is read *before*
the transaction opens, so a slow registry never holds database locks, and a missing or
unreachable MLflow raises before anything is written.
"""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError

from apps.core import audit
from apps.core.access import require
from apps.core.errors import Conflict, NotFound, ValidationFailed
from apps.registry import mlflow_client
from apps.registry.errors import RegistryErrorCode
from apps.registry.models import Model, ModelVersion

EDITABLE_FIELDS = ("name", "description", "mlflow_name", "owner", "oncall", "sla_p99_ms", "primary_metric",
                   "primary_metric_floor", "higher_is_better")
MAX_VERSION_NUMBER = 2_147_483_647  # the PositiveIntegerField column's upper bound
# Django's model validation names its rules differently from the API's codes.
_DJANGO_CODES = {"blank": "required", "null": "required", "max_length": "max_length", "invalid": "invalid",
                 "min_value": "min_value", "max_value": "max_value", "invalid_choice": "invalid"}


def _snapshot(model: Model) -> dict:
    return {f: getattr(model, f) for f in EDITABLE_FIELDS}


def _duplicate_name(name: str) -> ValidationFailed:
    return ValidationFailed([("name", RegistryErrorCode.DUPLICATE_NAME,
                              f"This team already has a model named '{name}'.")])


def _validate(model: Model) -> None:
    """Field rules from the model (lengths, name format, NUL bytes, types) as ValidationFailed."""
    errors: list[tuple[str | None, str, str]] = []
    for name in EDITABLE_FIELDS:
        field = Model._meta.get_field(name)
        value = getattr(model, name)
        if value is None and not field.null:
            # Django's full_clean lets None through blank=True fields; the NOT NULL column would
            # then fail on save (an IntegrityError that must not pass for a duplicate name).
            errors.append((name, "required", "This field cannot be empty (null)."))
        elif isinstance(value, bool) and not isinstance(field, models.BooleanField):
            errors.append((name, "invalid", "A true/false value is not allowed here."))
        elif isinstance(value, str) and "\x00" in value:
            errors.append((name, "null_characters", "NUL characters are not allowed."))
        elif isinstance(value, str) and isinstance(field, models.TextField) and field.max_length \
                and len(value) > field.max_length:
            # A model TextField's max_length is only enforced by forms, not by full_clean.
            errors.append((name, "max_length", f"At most {field.max_length} characters."))
    if errors:
        raise ValidationFailed(errors)
    try:
        model.full_clean(exclude=["tenant", "created_by"], validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        for field_name, field_errors in exc.error_dict.items():
            for error in field_errors:
                code = _DJANGO_CODES.get(error.code or "", "invalid")
                errors.append((field_name, code, " ".join(error.messages)))
    floor = model.primary_metric_floor
    if isinstance(floor, float) and not math.isfinite(floor):
        errors.append(("primary_metric_floor", "invalid", "The floor must be a finite number."))
    if isinstance(model.primary_metric, str) and model.primary_metric != model.primary_metric.strip():
        errors.append(("primary_metric", "invalid", "The metric name cannot start or end with spaces."))
    if model.name and not errors:
        if Model.objects.filter(tenant_id=model.tenant_id, name=model.name).exclude(pk=model.pk).exists():
            raise _duplicate_name(model.name)
    if errors:
        raise ValidationFailed(errors)


def _unknown_fields(fields: dict, code: str, message: str) -> None:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed([(name, code, message) for name in sorted(unknown)])


def _save_unique(model: Model) -> None:
    """Save; a unique-name violation by a concurrent writer becomes the duplicate-name error."""
    try:
        with transaction.atomic():
            model.save()
    except IntegrityError:
        # Only the (tenant, name) constraint can fail here once _validate passed; anything
        # else is a bug and must not be reported as a duplicate.
        if Model.objects.filter(tenant_id=model.tenant_id, name=model.name).exclude(pk=model.pk).exists():
            raise _duplicate_name(model.name) from None
        raise


def create_model(tenant, *, actor, **fields) -> Model:
    """Create a model in `tenant` (data scientists of the team and platform engineers).

    `mlflow_name` defaults to the name. Field errors, an unknown field or a name the team
    already uses (even by a concurrent request) raise ValidationFailed; nothing is written.
    """
    require(actor, "change", tenant.pk, what="team")
    _unknown_fields(fields, "unknown_field", "This field cannot be set.")
    model = Model(tenant=tenant, created_by=actor if getattr(actor, "pk", None) else None, **fields)
    if not model.mlflow_name and isinstance(model.name, str):
        model.mlflow_name = model.name
    _validate(model)
    with transaction.atomic():
        _save_unique(model)
        audit.record("model.created", actor=actor, tenant=tenant, obj=model, after=_snapshot(model))
    return model


def update_model(model: Model, *, actor, **changes) -> Model:
    """Change a model's editable fields; the audit event records before and after.

    Returns the saved row (the instance passed in is refreshed too). No audit event is
    written when nothing changed.
    """
    require(actor, "change", model.tenant_id, what="model")
    _unknown_fields(changes, "read_only", "This field cannot be changed.")
    with transaction.atomic():
        locked = Model.objects.select_for_update().filter(pk=model.pk).first()
        if locked is None:
            raise NotFound("No such model.")
        before = _snapshot(locked)
        for key, value in changes.items():
            setattr(locked, key, value)
        _validate(locked)
        after = _snapshot(locked)
        if before != after:
            _save_unique(locked)
            audit.record("model.updated", actor=actor, tenant=locked.tenant_id, obj=locked,
                         before={k: v for k, v in before.items() if after[k] != v},
                         after={k: v for k, v in after.items() if before[k] != v})
    for key in EDITABLE_FIELDS + ("updated_at",):
        setattr(model, key, getattr(locked, key))
    return locked


def delete_model(model: Model, *, actor) -> None:
    """Delete a model and its versions. Refused (409) while something still depends on it."""
    require(actor, "change", model.tenant_id, what="model")
    with transaction.atomic():
        locked = Model.objects.select_for_update().filter(pk=model.pk).first()
        if locked is None:
            raise NotFound("No such model.")
        blocker = _deletion_blocker(locked)
        if blocker:
            raise Conflict(blocker, code=RegistryErrorCode.MODEL_IN_USE)
        snapshot = _snapshot(locked)
        snapshot["versions"] = list(locked.versions.values_list("version", flat=True))
        audit.record("model.deleted", actor=actor, tenant=locked.tenant_id, obj=locked, before=snapshot)
        try:
            with transaction.atomic():
                locked.delete()
        except (ProtectedError, RestrictedError) as exc:
            # Something another app keeps (e.g. a finished deployment's history) protects it.
            blocking = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", None) or ()
            kinds = sorted({str(obj._meta.verbose_name_plural) for obj in blocking})
            raise Conflict("The model is still referenced by " + (", ".join(kinds) or "other records") + ".",
                           code=RegistryErrorCode.MODEL_IN_USE) from None


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


def _version_number(value) -> int:
    """The MLflow version number from user input (int or digit string), or ValidationFailed."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed([("mlflow_version", "required", "Give the MLflow version number to import.")])
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 10:
        number = int(text)
    elif isinstance(text, int):
        number = text
    else:
        raise ValidationFailed([("mlflow_version", "invalid",
                                 f"'{str(value)[:40]}' is not a version number (1, 2, 3, …).")])
    if not 1 <= number <= MAX_VERSION_NUMBER:
        raise ValidationFailed([("mlflow_version", "invalid", "Version numbers start at 1.")])
    return number


def _clip(value: str, field: str) -> str:
    """Imported text fits its column (PostgreSQL refuses longer values and NUL bytes)."""
    max_length = ModelVersion._meta.get_field(field).max_length
    return value.replace("\x00", "")[:max_length]


def _clean_json(value):
    """Run data as stored JSON: NaN/±inf become null (PostgreSQL jsonb has no NaN), no NUL bytes."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_clean_json(str(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def _version_exists(model: Model, number: int) -> Conflict:
    return Conflict(f"Version {number} of {model.name} is already imported.",
                    code=RegistryErrorCode.VERSION_EXISTS, field="mlflow_version")


def import_version(model: Model, *, actor, mlflow_version) -> ModelVersion:
    """Import one version of the model's MLflow registered model, with its run's metadata.

    Raises ValidationFailed for a malformed number, MlflowNotFound (404, field
    `mlflow_version`) or MlflowUnavailable (503) before writing anything; a version
    imported twice is a 409. The checklist is created at once and evaluated by the
    worker after commit.
    """
    from apps.readiness.services import ensure_items, evaluate

    require(actor, "change", model.tenant_id, what="model")
    number = _version_number(mlflow_version)
    if ModelVersion.objects.filter(model_id=model.pk, version=number).exists():
        raise _version_exists(model, number)  # cheap answer before asking MLflow
    info = mlflow_client.fetch_version(model.mlflow_name, number)  # outside the transaction
    with transaction.atomic():
        # Lock the model: serialises imports of one model and refuses a model deleted meanwhile
        # (its deferred foreign key would otherwise fail only at commit).
        if not Model.objects.select_for_update().filter(pk=model.pk).exists():
            raise NotFound("No such model.")
        if ModelVersion.objects.filter(model_id=model.pk, version=info.version).exists():
            raise _version_exists(model, info.version)
        version = ModelVersion(
            model=model, version=info.version, mlflow_run_id=_clip(info.run_id, "mlflow_run_id"),
            artifact_uri=_clip(info.artifact_uri, "artifact_uri"),
            artifact_digest=_clip(info.artifact_digest, "artifact_digest"),
            git_commit=_clip(info.first(mlflow_client.GIT_COMMIT_KEYS), "git_commit"),
            dataset_version=_clip(info.first(mlflow_client.DATASET_VERSION_KEYS), "dataset_version"),
            image_digest=_clip(info.first(mlflow_client.IMAGE_DIGEST_KEYS), "image_digest"),
            random_seed=_clip(info.first(mlflow_client.RANDOM_SEED_KEYS), "random_seed"),
            data_validation=_clip(info.first(mlflow_client.DATA_VALIDATION_KEYS).strip().lower(),
                                  "data_validation"),
            metrics=_clean_json(info.metrics), params=_clean_json(info.params), tags=_clean_json(info.tags),
            mlflow_status=_clip(info.status, "mlflow_status"), mlflow_created_at=info.created_at,
            imported_by=actor if getattr(actor, "pk", None) else None,
        )
        try:
            with transaction.atomic():
                version.save()
        except IntegrityError:
            raise _version_exists(model, info.version) from None
        audit.record("version.imported", actor=actor, tenant=model.tenant_id, obj=version,
                     after={"version": version.version, "run_id": version.mlflow_run_id,
                            "artifact_uri": version.artifact_uri, "artifact_digest": version.artifact_digest})
        ensure_items(version)
        # A first synchronous pass gives the page an immediate answer; the worker
        # re-evaluates after commit (facts such as other versions may have changed).
        evaluate(version, actor=None)
    _schedule_evaluation(version.pk)
    return version


def sync_versions(model: Model, *, actor) -> list[ModelVersion]:
    """Import every MLflow version of the model that Slipway does not have yet (idempotent).

    A version that vanished from MLflow between listing and import, or that someone else
    imported meanwhile, is skipped; MLflow being unreachable stops the sync (503).
    """
    require(actor, "change", model.tenant_id, what="model")
    available = mlflow_client.list_versions(model.mlflow_name)
    known = set(model.versions.values_list("version", flat=True))
    imported = []
    for number in available:
        if number in known:
            continue
        try:
            imported.append(import_version(model, actor=actor, mlflow_version=number))
        except (Conflict, mlflow_client.MlflowNotFound):
            continue
    return imported
