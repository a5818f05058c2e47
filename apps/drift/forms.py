"""Forms of the drift pages. Shape only; the services hold the rules."""

from __future__ import annotations

from django import forms

from apps.drift.choices import PolicyAction


class ComputeForm(forms.Form):
    version = forms.IntegerField(min_value=1, max_value=2**62)


class AcknowledgeForm(forms.Form):
    note = forms.CharField(max_length=2000, required=False, strip=True,
                           widget=forms.TextInput(attrs={"class": "input",
                                                         "placeholder": "What you found or did (optional)"}))


class PolicyForm(forms.Form):
    action = forms.ChoiceField(choices=PolicyAction.choices, widget=forms.Select(attrs={"class": "input"}))
    low_threshold = forms.FloatField(min_value=0, max_value=10, label="Low from",
                                     widget=forms.NumberInput(attrs={"class": "input", "step": "0.01"}))
    medium_threshold = forms.FloatField(min_value=0, max_value=10, label="Medium from",
                                        widget=forms.NumberInput(attrs={"class": "input", "step": "0.01"}))
    high_threshold = forms.FloatField(min_value=0, max_value=10, label="High above",
                                      widget=forms.NumberInput(attrs={"class": "input", "step": "0.01"}))
    window_hours = forms.IntegerField(min_value=1, max_value=168, label="Window (hours)",
                                      widget=forms.NumberInput(attrs={"class": "input"}))
    min_rows = forms.IntegerField(min_value=1, max_value=10_000_000, label="Minimum rows",
                                  widget=forms.NumberInput(attrs={"class": "input"}))
