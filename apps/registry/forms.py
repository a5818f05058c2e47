"""Page forms for models and version import. Rules live in `registry.services`; these forms only
parse input (types, lengths, NUL bytes) so the service gets clean values, and show its errors."""

from __future__ import annotations

from django import forms

from apps.registry.models import Model
from apps.tenancy.models import Tenant

_text = {"class": "input"}


class ModelForm(forms.Form):
    """Create or edit a model. `team` is offered only on create, from the teams the user may change."""

    team = forms.ModelChoiceField(queryset=Tenant.objects.none(), empty_label=None,
                                  help_text="The team that owns the model.")
    name = forms.CharField(
        max_length=63, widget=forms.TextInput(attrs={**_text, "autocomplete": "off", "placeholder": "churn-predictor"}),
        help_text="Lowercase letters, digits and dashes; it becomes part of Kubernetes object names.",
        error_messages={"required": "Give the model a name."})
    mlflow_name = forms.CharField(
        label="MLflow registered model", max_length=256, required=False, widget=forms.TextInput(attrs=_text),
        help_text="The registered model in MLflow whose versions you import. Defaults to the name.")
    description = forms.CharField(max_length=5000, required=False,
                                  widget=forms.Textarea(attrs={**_text, "rows": 3}))
    owner = forms.CharField(max_length=150, required=False, widget=forms.TextInput(attrs=_text),
                            help_text="Person or e-mail accountable for the model.")
    oncall = forms.CharField(label="On-call contact", max_length=150, required=False,
                             widget=forms.TextInput(attrs=_text), help_text="Pager rotation, channel or e-mail.")
    sla_p99_ms = forms.IntegerField(label="Latency SLA (p99 ms)", min_value=1, max_value=600_000, initial=200,
                                    widget=forms.NumberInput(attrs=_text))
    primary_metric = forms.CharField(max_length=100, required=False, widget=forms.TextInput(attrs=_text),
                                     help_text="The MLflow run metric the validation check compares, e.g. auc.")
    primary_metric_floor = forms.FloatField(required=False, widget=forms.NumberInput(attrs={**_text, "step": "any"}),
                                            help_text="Minimum value of the primary metric for a first version.")
    higher_is_better = forms.BooleanField(required=False, initial=True, label="Higher metric is better")

    FIELDS = ("name", "mlflow_name", "description", "owner", "oncall", "sla_p99_ms", "primary_metric",
              "primary_metric_floor", "higher_is_better")

    def __init__(self, *args, teams=None, instance: Model | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(instance, name) for name in self.FIELDS}
        super().__init__(*args, **kwargs)
        self.instance = instance
        if teams is None:
            del self.fields["team"]
        else:
            self.fields["team"].queryset = teams
            self.fields["team"].widget.attrs["class"] = "input"

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.FIELDS if name in self.cleaned_data}


class ImportVersionForm(forms.Form):
    mlflow_version = forms.IntegerField(
        label="MLflow version", min_value=1, max_value=2_147_483_647,
        widget=forms.NumberInput(attrs={"class": "input", "placeholder": "e.g. 3"}),
        error_messages={"required": "Give the MLflow version number to import.",
                        "invalid": "Enter a version number (1, 2, 3, …)."})
