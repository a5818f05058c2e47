"""Drift writes: baselines, observations, reports and what they trigger, acknowledgement, policy.

Rules live here once; the API, the pages, the worker and the demo call these functions.

- `upload_baseline` turns a training sample into bucket definitions and baseline counts
  (apps.drift.psi) — computed once per version, never per report.
- `record_observations` validates a production batch against the baseline and adds its bucket
  counts to the version's row for the current hour: nothing raw is stored, nothing at all on
  any error.
- `compute_report` compares the last window's counts with the baseline (PSI per feature and for
  predictions), stores a report and acts on its severity: low → logged; medium → the team is
  alerted; high → alerted and, under a `rollback` policy, the live production deployment of
  the version is rolled back through `apps.deployments.services.rollback` — once.
- A drifting version (latest report medium or high, not acknowledged) cannot be requested for
  production: `check_rollout_allowed`, called by `deployments.services.request_deployment`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core import audit
from apps.core.access import require
from apps.core.errors import Conflict, DomainError, InvalidTransition, NotFound, ValidationFailed
from apps.drift import psi as psimath
from apps.drift.choices import DRIFTING, ActionKind, FeatureKind, PolicyAction, Severity, Trigger
from apps.drift.errors import DriftErrorCode
from apps.drift.models import Baseline, DriftAction, DriftPolicy, DriftReport, ObservationWindow
from apps.registry.models import Model, ModelVersion

log = logging.getLogger(__name__)

PREDICTION = "__prediction__"  # key of the predictions in report.current
MAX_FEATURES = 500
MAX_NAME_LENGTH = 200
MAX_CATEGORY_LENGTH = 200


def max_values_per_field() -> int:
    return getattr(settings, "SLIPWAY_DRIFT_MAX_VALUES_PER_FIELD", 200_000)


def max_values_total() -> int:
    return getattr(settings, "SLIPWAY_DRIFT_MAX_VALUES_TOTAL", 2_000_000)


def max_body_bytes() -> int:
    return getattr(settings, "SLIPWAY_DRIFT_MAX_BODY_BYTES", 16 * 1024 * 1024)


class PayloadTooLarge(ValidationFailed):
    """More values than one post may carry (HTTP 413), naming the field."""

    status = 413
    title = "Request too large"


# --- parsing samples ---------------------------------------------------------------------

@dataclass
class Column:
    kind: str
    numbers: np.ndarray | None = None      # numeric: float64, NaN for missing
    labels: list | None = None             # categorical: str or None


def _is_number(value) -> bool:
    return type(value) in (int, float)  # bool is an int subclass; it is not a number here


def _describe(value) -> str:
    text = repr(value)
    return (text[:40] + "…") if len(text) > 40 else text


def _numbers(values: list, field: str, errors: list) -> np.ndarray | None:
    bad = next((i for i, v in enumerate(values) if v is not None and not _is_number(v)), None)
    if bad is not None:
        errors.append((field, DriftErrorCode.NOT_NUMERIC,
                       f"{field}[{bad}] is {_describe(values[bad])}: a numeric feature takes numbers or null."))
        return None
    try:
        array = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    except (OverflowError, ValueError):
        errors.append((field, DriftErrorCode.NOT_NUMERIC, f"{field} holds a number too large for a double."))
        return None
    if not np.isfinite(array[~np.isnan(array)]).all():
        errors.append((field, DriftErrorCode.NOT_NUMERIC, f"{field} holds a number too large for a double."))
        return None
    return array


def _labels(values: list, field: str, errors: list) -> list | None:
    out = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
        elif isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str):
            if len(v) > MAX_CATEGORY_LENGTH or "\x00" in v:
                errors.append((field, DriftErrorCode.NOT_CATEGORICAL,
                               f"{field}[{i}]: categories are at most {MAX_CATEGORY_LENGTH} characters, no NUL."))
                return None
            out.append(v)
        else:
            errors.append((field, DriftErrorCode.NOT_CATEGORICAL,
                           f"{field}[{i}] is {_describe(v)}: a categorical feature takes strings, booleans or null."))
            return None
    return out


def _check_sizes(features, predictions) -> None:
    """Shape and size first: refuse a huge post before converting a single value."""
    errors: list = []
    if not isinstance(features, dict):
        raise ValidationFailed([("features", "invalid", "features must be an object: {name: [values]}.")])
    if predictions is not None and not isinstance(predictions, list):
        raise ValidationFailed([("predictions", "invalid", "predictions must be a list of values or null.")])
    if len(features) > MAX_FEATURES:
        raise PayloadTooLarge([("features", DriftErrorCode.TOO_LARGE,
                                f"{len(features)} features; at most {MAX_FEATURES} per post.")])
    per_field, total = max_values_per_field(), 0
    fields = [(f"features.{name}", values) for name, values in features.items()]
    if predictions is not None:
        fields.append(("predictions", predictions))
    for field, values in fields:
        if not isinstance(values, list):
            errors.append((field, "invalid", f"{field} must be a list of values."))
            continue
        if len(values) > per_field:
            raise PayloadTooLarge([(field, DriftErrorCode.TOO_LARGE,
                                    f"{field} has {len(values):,} values; at most {per_field:,} per field in one "
                                    "post. Send the batch in parts.")])
        total += len(values)
    if total > max_values_total():
        raise PayloadTooLarge([("features", DriftErrorCode.TOO_LARGE,
                                f"{total:,} values in one post; at most {max_values_total():,}. Send it in parts.")])
    for name in features:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH or "\x00" in name \
                or name == PREDICTION:
            errors.append((f"features.{str(name)[:40]}", "invalid",
                           f"Feature names are 1-{MAX_NAME_LENGTH} characters (and not {PREDICTION})."))
    if errors:
        raise ValidationFailed(errors)


def _infer(values: list, field: str, errors: list) -> Column | None:
    present = [v for v in values if v is not None]
    if not present:
        errors.append((field, DriftErrorCode.EMPTY, f"{field} has no non-missing values to learn buckets from."))
        return None
    if _is_number(present[0]):
        numbers = _numbers(values, field, errors)
        return Column(FeatureKind.NUMERIC, numbers=numbers) if numbers is not None else None
    if isinstance(present[0], str | bool):
        labels = _labels(values, field, errors)
        return Column(FeatureKind.CATEGORICAL, labels=labels) if labels is not None else None
    errors.append((field, DriftErrorCode.MIXED_TYPES, f"{field} holds {_describe(present[0])}: use numbers or "
                                                      "strings (null for missing)."))
    return None


def _spec(column: Column, buckets: int) -> dict:
    if column.kind == FeatureKind.NUMERIC:
        edges = psimath.numeric_edges(column.numbers, buckets)
        counts = psimath.numeric_counts(column.numbers, edges)
        return {"kind": FeatureKind.NUMERIC, "edges": edges.tolist(), "counts": counts.tolist()}
    categories = psimath.categorical_categories(column.labels)
    counts = psimath.categorical_counts(column.labels, categories)
    return {"kind": FeatureKind.CATEGORICAL, "categories": categories, "counts": counts.tolist()}


def _count(spec: dict, values: list, field: str, errors: list) -> list[int] | None:
    """Bucket counts of `values` under a baseline spec, or None after recording the error."""
    if spec["kind"] == FeatureKind.NUMERIC:
        numbers = _numbers(values, field, errors)
        if numbers is None:
            return None
        return psimath.numeric_counts(numbers, np.asarray(spec["edges"], dtype=np.float64)).tolist()
    labels = _labels(values, field, errors)
    if labels is None:
        return None
    return psimath.categorical_counts(labels, spec["categories"]).tolist()


def _add(a: list[int] | None, b: list[int]) -> list[int]:
    return list(b) if a is None else [x + y for x, y in zip(a, b, strict=True)]


# --- baselines and observations -------------------------------------------------------------

def upload_baseline(version: ModelVersion, *, actor, features: dict, predictions: list | None = None,
                    buckets: int = psimath.DEFAULT_BUCKETS, source: str = "api") -> Baseline:
    """Learn bucket definitions and baseline counts from a training sample of `version`.

    Numeric features get `buckets` quantile buckets (open-ended at both ends) plus missing;
    categorical ones a bucket per category plus "other" and missing. A second upload replaces
    the first (a new revision: observations of the old one are no longer compared). Re-runs
    the version's checklist (the `monitoring` item) after commit.
    """
    require(actor, "change", version.model.tenant_id, what="version")
    _check_sizes(features, predictions)
    if not features:
        raise ValidationFailed([("features", DriftErrorCode.EMPTY, "A baseline needs at least one feature.")])
    if not 2 <= int(buckets) <= 50:
        raise ValidationFailed([("buckets", "invalid", "Between 2 and 50 buckets.")])
    errors: list = []
    specs: dict[str, dict] = {}
    for name, values in features.items():
        column = _infer(values, f"features.{name}", errors)
        if column is not None:
            specs[name] = _spec(column, buckets)
    prediction = None
    if predictions:
        column = _infer(predictions, "predictions", errors)
        if column is not None:
            prediction = _spec(column, buckets)
    if errors:
        raise ValidationFailed(errors)
    rows = max([len(v) for v in features.values()] + [len(predictions or [])])
    with transaction.atomic():
        existing = Baseline.objects.select_for_update().filter(version=version).first()
        if existing is None:
            baseline = Baseline.objects.create(version=version, features=specs, prediction=prediction, rows=rows,
                                               source=source, created_by=actor if _person(actor) else None)
        else:
            baseline = existing
            baseline.revision += 1
            baseline.features, baseline.prediction, baseline.rows, baseline.source = specs, prediction, rows, source
            baseline.created_by = actor if _person(actor) else None
            baseline.save()
        audit.record("drift.baseline_uploaded", actor=actor, tenant=version.model.tenant_id, obj=baseline,
                     object_repr=f"drift baseline of {version}",
                     after={"revision": baseline.revision, "rows": rows, "features": sorted(specs),
                            "predictions": prediction is not None, "buckets": buckets})
        transaction.on_commit(lambda: _evaluate_checklist(version.pk))
    return baseline


def _person(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _evaluate_checklist(version_id: int) -> None:
    from worker.tasks import evaluate_checklist

    evaluate_checklist.delay(version_id)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def record_observations(version: ModelVersion, *, actor, features: dict, predictions: list | None = None,
                        at: datetime | None = None) -> ObservationWindow:
    """Add a batch of production samples to the version's counts for the current hour.

    Every posted feature must be in the baseline, with values of its kind (numbers or null
    for a numeric feature). Nothing is stored when anything is wrong.
    """
    require(actor, "change", version.model.tenant_id, what="version")
    _check_sizes(features, predictions)
    baseline = Baseline.objects.filter(version=version).first()
    if baseline is None:
        raise Conflict(f"{version} has no drift baseline yet; POST /api/v1/drift/baselines/ first.",
                       code=DriftErrorCode.NO_BASELINE, field="version")
    if not features and not predictions:
        raise ValidationFailed([("features", DriftErrorCode.EMPTY, "Post at least one feature or the predictions.")])
    errors: list = []
    unknown = sorted(str(name) for name in features if name not in baseline.features)
    for name in unknown[:20]:
        errors.append((f"features.{name[:40]}", DriftErrorCode.UNKNOWN_FEATURE,
                       f"'{name[:40]}' is not a feature of the baseline of {version} (known: "
                       + ", ".join(sorted(baseline.features)[:20]) + ")."))
    counts: dict[str, list[int]] = {}
    for name, values in features.items():
        if name in baseline.features:
            counted = _count(baseline.features[name], values, f"features.{name}", errors)
            if counted is not None:
                counts[name] = counted
    prediction_counts = None
    if predictions:
        if baseline.prediction is None:
            errors.append(("predictions", DriftErrorCode.UNKNOWN_FEATURE,
                           "The baseline has no predictions; upload one with predictions to compare them."))
        else:
            prediction_counts = _count(baseline.prediction, predictions, "predictions", errors)
    if errors:
        raise ValidationFailed(errors)
    rows = max([len(v) for v in features.values()] + [len(predictions or [])])
    start = hour_of(at or timezone.now())
    with transaction.atomic():
        window, _ = ObservationWindow.objects.select_for_update().get_or_create(
            version=version, baseline_revision=baseline.revision, window_start=start)
        merged = dict(window.counts)
        for name, values in counts.items():
            merged[name] = _add(merged.get(name), values)
        window.counts = merged
        if prediction_counts is not None:
            window.prediction_counts = _add(window.prediction_counts, prediction_counts)
        window.rows += rows
        window.batches += 1
        window.save()
        audit.record("drift.observations_recorded", actor=actor, tenant=version.model.tenant_id, obj=window,
                     object_repr=f"observations of {version}",
                     after={"rows": rows, "features": sorted(counts), "predictions": prediction_counts is not None,
                            "window_start": start})
    return window


# --- policy ------------------------------------------------------------------------------

def policy_for(model: Model) -> DriftPolicy:
    """The model's policy, or an unsaved one with the defaults."""
    return DriftPolicy.objects.filter(model=model).first() or DriftPolicy(model=model)


