"""API shapes of checklist items and of a person's decision on one."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.serializers import RefuseUnknownFieldsMixin, StrictCharField, iso
from apps.readiness.choices import ItemKind, ItemStatus
from apps.readiness.models import ChecklistItem


class ChecklistItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    status = serializers.ChoiceField(choices=ItemStatus.choices)
    detail = serializers.CharField(help_text="Why the item has its status, or what will satisfy it.")
    evidence = serializers.CharField()
    waiver_reason = serializers.CharField()
    decided_by = serializers.CharField(allow_null=True, help_text="Who attested or waived it.")
    decided_at = serializers.DateTimeField(allow_null=True)
    evaluated_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def to_representation(self, item: ChecklistItem) -> dict:
        decider = item.decided_by
        return {
            "key": item.key,
            "title": item.definition.title,
            "kind": item.definition.kind,
            "status": item.status,
            "detail": item.detail,
            "evidence": item.evidence,
            "waiver_reason": item.waiver_reason,
            "decided_by": decider.username if decider is not None else None,
            "decided_at": iso(item.decided_at),
            "evaluated_at": iso(item.evaluated_at),
            "updated_at": iso(item.updated_at),
        }


class ChecklistDecisionSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    """Attest (`status` pass|fail with `evidence`) or waive (`status` waived with `reason`)."""

    status = serializers.ChoiceField(choices=[ItemStatus.PASS, ItemStatus.FAIL, ItemStatus.WAIVED])
    evidence = StrictCharField(required=False, allow_blank=True, max_length=5000,
                               help_text="What shows it (link, report); required to attest.")
    reason = StrictCharField(required=False, allow_blank=True, max_length=5000,
                             help_text="Why the item is waived; required to waive (platform engineers).")


class EvaluationQueuedSerializer(serializers.Serializer):
    status = serializers.CharField()
    checklist = serializers.URLField(help_text="Where the re-evaluated items appear.")
