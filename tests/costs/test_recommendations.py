"""Savings advice: each rule, its estimated monthly saving and the figures it is based on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta  # noqa: F401
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.costs.models import CostRecord
from apps.costs.recommendations import recommend
from tests.api.conftest import JsonClient
from tests.costs.conftest import deploy, record

pytestmark = pytest.mark.django_db


def hours(deployment, n: int, *, usd: str, replica_hours: str, requests, util, offset: int = 0):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for i in range(1 + offset, n + 1 + offset):
        at = now - timedelta(hours=i)
        record(deployment.model, at.date(), usd, environment=deployment.environment.name, deployment=deployment,
               hour=at.hour, requests=requests, gpu_utilization=util, replica_hours=replica_hours)


def live(version, environment, **cfg):
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return deploy(version, environment, transitions=[(t, "progressing"), (t, "live")], **cfg)


def test_right_size_when_gpus_idle(v1):
    d = live(v1, "production", min_replicas=4, spot_percent=50)
    # 4 replicas at 20 % → ceil(4 × 0.2 / 0.6) = 2 replicas; $3.00 per hour for 4 replicas = $0.75 a replica-hour
    hours(d, 24, usd="3.00", replica_hours="4", requests=50_000, util=0.2)
    advice = {r.kind: r for r in recommend(CostRecord.objects.all())}
    r = advice["right_size"]
    assert r.figures["suggested_replicas"] == 2 and r.figures["gpu_utilization"] == 0.2
    assert r.monthly_savings_usd == Decimal("1095.00")  # 2 replicas × $0.75 × 730 h
    assert "batch_requests" not in advice and "raise_spot" not in advice


def test_right_size_a_single_replica_to_a_cheaper_gpu(v1):
    d = live(v1, "production", min_replicas=1, spot_percent=50)
    hours(d, 24, usd="0.7042", replica_hours="1", requests=10_000, util=0.1)
    r = next(r for r in recommend(CostRecord.objects.all()) if r.kind == "right_size")
    # The cheapest one-GPU type with at least 16 GiB of GPU memory: a T4 (g4dn.xlarge)
    assert r.figures["suggested_instance"] == "g4dn.xlarge" and r.monthly_savings_usd > 0


def test_idle_staging_scales_to_zero(v1):
    d = live(v1, "staging", min_replicas=1, spot_percent=100)
    hours(d, 18, usd="0.4024", replica_hours="1", requests=0, util=0.0)
    hours_busy = CostRecord.objects.filter(deployment=d).order_by("hour")[:6]
    CostRecord.objects.filter(pk__in=[r.pk for r in hours_busy]).update(requests=500)
    r = next(r for r in recommend(CostRecord.objects.all()) if r.kind == "staging_to_zero")
    assert (r.figures["idle_hours"], r.figures["measured_hours"]) == (12, 18)
    # monthly cost 0.4024 × 730 = 293.752; two thirds idle → 195.83
    assert r.monthly_savings_usd == Decimal("195.83")


def test_raise_spot_share_names_both_rates(v1):
    d = live(v1, "production", min_replicas=2, spot_percent=0)
    hours(d, 12, usd="2.012", replica_hours="2", requests=100_000, util=0.7)
    r = next(r for r in recommend(CostRecord.objects.all()) if r.kind == "raise_spot")
    # 2 instance-hours/h × 730 = 1460 h × (1.0060 − 0.4024) × 50 % = 440.63
    assert r.monthly_savings_usd == Decimal("440.63")
    assert r.figures["on_demand_usd_hour"] == "1.0060" and r.figures["suggested_spot_percent"] == 50


def test_batch_requests_for_busy_multi_replica_gpus(v1):
    d = live(v1, "production", min_replicas=3, spot_percent=50)
    hours(d, 12, usd="2.1126", replica_hours="3", requests=200_000, util=0.8)
    r = next(r for r in recommend(CostRecord.objects.all()) if r.kind == "batch_requests")
    assert r.figures["suggested_replicas"] == 2 and r.figures["assumed_batching_gain"] == 1.5


def test_not_enough_hours_no_advice_and_advice_is_tenant_scoped(v1, ada, grace):
    d = live(v1, "production", min_replicas=4)
    hours(d, 3, usd="4.024", replica_hours="4", requests=0, util=0.1)
    assert recommend(CostRecord.objects.all()) == []
    hours(d, 10, usd="4.024", replica_hours="4", requests=10, util=0.1, offset=3)
    assert JsonClient(ada).get("/api/v1/costs/recommendations/").json()
    assert JsonClient(grace).get("/api/v1/costs/recommendations/").json() == []
