"""Shapes of the runbooks API."""

from __future__ import annotations

from rest_framework import serializers

from apps.runbooks import sections
from apps.runbooks.models import RunbookRevision


class RunbookSaveSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=sections.MAX_BODY,
                                 help_text="The written sections, Markdown.")
    summary = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                    help_text="What changed (kept with the revision).")
    expected_revision = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1,
                                                 help_text="The revision you edited; 409 if someone saved since.")

    def validate(self, attrs):
        # CharField would turn 5 or true into text; a runbook body must be sent as a string.
        for name in ("body", "summary"):
            if name in self.initial_data and not isinstance(self.initial_data[name], str):
                raise serializers.ValidationError({name: serializers.ErrorDetail("Must be a string.", code="invalid")})
        return attrs


class RunbookSerializer(serializers.Serializer):
    model = serializers.IntegerField()
    tenant = serializers.CharField()
    exists = serializers.BooleanField()
    revision = serializers.IntegerField()
    body = serializers.CharField(help_text="The written Markdown (the template before the first save).")
    generated_markdown = serializers.CharField(help_text="Sections generated from the model's data, now.")
    markdown = serializers.CharField(help_text="The whole runbook: generated + written.")
    html = serializers.CharField(help_text="`markdown` rendered and sanitised.")
    required_sections = serializers.ListField(child=serializers.CharField())
    missing_sections = serializers.ListField(child=serializers.CharField())
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField(allow_null=True)


def full_markdown(model, body: str) -> str:
    return f"# {model.name} runbook\n\n{sections.generated(model)}\n{body}"


def runbook_json(model, book) -> dict:
    body = book.body if book is not None else sections.TEMPLATE
    markdown = full_markdown(model, body)
    return {"model": model.pk, "tenant": model.tenant.slug, "exists": book is not None,
            "revision": book.revision if book else 0, "body": body,
            "generated_markdown": sections.generated(model), "markdown": markdown, "html": sections.render(markdown),
            "required_sections": list(sections.REQUIRED), "missing_sections": sections.missing_sections(body),
            "updated_at": book.updated_at.isoformat() if book else None,
            "updated_by": (book.updated_by.get_username() if book and book.updated_by else None)}


class RevisionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = RunbookRevision
        fields = ["number", "title", "summary", "body", "created_by", "created_at"]