POLICY_FIELDS = ("action", "low_threshold", "medium_threshold", "high_threshold", "window_hours", "min_rows")


def update_policy(model: Model, *, actor, **fields) -> DriftPolicy:
    """Change a model's drift policy (thresholds, action, window); audited with before/after."""
    from django.core.exceptions import ValidationError

    require(actor, "change", model.tenant_id, what="model")
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationFailed([(name, "unknown_field", "This field cannot be set.") for name in sorted(unknown)])
    with transaction.atomic():
        policy = DriftPolicy.objects.select_for_update().filter(model=model).first() or DriftPolicy(model=model)
        before = {name: getattr(policy, name) for name in POLICY_FIELDS}
        for name, value in fields.items():
            setattr(policy, name, value)
        if policy.action not in PolicyAction.values:
            raise ValidationFailed([("action", "invalid_choice", "Use 'notify' or 'rollback'.")])
        try:
            policy.clean()
        except ValidationError as exc:
            raise ValidationFailed([(field, DriftErrorCode.THRESHOLDS, message)
                                    for field, messages in exc.message_dict.items() for message in messages]) from None
        policy.updated_by = actor if _person(actor) else None
        policy.save()
        after = {name: getattr(policy, name) for name in POLICY_FIELDS}
        audit.record("drift.policy_updated", actor=actor, tenant=model.tenant_id, obj=policy,
                     before=before, after=after)
    return policy


