"""The audit log's filters (GET, bookmarkable)."""

from __future__ import annotations

from django import forms

from apps.core.models import AuditSource


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=64,
                             widget=forms.TextInput(attrs={"class": "input", "placeholder": "e.g. checklist."}),
                             help_text="Actions starting with this text.")
    actor = forms.CharField(required=False, max_length=150,
                            widget=forms.TextInput(attrs={"class": "input", "placeholder": "username"}))
    team = forms.ChoiceField(required=False, choices=())
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *AuditSource.choices])
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"class": "input", "type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"class": "input", "type": "date"}))

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "All my teams")] + [(t.slug, t.name) for t in teams]
        for name in ("team", "source"):
            self.fields[name].widget.attrs["class"] = "input"

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "'until' must be on or after 'since'.")
        return data
