"""Automatic checklist evaluators: facts about a version → (status, detail).

Each evaluator is a pure read of the database; it returns None when the facts it needs
do not exist yet (the item then stays pending with its description). Attested items have
no evaluator, or one that only passes automatically (data_validation).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from apps.readiness.choices import ItemStatus
from apps.registry.models import ModelVersion

Verdict = tuple[str, str] | None
EVALUATORS: dict[str, Callable[[ModelVersion], Verdict]] = {}


def evaluator(key: str):
    def wrap(fn):
        EVALUATORS[key] = fn
        return fn
    return wrap


@evaluator("reproducibility")
def reproducibility(version: ModelVersion) -> Verdict:
    facts = {
        "git commit": version.git_commit,
        "dataset version": version.dataset_version,
        "container image digest": version.image_digest,
        "MLflow run id": version.mlflow_run_id,
        "random seed": version.random_seed,
    }
    missing = [name for name, value in facts.items() if not value]
    if missing:
        return ItemStatus.FAIL, "The run does not record: " + ", ".join(missing) + "."
    return ItemStatus.PASS, (f"Recorded: commit {version.git_commit[:12]}, dataset {version.dataset_version}, "
                             f"image {version.image_digest[:19]}…, run {version.mlflow_run_id[:12]}, "
                             f"seed {version.random_seed}.")


def _live_production_version(version: ModelVersion) -> ModelVersion | None:
    """The model's current production version, once deployments exist (issue: rollouts)."""
    from django.apps import apps

    if not apps.is_installed("apps.deployments"):
        return None
    from apps.deployments.services import live_version  # type: ignore[import-not-found]

    return live_version(version.model, "production")


@evaluator("validation_metrics")
def validation_metrics(version: ModelVersion) -> Verdict:
    model = version.model
    metric = model.primary_metric
    if not metric:
        return ItemStatus.FAIL, "The model declares no primary metric; set one on the model."
    value = (version.metrics or {}).get(metric)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        # Import stores NaN/inf as null: a metric that is not a finite number was not measured.
        return ItemStatus.FAIL, f"The run has no '{metric}' metric (or it is not a finite number)."
    better = (lambda a, b: a >= b) if model.higher_is_better else (lambda a, b: a <= b)
    word = "≥" if model.higher_is_better else "≤"
    current = _live_production_version(version)
    if current is not None and current.pk != version.pk:
        baseline = (current.metrics or {}).get(metric)
        if isinstance(baseline, int | float) and not isinstance(baseline, bool) and math.isfinite(baseline):
            if better(value, baseline):
                return ItemStatus.PASS, f"{metric} {value:.4g} {word} production v{current.version}'s {baseline:.4g}."
            return ItemStatus.FAIL, (f"{metric} {value:.4g} is worse than production v{current.version}'s "
                                     f"{baseline:.4g}.")
    floor = model.primary_metric_floor
    if floor is None:
        return ItemStatus.FAIL, (f"No version is in production and the model declares no floor for '{metric}'; "
                                 "set a floor on the model.")
    if better(value, floor):
        return ItemStatus.PASS, f"{metric} {value:.4g} {word} the declared floor {floor:.4g} (first version)."
    return ItemStatus.FAIL, f"{metric} {value:.4g} misses the declared floor {floor:.4g}."


@evaluator("data_validation")
def data_validation(version: ModelVersion) -> Verdict:
    result = (version.data_validation or "").lower()
    if result in ("passed", "pass", "success", "true"):
        return ItemStatus.PASS, "The run carries a passed data-validation result."
    if result in ("failed", "fail", "false", "error"):
        return ItemStatus.FAIL, f"The run's data-validation result is '{version.data_validation}'."
    return None  # nothing recorded: a data scientist may attest with evidence


@evaluator("owner_oncall")
def owner_oncall(version: ModelVersion) -> Verdict:
    model = version.model
    missing = [name for name, value in (("owner", model.owner), ("on-call contact", model.oncall))
               if not (value or "").strip()]
    if missing:
        return ItemStatus.FAIL, "Set the model's " + " and ".join(missing) + "."
    return ItemStatus.PASS, f"Owner {model.owner}; on call {model.oncall}."
