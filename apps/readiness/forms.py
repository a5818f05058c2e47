"""Checklist forms: attest (pass/fail with evidence) and waive (reason). The service enforces
who may do which and the text rules; these parse the input and carry the service's errors."""

from __future__ import annotations

from django import forms

from apps.readiness.choices import ItemStatus

MAX_TEXT = 5000


class AttestForm(forms.Form):
    status = forms.ChoiceField(choices=[(ItemStatus.PASS, "Pass"), (ItemStatus.FAIL, "Fail")],
                               initial=ItemStatus.PASS, widget=forms.RadioSelect)
    evidence = forms.CharField(
        max_length=MAX_TEXT, widget=forms.Textarea(attrs={"class": "input", "rows": 2,
                                                          "placeholder": "Link to the review, report or doc"}),
        error_messages={"required": "Evidence is required: say what shows this, e.g. a link to the review."})


class WaiveForm(forms.Form):
    reason = forms.CharField(
        max_length=MAX_TEXT, widget=forms.Textarea(attrs={"class": "input", "rows": 2,
                                                          "placeholder": "Why this item does not apply, or the risk is accepted"}),
        error_messages={"required": "A waiver needs a reason."})
