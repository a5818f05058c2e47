"""API shapes of models and model versions.

Input serializers check types and lengths only; names, duplicates, ranges and
permissions are the service's (apps.registry.services).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.serializers import RefuseUnknownFieldsMixin, StrictBooleanField, StrictCharField, iso
from apps.readiness.services import readiness
from apps.registry.models import Model, ModelVersion
from apps.tenancy.models import Tenant

# Output-only fields a client may echo back in a PATCH; they are dropped, never applied.
MODEL_READ_ONLY = frozenset({"id", "created_at", "updated_at", "created_by", "live"})


# Model columns rendered as they are; the list reads them with .values() (no model
# instances: most of a list request's CPU time would otherwise go to building them).
ROW_FIELDS = ("id", "name", "description", "mlflow_name", "owner", "oncall", "sla_p99_ms", "primary_metric",
              "primary_metric_floor", "higher_is_better", "created_at", "updated_at")
LIST_VALUES = (*ROW_FIELDS, "tenant__slug", "created_by__username")


def model_row(row: dict) -> dict:
    """One model as the API shows it, from a `.values(*LIST_VALUES)` row."""
    return {
        "id": row["id"],
        "tenant": row["tenant__slug"],
        "name": row["name"],
        "description": row["description"],
        "mlflow_name": row["mlflow_name"],
        "owner": row["owner"],
        "oncall": row["oncall"],
        "sla_p99_ms": row["sla_p99_ms"],
        "primary_metric": row["primary_metric"],
        "primary_metric_floor": row["primary_metric_floor"],
        "higher_is_better": row["higher_is_better"],
        "created_by": row["created_by__username"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


class ModelSerializer(serializers.Serializer):
    """A model as the API shows it (list and detail): a `.values(*LIST_VALUES)` row or an instance."""

    id = serializers.IntegerField()
    tenant = serializers.CharField(help_text="Team slug.")
    name = serializers.CharField()
    description = serializers.CharField()
    mlflow_name = serializers.CharField(help_text="The MLflow registered model it mirrors.")
    owner = serializers.CharField()
    oncall = serializers.CharField()
    sla_p99_ms = serializers.IntegerField()
    primary_metric = serializers.CharField()
    primary_metric_floor = serializers.FloatField(allow_null=True)
    higher_is_better = serializers.BooleanField()
    created_by = serializers.CharField(allow_null=True, help_text="Username.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, model: Model | dict) -> dict:
        if isinstance(model, dict):
            return model_row(model)
        row = {name: getattr(model, name) for name in ROW_FIELDS}
        row["tenant__slug"] = model.tenant.slug
        row["created_by__username"] = model.created_by.username if model.created_by_id else None
        return model_row(row)


class LiveSerializer(serializers.Serializer):
    environment = serializers.CharField(help_text="Environment name.")
    version = serializers.IntegerField(help_text="The live version's number.")
    version_id = serializers.IntegerField()
    deployment = serializers.IntegerField(help_text="The live deployment's id.")
    since = serializers.DateTimeField(allow_null=True)


def live_rows(model: Model) -> list[dict]:
    """Which version is live in which environment, and since when: one query."""
    from apps.deployments.choices import DeploymentStatus
    from apps.deployments.models import Deployment

    rows = (Deployment.objects.filter(model=model, status=DeploymentStatus.LIVE)
            .order_by("environment__position", "environment__name", "-live_since", "-id")
            .values("id", "live_since", "environment__name", "version_id", "version__version"))
    seen: dict[str, dict] = {}
    for row in rows:  # newest first per environment, should two ever be live at once
        seen.setdefault(row["environment__name"], {
            "environment": row["environment__name"], "version": row["version__version"],
            "version_id": row["version_id"], "deployment": row["id"], "since": iso(row["live_since"])})
    return list(seen.values())


class ModelDetailSerializer(ModelSerializer):
    """One model, plus `live`: which version is live where, and since when."""

    live = LiveSerializer(many=True, read_only=True)

    def to_representation(self, model: Model) -> dict:
        data = super().to_representation(model)
        data["live"] = live_rows(model)
        return data


class ModelWriteSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    ignored_fields = MODEL_READ_ONLY

    name = StrictCharField(max_length=63)
    description = StrictCharField(max_length=5000, allow_blank=True, required=False)
    mlflow_name = StrictCharField(max_length=256, allow_blank=True, required=False,
                                  help_text="Defaults to the model name.")
    owner = StrictCharField(max_length=150, allow_blank=True, required=False)
    oncall = StrictCharField(max_length=150, allow_blank=True, required=False)
    sla_p99_ms = serializers.IntegerField(required=False)
    primary_metric = StrictCharField(max_length=100, allow_blank=True, required=False)
    primary_metric_floor = serializers.FloatField(allow_null=True, required=False)
    higher_is_better = StrictBooleanField(required=False)


class ModelCreateSerializer(ModelWriteSerializer):
    """`POST /api/v1/models/`. `tenant` must be a team the caller sees; whether they may
    change it (viewer → 403) is the service's check."""

    tenant = serializers.SlugRelatedField(slug_field="slug", queryset=Tenant.objects.none(),
                                          help_text="Team slug.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")  # absent while the schema is generated
        # Scoped like every related field (STYLE §6): another team's slug reads as unknown.
        self.fields["tenant"].queryset = Tenant.objects.for_user(getattr(request, "user", None), "view")