# --- reports -----------------------------------------------------------------------------

def compute_report(version: ModelVersion, *, actor=None, trigger: str = Trigger.SCHEDULE,
                   now: datetime | None = None) -> DriftReport | None:
    """PSI of the version's last window against its baseline; stores the report and acts on it.

    The window is the current hour so far plus the `window_hours` full hours before it. With
    fewer than the policy's `min_rows` observed rows there is nothing to judge: a scheduled run
    returns None, an on-demand one answers 409 saying so. Reports of one version are computed
    one at a time (the baseline row is locked), so two racing runs cannot both act.
    """
    require(actor, "change", version.model.tenant_id, what="version")
    now = now or timezone.now()
    model = version.model
    policy = policy_for(model)
    since = hour_of(now) - timedelta(hours=policy.window_hours)
    with transaction.atomic():
        baseline = Baseline.objects.select_for_update().filter(version=version).first()
        if baseline is None:
            raise Conflict(f"{version} has no drift baseline; upload one first.", code=DriftErrorCode.NO_BASELINE,
                           field="version")
        windows = list(ObservationWindow.objects.filter(version=version, baseline_revision=baseline.revision,
                                                        window_start__gte=since, window_start__lte=now))
        rows = sum(w.rows for w in windows)
        if rows < max(1, policy.min_rows):
            if trigger == Trigger.MANUAL:
                raise Conflict(f"Only {rows} observed row(s) of {version} since {since:%Y-%m-%d %H:%M} UTC; a report "
                               f"needs at least {max(1, policy.min_rows)}. POST /api/v1/drift/observations/ first.",
                               code=DriftErrorCode.NO_OBSERVATIONS, field="version")
            return None
        current: dict[str, list[int]] = {}
        prediction_current = None
        for window in windows:
            for name, counts in window.counts.items():
                current[name] = _add(current.get(name), counts)
            if window.prediction_counts:
                prediction_current = _add(prediction_current, window.prediction_counts)
        values = {name: psimath.psi(np.asarray(baseline.features[name]["counts"]), np.asarray(counts))
                  for name, counts in current.items() if name in baseline.features}
        prediction_psi = None
        if prediction_current is not None and baseline.prediction is not None:
            prediction_psi = psimath.psi(np.asarray(baseline.prediction["counts"]), np.asarray(prediction_current))
            current[PREDICTION] = prediction_current
        signals = dict(values)
        if prediction_psi is not None:
            signals["prediction"] = prediction_psi
        top = max(signals, key=signals.get) if signals else ""
        max_psi = float(signals[top]) if top else 0.0
        thresholds = policy.thresholds
        level = psimath.severity(max_psi, thresholds)
        report = DriftReport.objects.create(
            model=model, version=version, baseline_revision=baseline.revision, trigger=trigger,
            window_start=since, window_end=now, rows=rows, psi={k: round(v, 12) for k, v in values.items()},
            prediction_psi=prediction_psi, max_psi=max_psi, top_feature=top, severity=level,
            thresholds={"low": thresholds.low, "medium": thresholds.medium, "high": thresholds.high,
                        "action": policy.action, "window_hours": policy.window_hours},
            current=current, requested_by=actor if _person(actor) else None)
        audit.record("drift.report_computed", actor=actor, tenant=model.tenant_id, obj=report,
                     object_repr=f"drift report of {version}",
                     after={"severity": level, "max_psi": round(max_psi, 6), "top_feature": top, "rows": rows,
                            "trigger": trigger})
        _act(report, policy)
    return report


