"""API shapes of drift baselines, observations, reports and policies.

Input serializers check the envelope (types of `version`, `features`, `predictions`); what the
values must be — known features, numbers where numeric, size limits — is the service's rule.
"""

from __future__ import annotations

from rest_framework import serializers

from apps.core.serializers import RefuseUnknownFieldsMixin, StrictCharField, iso
from apps.drift.choices import PolicyAction, Severity
from apps.drift.models import Baseline, DriftAction, DriftPolicy, DriftReport


class _VersionIdMixin:
    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("version"), bool):
            raise serializers.ValidationError({"version": [serializers.ErrorDetail(
                "A valid integer is required.", code="invalid")]})
        return super().to_internal_value(data)


class SampleSerializer(_VersionIdMixin, RefuseUnknownFieldsMixin, serializers.Serializer):
    """`{version, features: {name: [values]}, predictions: [values]}`."""

    version = serializers.IntegerField(min_value=1, max_value=2**62, help_text="Id of a model version of your team.")
    features = serializers.DictField(child=serializers.JSONField(), help_text=(
        "Feature name → list of values: numbers (numeric features) or strings/booleans (categorical); "
        "null for a missing value."))
    predictions = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True,
                                        help_text="The model's outputs for the same rows (numbers or labels).")


class BaselineInputSerializer(SampleSerializer):
    buckets = serializers.IntegerField(min_value=2, max_value=50, required=False, default=10,
                                       help_text="Quantile buckets per numeric feature (default 10).")


class FeatureSpecSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["numeric", "categorical"])
    buckets = serializers.IntegerField(help_text="Buckets including 'other' (categorical) and missing.")
    edges = serializers.ListField(child=serializers.FloatField(), required=False)
    categories = serializers.ListField(child=serializers.CharField(), required=False)
    counts = serializers.ListField(child=serializers.IntegerField())


def _spec(spec: dict | None) -> dict | None:
    if spec is None:
        return None
    out = {"kind": spec["kind"], "buckets": len(spec["counts"]), "counts": spec["counts"]}
    if spec["kind"] == "numeric":
        out["edges"] = spec["edges"]
    else:
        out["categories"] = spec["categories"]
    return out


class BaselineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField(help_text="Model version id.")
    model = serializers.IntegerField()
    tenant = serializers.CharField()
    revision = serializers.IntegerField()
    rows = serializers.IntegerField()
    source = serializers.CharField()
    features = serializers.DictField(child=FeatureSpecSerializer())
    prediction = FeatureSpecSerializer(allow_null=True)
    created_by = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def to_representation(self, b: Baseline) -> dict:
        return {"id": b.pk, "version": b.version_id, "model": b.version.model_id, "tenant": b.version.model.tenant.slug,
                "revision": b.revision, "rows": b.rows, "source": b.source,
                "features": {name: _spec(spec) for name, spec in b.features.items()},
                "prediction": _spec(b.prediction),
                "created_by": b.created_by.username if b.created_by_id else None, "updated_at": iso(b.updated_at)}


class ObservationResultSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    window_start = serializers.DateTimeField(help_text="The hour these counts were added to.")
    rows_in_window = serializers.IntegerField()
    batches_in_window = serializers.IntegerField()
    accepted_rows = serializers.IntegerField()


class ActionSerializer(serializers.Serializer):
    kind = serializers.CharField()
    message = serializers.CharField()
    deployment = serializers.IntegerField(allow_null=True)
    actor = serializers.CharField()
    created_at = serializers.DateTimeField()


def action_row(a: DriftAction) -> dict:
    return {"kind": a.kind, "message": a.message, "deployment": a.deployment_id, "actor": a.actor_label,
            "created_at": iso(a.created_at)}


class ReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.IntegerField()
    model_name = serializers.CharField()
    tenant = serializers.CharField()
    version = serializers.IntegerField(help_text="Model version id.")
    version_number = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    trigger = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    rows = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    max_psi = serializers.FloatField()
    top_feature = serializers.CharField()
    psi = serializers.DictField(child=serializers.FloatField(), help_text="Feature → PSI.")
    prediction_psi = serializers.FloatField(allow_null=True)
    thresholds = serializers.DictField()
    acknowledged_by = serializers.CharField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    actions = ActionSerializer(many=True)

    def to_representation(self, r: DriftReport) -> dict:
        return {
            "id": r.pk, "model": r.model_id, "model_name": r.model.name, "tenant": r.model.tenant.slug,
            "version": r.version_id, "version_number": r.version.version, "created_at": iso(r.created_at),
            "trigger": r.trigger, "window_start": iso(r.window_start), "window_end": iso(r.window_end),
            "rows": r.rows, "severity": r.severity, "max_psi": r.max_psi, "top_feature": r.top_feature,
            "psi": r.psi, "prediction_psi": r.prediction_psi, "thresholds": r.thresholds,
            "acknowledged_by": r.acknowledged_by.username if r.acknowledged_by_id else None,
            "acknowledged_at": iso(r.acknowledged_at),
            "actions": [action_row(a) for a in r.actions.all()],
        }


class ComputeSerializer(_VersionIdMixin, RefuseUnknownFieldsMixin, serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**62)


class AcknowledgeSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    note = StrictCharField(max_length=2000, required=False, allow_blank=True)


class PolicySerializer(serializers.Serializer):
    model = serializers.IntegerField(read_only=True)
    action = serializers.ChoiceField(choices=PolicyAction.choices)
    low_threshold = serializers.FloatField()
    medium_threshold = serializers.FloatField()
    high_threshold = serializers.FloatField()
    window_hours = serializers.IntegerField()
    min_rows = serializers.IntegerField()

    def to_representation(self, p: DriftPolicy) -> dict:
        return {"model": p.model_id, "action": p.action, "low_threshold": p.low_threshold,
                "medium_threshold": p.medium_threshold, "high_threshold": p.high_threshold,
                "window_hours": p.window_hours, "min_rows": p.min_rows}


class PolicyUpdateSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    ignored_fields = frozenset({"model"})

    action = serializers.ChoiceField(choices=PolicyAction.choices, required=False)
    low_threshold = serializers.FloatField(min_value=0, max_value=10, required=False)
    medium_threshold = serializers.FloatField(min_value=0, max_value=10, required=False)
    high_threshold = serializers.FloatField(min_value=0, max_value=10, required=False)
    window_hours = serializers.IntegerField(min_value=1, max_value=168, required=False)
    min_rows = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False)
