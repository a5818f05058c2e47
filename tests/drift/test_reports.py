"""Reports and what they trigger: severity actions, rollback exactly once, the acknowledgement gate,
the monitoring checklist item and the hourly task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import Conflict, NotFound, NotPermitted
from apps.core.models import AuditEvent
from apps.deployments import services as deployments
from apps.deployments.choices import DeploymentStatus
from apps.deployments.models import Deployment
from apps.drift import services
from apps.drift.choices import ActionKind
from apps.drift.models import DriftAction, DriftReport, ObservationWindow
from apps.readiness.services import evaluate, get_item
from tests.drift.conftest import make_deployment, sample
from worker import tasks

pytestmark = pytest.mark.django_db


def observe(version, actor, *, shift: float, rows: int = 1000, seed: int = 5, **kw):
    data = sample(rows, shift=shift, seed=seed, **kw)
    return services.record_observations(version, actor=actor, features=data["features"],
                                        predictions=data["predictions"])


def test_no_drift_takes_no_action(ada, v2, baseline):
    observe(v2, ada, shift=0.0, rows=3000, seed=12)
    report = services.compute_report(v2, actor=ada, trigger="manual")
    assert report.severity == "none" and report.max_psi < 0.1
    assert not report.actions.exists()


def test_low_drift_is_logged(ada, v2, baseline):
    services.update_policy(v2.model, actor=ada, low_threshold=0.001, medium_threshold=5, high_threshold=6)
    observe(v2, ada, shift=0.05, rows=3000)
    report = services.compute_report(v2, actor=ada, trigger="manual")
    assert report.severity == "low"
    assert list(report.actions.values_list("kind", flat=True)) == [ActionKind.LOGGED]


def test_medium_drift_alerts_the_team_and_is_audited(ada, v2, baseline, recsys):
    recsys.webhook_url = "https://hooks.example.com/recsys"
    recsys.save()
    services.update_policy(v2.model, actor=ada, low_threshold=0.001, medium_threshold=0.002, high_threshold=9)
    observe(v2, ada, shift=0.3)
    report = services.compute_report(v2, actor=ada, trigger="manual")
    assert report.severity == "medium"
    action = report.actions.get()
    assert action.kind == ActionKind.NOTIFIED and "recsys" in action.message
    assert AuditEvent.objects.filter(action="drift.alert_medium", tenant=recsys).count() == 1


def test_severity_follows_the_models_thresholds_exactly(ada, v2, baseline):
    observe(v2, ada, shift=0.4)
    first = services.compute_report(v2, actor=ada, trigger="manual")
    psi = first.max_psi
    # The same data judged with thresholds placed exactly at its PSI: ≥ medium is medium, = high is still medium.
    services.update_policy(v2.model, actor=ada, low_threshold=psi / 2, medium_threshold=psi, high_threshold=psi)
    assert services.compute_report(v2, actor=ada, trigger="manual").severity == "medium"
    services.update_policy(v2.model, actor=ada, low_threshold=psi / 3, medium_threshold=psi / 2,
                           high_threshold=psi * 0.999)
    assert services.compute_report(v2, actor=ada, trigger="manual").severity == "high"
    services.update_policy(v2.model, actor=ada, low_threshold=psi, medium_threshold=psi * 2, high_threshold=psi * 3)
    assert services.compute_report(v2, actor=ada, trigger="manual").severity == "low"


def test_high_drift_with_rollback_policy_rolls_back_exactly_once(ada, v1, v2, baseline, production_live,
                                                                 reconcile_spy, django_capture_on_commit_callbacks):
    old, new = production_live
    services.update_policy(v2.model, actor=ada, action="rollback")
    observe(v2, ada, shift=2.0)
    # The hourly task runs twice (a retry, or two beats by mistake).
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.compute_drift_report.delay(v2.pk).get() == "high"
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.compute_drift_report.delay(v2.pk).get() == "high"
    new.refresh_from_db()
    old.refresh_from_db()
    assert (new.status, old.status) == (DeploymentStatus.ROLLED_BACK, DeploymentStatus.LIVE)
    assert deployments.live_version(v2.model, "production") == v1
    rollbacks = DriftAction.objects.filter(kind=ActionKind.ROLLED_BACK)
    assert rollbacks.count() == 1 and rollbacks.get().deployment == new
    first_report = rollbacks.get().report
    assert f"Drift report #{first_report.pk}" in new.status_reason   # the report is the recorded reason
    assert AuditEvent.objects.filter(action="deployment.rolled_back", object_id=str(new.pk)).count() == 1
    assert DriftReport.objects.filter(version=v2).count() == 2
    assert reconcile_spy == [new.rollout.pk]                         # one reconcile enqueued, once


def test_a_rollback_already_recorded_is_not_repeated(ada, v2, baseline, production_live):
    """Belt and braces: even if the deployment were live again, a drift rollback happens once."""
    old, new = production_live
    services.update_policy(v2.model, actor=ada, action="rollback")
    observe(v2, ada, shift=2.0)
    services.compute_report(v2, actor=None)
    Deployment.objects.filter(pk=new.pk).update(status=DeploymentStatus.LIVE)
    Deployment.objects.filter(pk=old.pk).update(status=DeploymentStatus.SUPERSEDED)
    services.compute_report(v2, actor=None)
    assert DriftAction.objects.filter(kind=ActionKind.ROLLED_BACK).count() == 1
    assert Deployment.objects.get(pk=new.pk).status == DeploymentStatus.LIVE


def test_high_drift_with_notify_policy_does_not_roll_back(ada, v2, baseline, production_live):
    old, new = production_live
    observe(v2, ada, shift=2.0)
    report = services.compute_report(v2, actor=None)
    assert report.severity == "high"
    assert list(report.actions.values_list("kind", flat=True)) == [ActionKind.NOTIFIED]
    new.refresh_from_db()
    assert new.status == DeploymentStatus.LIVE


def test_rollback_without_a_previous_version_is_recorded_not_raised(ada, v2, baseline):
    only = make_deployment(v2, "production", DeploymentStatus.LIVE)
    services.update_policy(v2.model, actor=ada, action="rollback")
    observe(v2, ada, shift=2.0)
    report = services.compute_report(v2, actor=None)
    kinds = set(report.actions.values_list("kind", flat=True))
    assert kinds == {ActionKind.NOTIFIED, ActionKind.ROLLBACK_FAILED}
    only.refresh_from_db()
    assert only.status == DeploymentStatus.LIVE


def test_drifting_version_needs_acknowledgement_before_production(ada, v2, baseline, recsys):
    from apps.readiness.choices import ItemStatus

    v2.checklist.update(status=ItemStatus.PASS)
    config = {"instance_type": "g5.xlarge", "min_replicas": 1, "soak_seconds": 120}
    observe(v2, ada, shift=2.0)
    report = services.compute_report(v2, actor=ada, trigger="manual")
    with pytest.raises(Conflict) as refused:
        deployments.request_deployment(v2, environment="production", config=config, actor=ada)
    assert refused.value.code == "drift_unacknowledged" and refused.value.field == "version"
    assert not Deployment.objects.filter(version=v2).exists()
    # Staging is not gated: trying a fix there is how a team investigates.
    staging = deployments.request_deployment(v2, environment="staging", config=config, actor=ada)
    deployments.abort(staging, actor=ada)
    services.acknowledge(report, actor=ada, note="seasonal shift, retraining scheduled")
    requested = deployments.request_deployment(v2, environment="production", config=config, actor=ada)
    assert requested.status == DeploymentStatus.PENDING_APPROVAL


def test_acknowledge_rules(ada, vera, grace, v2, baseline):
    observe(v2, ada, shift=0.0, rows=2000, seed=13)
    calm = services.compute_report(v2, actor=ada, trigger="manual")
    with pytest.raises(Conflict):
        services.acknowledge(calm, actor=ada)
    observe(v2, ada, shift=2.0)
    drifting = services.compute_report(v2, actor=ada, trigger="manual")
    with pytest.raises(NotPermitted):
        services.acknowledge(drifting, actor=vera)
    with pytest.raises(NotFound):
        services.acknowledge(drifting, actor=grace)
    services.acknowledge(drifting, actor=ada, note="ok")
    assert AuditEvent.objects.filter(action="drift.acknowledged").count() == 1


def test_categorical_new_category_drifts(ada, v2, baseline):
    observe(v2, ada, shift=0.0, rows=2000, seed=14, new_country=True)
    report = services.compute_report(v2, actor=ada, trigger="manual")
    assert report.top_feature == "country" and report.psi["country"] > 0.25
    assert report.current["country"][-2] == 1000     # "br" landed in "other"


def test_window_covers_recent_hours_only(ada, v2, baseline):
    observe(v2, ada, shift=2.0)
    ObservationWindow.objects.filter(version=v2).update(window_start=timezone.now() - timedelta(hours=5))
    with pytest.raises(Conflict):
        services.compute_report(v2, actor=ada, trigger="manual")
    assert services.compute_report(v2, actor=None) is None   # the hourly run just skips


def test_new_baseline_revision_ignores_old_observations(ada, v2, baseline):
    observe(v2, ada, shift=2.0)
    data = sample(1000, seed=21)
    services.upload_baseline(v2, actor=ada, features=data["features"], predictions=data["predictions"])
    with pytest.raises(Conflict):
        services.compute_report(v2, actor=ada, trigger="manual")


def test_monitoring_item_needs_a_baseline_and_a_webhook(ada, v2, recsys, django_capture_on_commit_callbacks):
    evaluate(v2)
    item = get_item(v2, "monitoring")
    assert item.status == "fail" and "no drift baseline" in item.detail and "webhook" in item.detail
    data = sample(300)
    with django_capture_on_commit_callbacks(execute=True):
        services.upload_baseline(v2, actor=ada, features=data["features"], predictions=data["predictions"])
    item.refresh_from_db()
    assert item.status == "fail" and "no drift baseline" not in item.detail   # re-evaluated on commit
    recsys.webhook_url = "https://hooks.example.com/recsys"
    recsys.save()
    evaluate(v2)
    item.refresh_from_db()
    assert item.status == "pass"


def test_hourly_task_reports_on_live_versions_only(ada, v1, v2, baseline, production_live):
    data = sample(300, seed=3)
    services.upload_baseline(v1, actor=ada, features=data["features"])     # v1 is superseded: not live
    observe(v2, ada, shift=0.0, seed=16)
    assert services.live_version_ids() == [v2.pk]
    assert tasks.compute_drift_reports.delay().get() == 1
    assert DriftReport.objects.filter(version=v2, trigger="schedule").count() == 1
    assert not DriftReport.objects.filter(version=v1).exists()
