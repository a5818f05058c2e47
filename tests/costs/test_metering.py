"""Metering arithmetic against hand-computed cases, idempotent reruns, backfill, usage readers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.costs import metering, services
from apps.costs.models import CostRecord
from apps.costs.usage import FixedUsage, MetricsUsage
from tests.costs.conftest import H10, deploy

pytestmark = pytest.mark.django_db

M = timedelta(minutes=1)
TRAFFIC = FixedUsage(36_000, 0.4)


def meter(hour=H10, usage=TRAFFIC, now=None):
    return services.meter_hour(hour, usage=usage, now=now or H10 + timedelta(days=1))


def row(deployment, hour=H10) -> CostRecord:
    return CostRecord.objects.get(deployment=deployment, hour=hour)


def test_full_hour_on_demand_two_replicas(v1):
    # g5.xlarge on demand $1.0060/h; 2 replicas × 1 h = 2 instance-hours = $2.0120
    d = deploy(v1, "production", transitions=[(H10 - 60 * M, "progressing"), (H10 - 50 * M, "live")])
    assert meter() == 1
    r = row(d)
    assert (r.replica_hours, r.gpu_hours, r.instance_hours) == (Decimal("2"), Decimal("2"), Decimal("2"))
    assert r.usd == Decimal("2.0120") and r.spot_usd == 0 and r.on_demand_usd == Decimal("2.0120")
    assert r.requests == 36_000 and r.gpu_utilization == 0.4 and r.day == H10.date()


def test_spot_mix_prices_the_spot_share_at_the_spot_rate(v1):
    # 50 % spot: 2 × 0.5 × 1.0060 + 2 × 0.5 × 0.4024 = 1.0060 + 0.4024 = 1.4084
    d = deploy(v1, "production", transitions=[(H10 - 60 * M, "progressing"), (H10 - 50 * M, "live")],
               spot_percent=50)
    meter()
    r = row(d)
    assert (r.on_demand_usd, r.spot_usd, r.usd) == (Decimal("1.0060"), Decimal("0.4024"), Decimal("1.4084"))
    assert r.spot_share == Decimal("0.5")


def test_partial_hour_counts_only_the_minutes_it_ran(v1):
    # Rollout starts 10:15 with its 2 minimum replicas, live at 10:30: 45 min × 2 = 1.5 replica-hours, $1.5090
    d = deploy(v1, "production", transitions=[(H10 + 15 * M, "progressing"), (H10 + 30 * M, "live")])
    meter()
    r = row(d)
    assert r.replica_hours == Decimal("1.5") and r.usd == Decimal("1.5090")


def test_superseded_mid_hour_stops_at_the_transition(v1, v2):
    # v1 (2 replicas) superseded at 10:20: 20 min × 2 = 0.6667 replica-hours
    old = deploy(v1, "production", transitions=[(H10 - 120 * M, "progressing"), (H10 - 110 * M, "live"),
                                                (H10 + 20 * M, "superseded")])
    new = deploy(v2, "production", previous=old, min_replicas=3,
                 transitions=[(H10 + 5 * M, "progressing"), (H10 + 20 * M, "live")])
    meter()
    assert row(old).replica_hours == Decimal("0.6667")
    # v2 runs its 3 minimum replicas from 10:05 (canary) and stays at 3 live: 55 min × 3 = 2.75
    assert row(new).replica_hours == Decimal("2.75")
    assert row(new).usd == Decimal("2.7665")  # 2.75 × 1.0060


def test_rolling_batches_scale_both_versions(v1, v2):
    # Old version: 2 replicas live. The rolling rollout of v2 goes in batches [new, old, weight]:
    # 10:00 batch 1 = [1, 1, 50]; 10:30 batch 2 = [2, 0, 100]; live at 10:45.
    batches = [[1, 1, 50], [2, 0, 100]]
    old = deploy(v1, "production", transitions=[(H10 - 120 * M, "progressing"), (H10 - 110 * M, "live"),
                                                (H10 + 45 * M, "superseded")])
    new = deploy(v2, "production", previous=old, strategy="rolling", batches=batches,
                 transitions=[(H10, "progressing"), (H10 + 45 * M, "live")], steps=[(H10, 0), (H10 + 30 * M, 1)])
    meter()
    # new: 30 min × 1 + 15 min × 2 (batch 2) + 15 min × 2 (live, min_replicas 2) = 0.5 + 0.5 + 0.5 = 1.5
    assert row(new).replica_hours == Decimal("1.5")
    # old: 2 replicas until its successor's batch 1 at 10:00 → 1 replica until batch 2 at 10:30 → 0
    assert row(old).replica_hours == Decimal("0.5")


def test_paused_keeps_replicas_and_rolled_back_stops_them(v1):
    d = deploy(v1, "staging", min_replicas=1, transitions=[
        (H10 - 30 * M, "progressing"), (H10 + 10 * M, "paused"), (H10 + 25 * M, "progressing"),
        (H10 + 40 * M, "rolled_back")])
    meter()
    assert row(d).replica_hours == Decimal("0.6667")  # 10:00–10:40, one replica


def test_share_of_a_multi_gpu_node(v1):
    # One 1-GPU replica on a 4-GPU g5.12xlarge uses a quarter of the node: 0.25 × $5.6720 = $1.4180
    d = deploy(v1, "production", instance_type="g5.12xlarge", min_replicas=1,
               transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live")])
    meter()
    r = row(d)
    assert (r.instance_hours, r.gpu_hours, r.usd) == (Decimal("0.25"), Decimal("1"), Decimal("1.4180"))


def test_cpu_instance_counts_a_whole_node_and_no_gpu_hours(v1):
    d = deploy(v1, "staging", instance_type="c6i.xlarge", gpus_per_replica=0, min_replicas=3,
               transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live")])
    meter()
    r = row(d)
    assert (r.replica_hours, r.gpu_hours, r.usd) == (Decimal("3"), Decimal("0"), Decimal("0.5100"))


def test_rerunning_an_hour_replaces_and_never_doubles(v1):
    d = deploy(v1, "production", transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live")])
    meter(usage=FixedUsage(100))
    meter(usage=FixedUsage(250))
    meter(usage=FixedUsage(250))
    assert CostRecord.objects.filter(deployment=d).count() == 1
    assert row(d).requests == 250 and row(d).usd == Decimal("2.0120")


def test_rerun_removes_the_row_of_a_deployment_that_did_not_run(v1):
    d = deploy(v1, "production", transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live")])
    meter()
    # The history is corrected (it went live only at 11:00): the 10:00 row disappears on rerun.
    d.events.all().delete()
    deploy_events = [(H10 + 60 * M, "progressing"), (H10 + 60 * M, "live")]
    for at, to in deploy_events:
        d.events.create(created_at=at, kind="transition", to_status=to, message=to)
    meter()
    assert not CostRecord.objects.filter(deployment=d, hour=H10).exists()


def test_an_hour_in_progress_meters_up_to_now(v1):
    d = deploy(v1, "production", transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live")])
    services.meter_hour(H10, usage=TRAFFIC, now=H10 + 30 * M)
    assert row(d).replica_hours == Decimal("1")  # 30 min × 2


def test_unmeasured_requests_are_null_not_zero(v1):
    d = deploy(v1, "production", transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live")])
    meter(usage=FixedUsage(None))
    assert row(d).requests is None


def test_metrics_usage_does_not_invent_numbers_for_old_hours_or_a_dead_provider(v1, settings):
    settings.SLIPWAY_DEVCLUSTER_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    d = deploy(v1, "production", transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live")])
    d.environment.cluster = {"kind": "url", "url": "http://127.0.0.1:9"}
    old = MetricsUsage(now=H10 + timedelta(days=2)).hour(d, H10, H10 + 60 * M)
    assert old.requests is None and old.source == "unavailable"
    recent = MetricsUsage(now=H10 + 61 * M).hour(d, H10, H10 + 60 * M)
    assert recent.requests is None and recent.source == "unavailable"


def test_metering_queries_stay_constant_with_more_deployments(recsys, ada, django_assert_max_num_queries):
    from tests import factories
    from tests.deployments.conftest import make_version

    for i in range(12):
        model = factories.model(recsys, f"m{i}", created_by=ada)
        deploy(make_version(model, 1), "production",
               transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live")])
    with django_assert_max_num_queries(10):
        assert meter() == 12


def test_backfill_command_meters_a_range_and_reruns_idempotently(v1):
    from io import StringIO

    deploy(v1, "production", transitions=[(H10 - 60 * M, "progressing"), (H10 - 60 * M, "live"),
                                          (H10 + 150 * M, "superseded")])
    out = StringIO()
    call_command("meter_costs", "--start", "2026-03-10T09:00", "--end", "2026-03-10T13:00", stdout=out)
    assert "Metered 4 deployment-hour(s)" in out.getvalue()  # 09, 10, 11 and the half of 12
    call_command("meter_costs", "--start", "2026-03-10", "--end", "2026-03-10", stdout=StringIO())
    assert CostRecord.objects.count() == 4
    assert sorted(CostRecord.objects.values_list("replica_hours", flat=True)) == [
        Decimal("1"), Decimal("2"), Decimal("2"), Decimal("2")]


def test_backfill_command_refuses_bad_dates():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--start"):
        call_command("meter_costs", "--start", "yesterday", "--end", "2026-03-10")


def test_pure_timeline_integral():
    t = H10
    changes = [metering.Change(t, 2), metering.Change(t + 30 * M, 4), metering.Change(t + 45 * M, 0)]
    assert metering.replica_seconds(changes, t, t + 60 * M) == 2 * 1800 + 4 * 900
    assert metering.replica_seconds(changes, t + 40 * M, t + 50 * M) == 4 * 300
    assert metering.replicas_at(changes, t + 31 * M) == 4
