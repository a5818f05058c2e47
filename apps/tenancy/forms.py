"""API token form. Names and expiry are validated again by `tenancy.services.issue_token`."""

from __future__ import annotations

from django import forms

EXPIRY_CHOICES = [(30, "30 days"), (90, "90 days"), (180, "180 days"), (365, "1 year"), (0, "Never")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"class": "input",
                                                                      "placeholder": "e.g. ci-pipeline"}),
                           error_messages={"required": "Give the token a name, e.g. 'ci-pipeline'."})
    expires_in_days = forms.TypedChoiceField(label="Expires", choices=EXPIRY_CHOICES, coerce=int, initial=90,
                                             widget=forms.Select(attrs={"class": "input"}))
