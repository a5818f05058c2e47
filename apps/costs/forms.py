"""The date-range and environment filter of the cost pages (validated again by the report)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from apps.core.errors import DomainError, ValidationFailed


class CostRangeForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date", "class": "input"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date", "class": "input"}))
    environment = forms.ChoiceField(required=False, widget=forms.Select(attrs={"class": "input"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from apps.deployments.models import Environment

        self.fields["environment"].choices = [("", "All environments")] + [
            (e.name, e.display_name) for e in Environment.objects.all()]

    def add_domain_error(self, exc: DomainError) -> None:
        errors = exc.errors if isinstance(exc, ValidationFailed) else [(exc.field, exc.code, exc.message)]
        for field, code, message in errors:
            target = field if field in self.fields else None
            self.add_error(target, ValidationError(message, code=str(code)))
