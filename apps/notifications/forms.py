"""Page forms for destinations: shape only (types, lengths); `notifications.services` checks the rules."""

from __future__ import annotations

from django import forms

from apps.notifications.choices import SUBSCRIBABLE, DestinationKind, Event
from apps.tenancy.models import Tenant

_text = {"class": "input"}
EVENT_CHOICES = [(e, Event(e).label) for e in SUBSCRIBABLE]


class DestinationForm(forms.Form):
    """Create (with team and kind) or edit (without them) a destination."""

    team = forms.ModelChoiceField(queryset=Tenant.objects.none(), empty_label=None,
                                  help_text="The team whose events this destination receives.")
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={**_text, "placeholder": "#ml-alerts"}),
                           error_messages={"required": "Give the destination a name."})
    kind = forms.ChoiceField(choices=DestinationKind.choices, initial=DestinationKind.WEBHOOK,
                             widget=forms.RadioSelect)
    url = forms.CharField(label="Webhook URL", max_length=500, required=False,
                          widget=forms.URLInput(attrs={**_text, "placeholder": "https://hooks.slack.com/services/…"}),
                          help_text="https only; Slipway signs every request (see the webhooks guide).")
    email = forms.CharField(label="E-mail address", max_length=254, required=False,
                            widget=forms.EmailInput(attrs={**_text, "placeholder": "ml-oncall@example.com"}))
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple,
                                       error_messages={"required": "Choose at least one event."})
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def __init__(self, *args, teams=None, instance=None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {"name": instance.name, "url": instance.url, "email": instance.email,
                                 "events": instance.events, "enabled": instance.enabled}
        kwargs.setdefault("initial", {}).setdefault("events", list(SUBSCRIBABLE))
        super().__init__(*args, **kwargs)
        self.instance = instance
        if teams is None:
            del self.fields["team"]
            del self.fields["kind"]
            if instance is not None:
                del self.fields["email" if instance.kind == DestinationKind.WEBHOOK else "url"]
        else:
            self.fields["team"].queryset = teams
            self.fields["team"].widget.attrs["class"] = "input"

    def service_fields(self) -> dict:
        data = self.cleaned_data
        fields = {name: data[name] for name in ("name", "url", "email", "events", "enabled") if name in data}
        if "kind" in data:
            fields["kind"] = data["kind"]
            # The other kind's field is ignored, so a half-filled form does not trip the service.
            fields.pop("email" if data["kind"] == DestinationKind.WEBHOOK else "url", None)
        return fields