def _act(report: DriftReport, policy: DriftPolicy) -> None:
    """Low → logged; medium → alert; high → alert and, under a rollback policy, roll back."""
    summary = (f"{report.version}: PSI {report.max_psi:.3f} on {report.top_feature or '—'} "
               f"({report.severity}) over {report.rows} rows")
    if report.severity == Severity.LOW:
        log.info("drift low: %s", summary)
        DriftAction.objects.create(report=report, kind=ActionKind.LOGGED, message=f"Logged: {summary}.")
        return
    if report.severity not in DRIFTING:
        return
    _alert(report, summary)
    if report.severity == Severity.HIGH and policy.action == PolicyAction.ROLLBACK:
        _rollback_live(report, summary)


def _alert(report: DriftReport, summary: str) -> None:
    """Tell the team. Webhook delivery belongs to apps.notifications (issue 6): when that app is
    installed its `notify_drift(report_id)` is called after commit; until then the alert is
    recorded here and in the audit log, and shown on the dashboard and drift pages."""
    from django.apps import apps

    tenant = report.model.tenant
    notifier = None
    if apps.is_installed("apps.notifications"):
        from apps.notifications import services as notifications  # type: ignore[import-not-found]

        notifier = getattr(notifications, "notify_drift", None)
    if notifier is not None:
        transaction.on_commit(lambda: notifier(report.pk))
        DriftAction.objects.create(report=report, kind=ActionKind.NOTIFIED,
                                   message=f"Team {tenant.slug} notified: {summary}.")
    else:
        destination = "its webhook" if tenant.webhook_url else "no webhook set"
        DriftAction.objects.create(report=report, kind=ActionKind.ALERTED,
                                   message=f"Alert for team {tenant.slug} ({destination}; webhook delivery arrives "
                                           f"with notifications): {summary}.")
    audit.record(f"drift.alert_{report.severity}", actor=None, tenant=tenant.pk, obj=report,
                 object_repr=f"drift alert for {report.version}",
                 after={"severity": report.severity, "max_psi": round(report.max_psi, 6),
                        "top_feature": report.top_feature})


