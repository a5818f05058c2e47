"""Page forms for deployments: the deploy form, approval decisions and rollout controls.

Rules live in `deployments.services` and `deployments.config`; these forms only parse input
(types, lengths, NUL bytes) into the config dict the API takes, and show the service's errors
next to the field they name ("config.min_replicas" → the min replicas field).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from apps.core.errors import DomainError, ValidationFailed
from apps.deployments.choices import Strategy
from apps.deployments.models import Environment, InstanceType

_input = {"class": "input"}

CONFIG_FIELDS = ("instance_type", "gpus_per_replica", "min_replicas", "max_replicas", "spot_percent", "strategy",
                 "steps", "soak_seconds")


def instance_label(instance: InstanceType) -> str:
    """What a person picks an instance by: the GPU, how many, and the price per hour."""
    hardware = (f"{instance.gpus}× {instance.gpu_model} {instance.gpu_memory_gib} GiB" if instance.gpus
                else f"CPU only, {instance.vcpus} vCPU")
    return (f"{instance.name} · {hardware} · ${instance.on_demand_usd_hour:.3f}/h on-demand · "
            f"${instance.spot_usd_hour:.3f}/h spot")


def parse_steps(value: str) -> list[int]:
    """'5, 25, 50, 100' → [5, 25, 50, 100]; the service checks they increase and end at 100."""
    parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        raise ValidationError("Give the canary weights in percent, e.g. 5, 25, 50, 100.", code="required")
    steps = []
    for part in parts[:50]:
        if not part.isdigit():
            raise ValidationError(f"“{part[:20]}” is not a whole percentage; use e.g. 5, 25, 50, 100.",
                                  code="invalid")
        steps.append(int(part))
    return steps


class DeployForm(forms.Form):
    """Deploy a version: where, on what hardware, and how the canary proceeds."""

    environment = forms.ChoiceField(widget=forms.RadioSelect, label="Environment")
    instance_type = forms.ChoiceField(label="Instance type", widget=forms.Select(attrs=_input),
                                      help_text="Prices are public us-east-1 list prices per instance-hour.")
    gpus_per_replica = forms.IntegerField(label="GPUs per replica",
                                          widget=forms.NumberInput(attrs={**_input, "min": 0, "max": 16}))
    min_replicas = forms.IntegerField(label="Min replicas", widget=forms.NumberInput(attrs={**_input, "min": 1}))
    max_replicas = forms.IntegerField(label="Max replicas", widget=forms.NumberInput(attrs={**_input, "min": 1}))
    spot_percent = forms.IntegerField(label="Spot capacity (%)",
                                      widget=forms.NumberInput(attrs={**_input, "min": 0, "max": 100, "step": 5}),
                                      help_text="Share of replicas on spot instances (cheaper, can be reclaimed).")
    strategy = forms.ChoiceField(choices=Strategy.choices, widget=forms.RadioSelect, label="Strategy")
    steps = forms.CharField(label="Canary steps (% of traffic)", max_length=200,
                            widget=forms.TextInput(attrs={**_input, "placeholder": "5, 25, 50, 100",
                                                          "autocomplete": "off"}),
                            help_text="Increasing percentages ending at 100.")
    soak_seconds = forms.IntegerField(label="Soak per step (seconds)",
                                      widget=forms.NumberInput(attrs={**_input, "min": 0}))

    def __init__(self, *args, environments: list[Environment], instances: list[InstanceType], **kwargs):
        super().__init__(*args, **kwargs)
        self.environments = {e.name: e for e in environments}
        self.fields["environment"].choices = [
            (e.name, e.display_name + (" — needs approval" if e.requires_approval else "")) for e in environments]
        self.fields["instance_type"].choices = [(i.name, instance_label(i)) for i in instances]
        for name in ("gpus_per_replica", "min_replicas", "max_replicas", "spot_percent", "soak_seconds"):
            self.fields[name].error_messages["invalid"] = "Enter a whole number."
            self.fields[name].error_messages["required"] = "This field is required."

    @staticmethod
    def initial_for(environment: Environment, model) -> dict:
        """Defaults a person would pick: the environment's plan on one A10G replica."""
        return {"environment": environment.name, "instance_type": "g5.xlarge", "gpus_per_replica": 1,
                "min_replicas": 1, "max_replicas": 2, "spot_percent": 0, "strategy": Strategy.CANARY,
                "steps": ", ".join(str(s) for s in environment.default_steps),
                "soak_seconds": environment.default_soak_seconds}

    def clean_steps(self) -> list[int]:
        return parse_steps(self.cleaned_data["steps"])

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, str) and "\x00" in value:
                self.add_error(name, ValidationError("Null characters are not allowed.", code="null_characters"))
        return cleaned

    def config(self) -> dict:
        return {name: self.cleaned_data[name] for name in CONFIG_FIELDS if name in self.cleaned_data}

    def loose_config(self) -> dict:
        """The config from whatever parsed, for the live preview while the form is incomplete."""
        if not self.is_bound:
            return {}
        config = {}
        for name in CONFIG_FIELDS:
            if name in self.cleaned_data:
                config[name] = self.cleaned_data[name]
        return config


def service_errors(exc: DomainError, field_names) -> list[tuple[str | None, str, str]]:
    """A service's errors as (form field or None, code, message).

    "config.min_replicas" lands on the min replicas field; an error on something the form
    does not have (e.g. "config.image") stays general and keeps its field name in the text.
    """
    errors = exc.errors if isinstance(exc, ValidationFailed) else [(exc.field, exc.code, exc.message)]
    out = []
    for field, code, message in errors:
        name = (field or "").removeprefix("config.")
        target = name if name and name in field_names else None
        text = message if target or not field or field in ("version", "status") else f"{field}: {message}"
        out.append((target, str(code), text))
    return out


def add_service_errors(form: forms.Form, exc: DomainError) -> None:
    """Put the service's errors on the form, next to the field they name."""
    for target, code, text in service_errors(exc, form.fields):
        form.add_error(target, ValidationError(text, code=code))


class DecisionForm(forms.Form):
    """Approve (comment optional) or reject (comment required — the service says so)."""

    comment = forms.CharField(required=False, max_length=5000, label="Comment",
                              widget=forms.Textarea(attrs={**_input, "rows": 2,
                                                           "placeholder": "Why (required to reject)"}))

    def clean_comment(self) -> str:
        value = self.cleaned_data["comment"]
        if "\x00" in value:
            raise ValidationError("Null characters are not allowed.", code="null_characters")
        return value


class ReasonForm(forms.Form):
    """Pause, resume, promote, abort and rollback take an optional reason for the record."""

    reason = forms.CharField(required=False, max_length=5000, label="Reason (optional)",
                             widget=forms.TextInput(attrs={**_input, "placeholder": "For the events and audit log"}))

    def clean_reason(self) -> str:
        value = self.cleaned_data["reason"]
        if "\x00" in value:
            raise ValidationError("Null characters are not allowed.", code="null_characters")
        return value


class MisbehaveForm(forms.Form):
    BEHAVIOURS = [("errors", "Error rate 20 %"), ("latency", "p99 900 ms"), ("reset", "Reset to healthy")]
    behaviour = forms.ChoiceField(choices=BEHAVIOURS, widget=forms.RadioSelect, initial="errors")
