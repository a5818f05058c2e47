"""The ten default checklist items of SPEC §2."""

from django.db import migrations

DEFAULTS = [
    ("reproducibility", "Reproducibility", "automatic",
     "Passes when the MLflow run records the git commit, dataset version, container image digest, "
     "run id and random seed."),
    ("validation_metrics", "Validation metrics", "automatic",
     "Passes when the model's primary metric is at least the production version's, or at least the "
     "declared floor for a first version."),
    ("data_validation", "Data validation", "either",
     "Passes when the run carries a passed data-validation result (tag 'data_validation'), or a data "
     "scientist attests with evidence."),
    ("latency_sla", "Latency SLA", "automatic",
     "Passes when a staging deployment of this version met the model's p99 SLA during its soak."),
    ("staging_soak", "Staging soak", "automatic",
     "Passes when this version was live in staging for the environment's minimum soak with all gates green."),
    ("monitoring", "Monitoring", "automatic",
     "Passes when a drift baseline exists for this version and the team has an alert destination."),
    ("fallback", "Fallback", "attested",
     "Attest with evidence where the fallback behaviour when the model is down is written down."),
    ("runbook", "Runbook", "automatic",
     "Passes when the model's runbook exists with its required sections filled."),
    ("owner_oncall", "Owner and on-call", "automatic",
     "Passes when the model's owner and on-call contact are set."),
    ("bias_review", "Bias review", "attested",
     "Attest with evidence that a fairness / bias review was done, e.g. a link to the review."),
]


def add_defaults(apps, schema_editor):
    Definition = apps.get_model("readiness", "ChecklistDefinition")
    for position, (key, title, kind, description) in enumerate(DEFAULTS, start=1):
        Definition.objects.update_or_create(
            key=key, defaults={"title": title, "kind": kind, "description": description, "position": position * 10})


def remove_defaults(apps, schema_editor):
    Definition = apps.get_model("readiness", "ChecklistDefinition")
    Definition.objects.filter(key__in=[d[0] for d in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("readiness", "0002_initial")]
    operations = [migrations.RunPython(add_defaults, remove_defaults)]