def _rollback_live(report: DriftReport, summary: str) -> None:
    """Restore the previous live version wherever this version is live in production — once."""
    from apps.deployments import services as deployments
    from apps.deployments.choices import DeploymentStatus
    from apps.deployments.models import Deployment

    live = Deployment.objects.filter(version=report.version, status=DeploymentStatus.LIVE,
                                     environment__requires_approval=True).select_related("environment")
    for deployment in live:
        if DriftAction.objects.filter(deployment=deployment, kind=ActionKind.ROLLED_BACK).exists():
            continue
        reason = f"Drift report #{report.pk}: {summary} > high threshold {report.thresholds.get('high')}."
        try:
            with transaction.atomic():  # a savepoint: a refused rollback leaves the report standing
                deployments.rollback(deployment, actor=None, reason=reason)
                DriftAction.objects.create(report=report, kind=ActionKind.ROLLED_BACK, deployment=deployment,
                                           message=f"Rolled back deployment #{deployment.pk} in "
                                                   f"{deployment.environment.name}; the previous live version is "
                                                   "restored.")
        except (DomainError, InvalidTransition) as exc:
            DriftAction.objects.create(report=report, kind=ActionKind.ROLLBACK_FAILED, deployment=None,
                                       message=f"Could not roll back deployment #{deployment.pk}: {exc.message}")


