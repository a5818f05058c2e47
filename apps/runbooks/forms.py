"""The runbook editor (written Markdown + a note on what changed)."""

from __future__ import annotations

from django import forms

from apps.runbooks.sections import MAX_BODY


class RunbookForm(forms.Form):
    body = forms.CharField(required=False, max_length=MAX_BODY, strip=False,
                           widget=forms.Textarea(attrs={"class": "input mono runbook-editor", "rows": 28,
                                                        "spellcheck": "true"}))
    summary = forms.CharField(required=False, max_length=200, label="What changed",
                              widget=forms.TextInput(attrs={"class": "input", "placeholder": "e.g. cost spike steps"}))
    expected_revision = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


class PlatformRunbookForm(RunbookForm):
    title = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"class": "input"}))
    field_order = ["title", "body", "summary", "expected_revision"]
