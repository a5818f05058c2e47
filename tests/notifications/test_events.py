"""Every event a team can be told about reaches its webhook once, signed, with the right payload."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from apps.costs.models import BudgetAlert, CostAnomaly
from apps.deployments import services as deployments
from apps.notifications import services
from apps.notifications.choices import DEPLOYMENT_EVENTS, SUBSCRIBABLE, DeliveryStatus
from apps.notifications.models import Delivery
from apps.readiness.services import ensure_items
from apps.registry.models import ModelVersion
from tests import factories
from tests.security.routes_api import WALKER_CONFIG

pytestmark = pytest.mark.django_db


@pytest.fixture
def ranker(recsys):
    return factories.model(recsys, "ranker", description="Ranks the home feed.")


@pytest.fixture
def version(ranker):
    made = ModelVersion.objects.create(model=ranker, version=3, mlflow_run_id="r" * 32,
                                       artifact_digest="sha256:" + "0" * 64)
    ensure_items(made)
    return made


@pytest.fixture
def deployment(version, ada):
    return deployments.request_deployment(version, environment="staging", config=WALKER_CONFIG, actor=ada)


def test_a_staging_request_notifies_queued_through_the_deployment_service(
        hook, receiver, version, ada, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deployment = deployments.request_deployment(version, environment="staging", config=WALKER_CONFIG, actor=ada)
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.verified is True
    assert got.headers["X-Slipway-Event"] == "queued"
    delivery = Delivery.objects.get()
    assert got.headers["X-Slipway-Delivery"] == str(delivery.pk)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.last_status_code == 200
    body = got.json
    assert body["slipway"]["deployment"] == deployment.pk
    assert body["slipway"]["model"] == "ranker" and body["slipway"]["version"] == 3
    assert body["slipway"]["tenant"] == "recsys" and body["slipway"]["environment"] == "staging"
    assert body["slipway"]["url"].endswith(f"/deployments/{deployment.pk}/")


@pytest.mark.parametrize("event", sorted(DEPLOYMENT_EVENTS))
def test_each_deployment_event_is_one_signed_delivery_with_its_payload(
        event, hook, receiver, deployment, django_capture_on_commit_callbacks):
    deployment.status_reason = "canary error rate 7.1% > 5%"
    deployment.save(update_fields=["status_reason"])
    with django_capture_on_commit_callbacks(execute=True):
        created = services.notify_deployment(deployment.pk, event)
    assert len(created) == 1 and len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.verified is True and got.headers["X-Slipway-Event"] == event
    body = got.json
    # Slack-compatible: text and blocks; plus the structured object.
    assert isinstance(body["text"], str) and "ranker v3" in body["text"]
    assert body["blocks"][0]["type"] == "section" and "ranker v3" in body["blocks"][0]["text"]["text"]
    assert body["slipway"] | {"occurred_at": None} == {
        "event": event, "tenant": "recsys", "model": "ranker", "version": 3, "deployment": deployment.pk,
        "environment": "staging", "status": deployment.status, "reason": "canary error rate 7.1% > 5%",
        "requested_by": "ada", "url": f"http://127.0.0.1:8000/deployments/{deployment.pk}/", "occurred_at": None}
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED


def test_medium_and_high_drift_notify_once(hook, receiver, recsys, ada, version, django_capture_on_commit_callbacks):
    from apps.drift import services as drift

    values = [float(i % 50) for i in range(500)]
    drift.upload_baseline(version, actor=ada, features={"x": values})
    drift.record_observations(version, actor=ada, features={"x": [v + 100 for v in values]})
    with django_capture_on_commit_callbacks(execute=True):
        report = drift.compute_report(version, actor=ada, trigger="manual")
    assert report.severity == "high"
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.verified and got.headers["X-Slipway-Event"] == "drift_high"
    data = got.json["slipway"]
    assert data["report"] == report.pk and data["model"] == "ranker" and data["status"] == "high"
    assert data["top_feature"] == "x" and data["url"].endswith(f"/drift/models/{version.model_id}/")
    # Medium drift is sent as its own event; low and none are never sent.
    report.severity = "medium"
    report.save(update_fields=["severity"])
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_drift(report.pk)
    assert receiver.requests[-1].headers["X-Slipway-Event"] == "drift_medium"
    report.severity = "low"
    report.save(update_fields=["severity"])
    assert services.notify_drift(report.pk) == []
    assert len(receiver.requests) == 2


def test_cost_anomaly_and_budget_threshold_through_the_costs_hook(hook, receiver, recsys, ranker,
                                                                  django_capture_on_commit_callbacks):
    from apps.costs import services as costs

    anomaly = CostAnomaly.objects.create(tenant=recsys, model=ranker, day=date(2026, 3, 4), usd=Decimal("130.00"),
                                         baseline_usd=Decimal("100.00"), history_days=7, increase=0.3)
    alert = BudgetAlert.objects.create(tenant=recsys, month=date(2026, 3, 1), threshold=80,
                                       mtd_usd=Decimal("8100.00"), budget_usd=Decimal("10000.00"),
                                       forecast_usd=Decimal("11500.00"))
    # The costs app hands events over with `_notify(event, obj)` → notifications.notify_cost(event, id).
    with django_capture_on_commit_callbacks(execute=True):
        costs._notify("cost_anomaly", anomaly)
        costs._notify("budget_threshold", alert)
    events = [r.headers["X-Slipway-Event"] for r in receiver.requests]
    assert events == ["cost_anomaly", "budget_threshold"]
    assert all(r.verified for r in receiver.requests)
    first, second = (r.json["slipway"] for r in receiver.requests)
    assert first["anomaly"] == anomaly.pk and first["usd"] == "130.00" and first["day"] == "2026-03-04"
    assert first["model"] == "ranker" and first["url"].endswith(f"/costs/models/{ranker.pk}/")
    assert second["threshold"] == 80 and second["month"] == "2026-03" and second["mtd_usd"] == "8100.00"
    assert "80 %" in receiver.requests[1].json["text"]


def test_only_subscribed_enabled_destinations_of_the_team_receive(hook, receiver, recsys, search, ada, grace,
                                                                    deployment, django_capture_on_commit_callbacks):
    # grace's team has its own destination; recsys's events never reach it.
    other, _ = services.create_destination(search, actor=grace, name="search-hook", url=receiver.url + "?team=search")
    quiet, _ = services.create_destination(recsys, actor=ada, name="only-live", url=receiver.url + "?only=live",
                                           events=["live"])
    off, _ = services.create_destination(recsys, actor=ada, name="off", url=receiver.url + "?off", enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_deployment(deployment.pk, "rolled_back")
    assert [r.path for r in receiver.requests] == ["/hooks/slipway"]
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_deployment(deployment.pk, "live")
    assert sorted(r.path for r in receiver.requests[1:]) == ["/hooks/slipway", "/hooks/slipway?only=live"]
    assert not Delivery.objects.filter(destination__in=[other, off]).exists()


def test_the_team_webhook_url_setting_becomes_a_destination(recsys, receiver, deployment,
                                                             django_capture_on_commit_callbacks):
    recsys.webhook_url = receiver.url
    recsys.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_deployment(deployment.pk, "live")
        services.notify_deployment(deployment.pk, "rolled_back")
    assert [r.headers["X-Slipway-Event"] for r in receiver.requests] == ["live", "rolled_back"]
    adopted = recsys.notification_destinations.get()
    assert adopted.url == receiver.url and adopted.events == SUBSCRIBABLE and adopted.secret


def test_a_broken_hook_never_raises_into_the_caller(recsys, deployment):
    assert services.notify_deployment(deployment.pk, "no-such-event") == []
    assert services.notify_deployment(10**9, "live") == []
    assert services.notify_drift(10**9) == []
    assert services.notify_cost("what", 1) == []
