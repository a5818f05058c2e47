"""Test data builders. Plain functions over the real services where a service exists."""

from __future__ import annotations

import importlib
import itertools
import uuid
from pathlib import Path

from apps.registry.models import Model
from apps.tenancy.models import Membership, Tenant, User

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


def unique_name(prefix: str = "model") -> str:
    """A DNS-safe name unique in this test session (and across sessions: MLflow stores persist)."""
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:8]}"


def ensure_reference_data() -> None:
    """(Re)create what the data migrations ship, when a flush removed it."""
    from django.apps import apps as django_apps

    from apps.deployments.models import Environment, InstanceType

    ensure_checklist_defaults()
    catalog = importlib.import_module("apps.deployments.migrations.0002_catalog_and_environments")
    if InstanceType.objects.count() < len(catalog.CATALOG) or Environment.objects.count() < len(catalog.ENVIRONMENTS):
        catalog.forward(django_apps, None)
    if django_apps.is_installed("apps.runbooks"):
        from apps.runbooks.models import Runbook
        from apps.runbooks.platform_runbooks import RUNBOOKS

        if Runbook.objects.filter(model__isnull=True, slug__in=[r[0] for r in RUNBOOKS]).count() < len(RUNBOOKS):
            importlib.import_module("apps.runbooks.migrations.0002_platform_runbooks").create(django_apps, None)


def ensure_checklist_defaults() -> None:
    """(Re)create the ten default checklist definitions of the data migration if missing."""
    from django.apps import apps as django_apps

    from apps.readiness.models import ChecklistDefinition

    module = importlib.import_module("apps.readiness.migrations.0003_default_definitions")
    if ChecklistDefinition.objects.filter(key__in=[d[0] for d in module.DEFAULTS]).count() < len(module.DEFAULTS):
        module.add_defaults(django_apps, None)


def tenant(slug: str | None = None, name: str | None = None, **fields) -> Tenant:
    slug = slug or f"team-{next(_counter)}"
    obj, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": name or slug.title(), **fields})
    return obj


def user(username: str | None = None, *, tenant: Tenant | None = None, role: str = "data_scientist",
         is_platform: bool = False) -> User:
    username = username or f"user{next(_counter)}"
    obj = User.objects.filter(username=username).first()
    if obj is None:
        obj = User.objects.create_user(username=username, password=PASSWORD, email=f"{username}@example.com",
                                       is_platform=is_platform)
    if tenant is not None:
        Membership.objects.update_or_create(user=obj, tenant=tenant, defaults={"role": role})
    return obj


def model(tenant: Tenant, name: str | None = None, **fields) -> Model:
    name = name or f"model-{next(_counter)}"
    defaults = {"mlflow_name": name, "owner": "ada@example.com", "oncall": "#recsys-oncall",
                "primary_metric": "auc", "primary_metric_floor": 0.7, "sla_p99_ms": 200}
    defaults.update(fields)
    return Model.objects.create(tenant=tenant, name=name, **defaults)


def version(model: Model, number: int | None = None, *, reproducible: bool = True, **fields):
    """A ModelVersion row as import would write it (no MLflow round trip), with its checklist items.

    For evaluator and checklist tests; tests of the import itself use `MlflowStore`.
    """
    from apps.readiness.services import ensure_items
    from apps.registry.models import ModelVersion

    number = number or (model.versions.count() + 1)
    defaults = {"mlflow_run_id": uuid.uuid4().hex, "artifact_uri": f"models:/m-{uuid.uuid4().hex}",
                "artifact_digest": "sha256:" + "0" * 64, "metrics": {"auc": 0.9}, "mlflow_status": "READY"}
    if reproducible:
        defaults.update(git_commit=REPRODUCIBLE_TAGS["git_commit"], dataset_version=REPRODUCIBLE_TAGS["dataset_version"],
                        image_digest=REPRODUCIBLE_TAGS["image_digest"], random_seed="42", data_validation="passed")
    defaults.update(fields)
    obj = ModelVersion.objects.create(model=model, version=number, **defaults)
    ensure_items(obj)
    return obj


class MlflowStore:
    """A real MLflow sqlite store in a temporary folder.

    `log_version(name, ...)` logs a real pyfunc model in a run with the given metrics,
    params and tags, and registers it as the next version of `name`.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.uri = f"sqlite:///{self.root / 'mlflow.db'}"
        self.artifacts = self.root / "artifacts"

    def log_version(self, name: str, *, metrics: dict | None = None, params: dict | None = None,
                    tags: dict | None = None) -> int:
        from apps.registry.mlflow_seed import log_pyfunc_version

        return log_pyfunc_version(self.uri, str(self.artifacts), name, metrics=metrics or {},
                                  params=params or {}, tags=tags or {})


REPRODUCIBLE_TAGS = {
    "git_commit": "3f2c1a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "dataset_version": "clicks-2026-11-01",
    "image_digest": "sha256:" + "ab" * 32,
    "data_validation": "passed",
}
REPRODUCIBLE_PARAMS = {"random_seed": "42"}


def reproducible_version(store: MlflowStore, name: str, *, metrics: dict | None = None, params: dict | None = None,
                         tags: dict | None = None) -> int:
    """Log a version whose run records every reproducibility fact and a passed data validation."""
    return store.log_version(name, metrics={"auc": 0.9, **(metrics or {})},
                             params={**REPRODUCIBLE_PARAMS, **(params or {})},
                             tags={**REPRODUCIBLE_TAGS, **(tags or {})})