def acknowledge(report: DriftReport, *, actor, note: str = "") -> DriftReport:
    """A person has seen a drifting report: the version may be requested for production again."""
    require(actor, "change", report.model.tenant_id, what="drift report")
    note = (note or "").strip()
    if "\x00" in note or len(note) > 2000:
        raise ValidationFailed([("note", "invalid", "At most 2000 characters, no NUL.")])
    with transaction.atomic():
        locked = DriftReport.objects.select_for_update().select_related("model", "version").get(pk=report.pk)
        if not locked.is_drifting:
            raise InvalidTransition(f"Report #{locked.pk} is {locked.severity}: only medium or high drift needs "
                                    "acknowledging.", field="report")
        if locked.acknowledged_at is not None:
            raise InvalidTransition(f"Report #{locked.pk} was acknowledged already.", field="report")
        locked.acknowledged_by = actor if _person(actor) else None
        locked.acknowledged_at = timezone.now()
        locked.acknowledge_note = note
        locked.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledge_note"])
        label = actor.get_username() if _person(actor) else "system"
        DriftAction.objects.create(report=locked, kind=ActionKind.ACKNOWLEDGED, actor_label=label,
                                   message=f"Acknowledged by {label}" + (f": {note}" if note else "."))
        audit.record("drift.acknowledged", actor=actor, tenant=locked.model.tenant_id, obj=locked,
                     object_repr=f"drift report #{locked.pk} of {locked.version}", after={"note": note})
    return locked


# --- reading and gates ------------------------------------------------------------------

def latest_report(version: ModelVersion) -> DriftReport | None:
    return DriftReport.objects.filter(version=version).order_by("-created_at", "-id").first()


def blocking_report(version: ModelVersion) -> DriftReport | None:
    """The version's latest report when it is drifting and nobody acknowledged it."""
    report = latest_report(version)
    return report if report is not None and report.needs_acknowledgement else None


def check_rollout_allowed(version: ModelVersion, environment) -> None:
    """Hook for deployments.request_deployment: refuse a production request of a drifting version."""
    if not getattr(environment, "requires_approval", False):
        return
    report = blocking_report(version)
    if report is not None:
        raise Conflict(f"v{version.version} is drifting ({report.severity}: PSI {report.max_psi:.3f} on "
                       f"{report.top_feature}, report #{report.pk}); a person must acknowledge the drift on the "
                       "model's drift page before a new production rollout.",
                       code=DriftErrorCode.DRIFT_UNACKNOWLEDGED, field="version")


def live_version_ids() -> list[int]:
    """Versions live in any environment that have a baseline: what the hourly run reports on."""
    from apps.deployments.choices import DeploymentStatus
    from apps.deployments.models import Deployment

    live = Deployment.objects.filter(status=DeploymentStatus.LIVE).values_list("version_id", flat=True)
    return list(Baseline.objects.filter(version_id__in=live).order_by("version_id")
                .values_list("version_id", flat=True))


def get_version(user, pk, *, field: str = "version") -> ModelVersion:
    """A version the user may see, by id from a request body (404 naming the field otherwise)."""
    if isinstance(pk, bool) or not isinstance(pk, int | str):
        raise ValidationFailed([(field, "invalid", "A version id (integer).")])
    try:
        pk = int(pk)
    except ValueError:
        raise ValidationFailed([(field, "invalid", "A version id (integer).")]) from None
    if pk <= 0 or pk > 2**62:
        raise NotFound("No such version.", field=field)
    version = ModelVersion.objects.for_user(user, "view").select_related("model__tenant").filter(pk=pk).first()
    if version is None:
        raise NotFound("No such version.", field=field)
    return version