class ModelUpdateSerializer(ModelWriteSerializer):
    """`PATCH /api/v1/models/{id}/`: any editable field; the team is fixed at creation."""

    tenant = StrictCharField(required=False, help_text="Read-only: accepted only when unchanged.")

    def validate_tenant(self, slug: str) -> str:
        if slug != self.context["model"].tenant.slug:
            raise serializers.ValidationError("A model's team cannot be changed; create it in the other team.",
                                              code="read_only")
        return slug

    def validate(self, attrs: dict) -> dict:
        attrs.pop("tenant", None)
        return attrs


@extend_schema_field({"oneOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "integer", "minimum": 1}]})
class VersionNumberField(serializers.Field):
    """An MLflow version number, as JSON number or string ("3" or 3)."""

    default_error_messages = {"invalid": "Give a version number such as \"3\"."}

    def to_internal_value(self, data) -> int:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        text = str(data).strip()
        if not text.isdigit() or len(text) > 9 or int(text) < 1:
            self.fail("invalid")
        return int(text)

    def to_representation(self, value):
        return str(value)


class ImportVersionSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    mlflow_version = VersionNumberField(help_text="The MLflow model version to import, e.g. \"3\".")


class ChecklistSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    satisfied = serializers.IntegerField(help_text="Items passed or waived.")
    failing = serializers.ListField(child=serializers.CharField(), help_text="Keys not passed or waived.")


class VersionSerializer(serializers.Serializer):
    """A model version in a list: identity, provenance and readiness."""

    id = serializers.IntegerField()
    model = serializers.IntegerField(help_text="Model id.")
    version = serializers.IntegerField()
    mlflow_run_id = serializers.CharField()
    artifact_digest = serializers.CharField()
    mlflow_status = serializers.CharField()
    imported_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    ready = serializers.BooleanField()
    checklist = ChecklistSummarySerializer()

    def to_representation(self, version: ModelVersion) -> dict:
        # `checklist` is prefetched by the view: one query for the whole page.
        summary = readiness(version, list(version.checklist.all()))
        importer = version.imported_by
        return {
            "id": version.pk,
            "model": version.model_id,
            "version": version.version,
            "mlflow_run_id": version.mlflow_run_id,
            "artifact_digest": version.artifact_digest,
            "mlflow_status": version.mlflow_status,
            "imported_by": importer.username if importer is not None else None,
            "created_at": iso(version.created_at),
            "ready": summary.ready,
            "checklist": {"total": summary.total, "satisfied": summary.satisfied, "failing": summary.failing},
        }


class FailingItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    detail = serializers.CharField()


class VersionDetailSerializer(VersionSerializer):
    """One version with its reproducibility metadata, metrics and why it is (not) ready."""

    model_name = serializers.CharField()
    tenant = serializers.CharField()
    artifact_uri = serializers.CharField()
    git_commit = serializers.CharField()
    dataset_version = serializers.CharField()
    image_digest = serializers.CharField()
    random_seed = serializers.CharField()
    data_validation = serializers.CharField()
    metrics = serializers.DictField(child=serializers.FloatField())
    params = serializers.DictField(child=serializers.CharField())
    tags = serializers.DictField(child=serializers.CharField())
    mlflow_created_at = serializers.DateTimeField(allow_null=True)
    failing_items = FailingItemSerializer(many=True)

    def to_representation(self, version: ModelVersion) -> dict:
        data = super().to_representation(version)
        items = list(version.checklist.all())
        data.update({
            "model_name": version.model.name,
            "tenant": version.model.tenant.slug,
            "artifact_uri": version.artifact_uri,
            "git_commit": version.git_commit,
            "dataset_version": version.dataset_version,
            "image_digest": version.image_digest,
            "random_seed": version.random_seed,
            "data_validation": version.data_validation,
            "metrics": version.metrics,
            "params": version.params,
            "tags": version.tags,
            "mlflow_created_at": iso(version.mlflow_created_at),
            "failing_items": [
                {"key": i.key, "title": i.definition.title, "status": i.status, "detail": i.detail}
                for i in items if not i.satisfied
            ],
        })
        return data
