"""Anomaly and budget rules at their boundaries; each notifies exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from apps.core.models import AuditEvent
from apps.costs import services
from apps.costs.models import BudgetAlert, CostAnomaly
from apps.deployments.models import RolloutEvent
from tests.costs.conftest import record

pytestmark = pytest.mark.django_db
D = Decimal
DAY = date(2026, 3, 20)


@pytest.mark.parametrize(("usd", "trailing", "expected"), [
    (D("120"), [D("100")] * 7, False),           # exactly 20 % above: not "more than 20 %"
    (D("120.01"), [D("100")] * 7, True),          # just above
    (D("119.99"), [D("100")] * 7, False),
    (D("500"), [D("100")] * 2, False),            # two days of history: no verdict yet
    (D("121"), [D("100")] * 3, True),             # three days are enough
    (D("50"), [D("0")] * 7, False),               # zero baseline: new spend, not an anomaly
    (D("130"), [D("100"), D("100"), D("100"), D("100"), D("100"), D("100"), D("150")], True),  # mean 107.14
])
def test_anomaly_rule_boundaries(usd, trailing, expected):
    assert services.anomaly_verdict(usd, trailing)[0] is expected


def history(model, values: list[str], *, last: date = DAY):
    """Daily costs ending on `last` (first value oldest)."""
    for i, usd in enumerate(values):
        record(model, last - timedelta(days=len(values) - 1 - i), usd)


def test_detects_a_day_above_its_trailing_week_links_rollouts_and_notifies_once(ctr, v1):
    history(ctr, ["90"] + ["100"] * 7 + ["130"])  # first (partial) day ignored; 7 × 100 then 130
    deployment = ctr.deployments.first()
    at = datetime(2026, 3, 19, 15, 0, tzinfo=UTC)
    RolloutEvent.objects.create(deployment=deployment, created_at=at, kind="transition", from_status="progressing",
                                to_status="live", message="v1 live with 3 replicas")
    found = services.detect_anomalies(DAY, now=datetime(2026, 3, 21, 1, tzinfo=UTC))
    assert len(found) == 1
    anomaly = found[0]
    assert (anomaly.usd, anomaly.baseline_usd, anomaly.history_days) == (D("130"), D("100"), 7)
    assert round(anomaly.increase, 4) == 0.3
    assert anomaly.causes[0]["message"] == "v1 live with 3 replicas" and anomaly.causes[0]["status"] == "live"
    assert AuditEvent.objects.filter(action="cost.anomaly", tenant=ctr.tenant).count() == 1
    # Detecting the same day again updates nothing new and does not notify again.
    assert services.detect_anomalies(DAY, now=datetime(2026, 3, 21, 2, tzinfo=UTC)) == []
    assert CostAnomaly.objects.count() == 1
    assert AuditEvent.objects.filter(action="cost.anomaly").count() == 1


def test_exactly_twenty_percent_above_raises_nothing(ctr, v1):
    history(ctr, ["100"] * 8 + ["120"])
    assert services.detect_anomalies(DAY) == []


def test_short_history_uses_the_days_there_are_from_three_on(ctr, v1, intent):
    # ctr: first day (partial) + 3 full days of 100, then 150 → baseline over 3 days → anomaly.
    history(ctr, ["40", "100", "100", "100", "150"])
    # intent: first day + 2 full days: too short to judge, however big the jump.
    history(intent, ["40", "100", "100", "900"])
    found = services.detect_anomalies(DAY)
    assert [(a.model.name, a.history_days) for a in found] == [("ctr-ranker", 3)]


def test_missing_days_in_the_window_count_as_zero(ctr, v1):
    record(ctr, DAY - timedelta(days=8), "100")  # first day
    for back in (7, 6, 5, 4, 3, 2):
        record(ctr, DAY - timedelta(days=back), "100")
    # DAY-1 has no cost: mean = 600 / 7 = 85.71; 103 > 1.2 × 85.71 = 102.86
    record(ctr, DAY, "103")
    assert len(services.detect_anomalies(DAY)) == 1


def now_in_march(day: int = 15) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


@pytest.mark.parametrize(("spent", "expected"), [
    ("4999.99", []), ("5000.00", [50]), ("7999.99", [50]), ("8000", [50, 80]), ("9999.99", [50, 80]),
    ("10000", [50, 80, 100]),
])
def test_budget_thresholds_at_their_boundaries(ctr, v1, spent, expected):
    ctr.tenant.monthly_budget_usd = D("10000")
    ctr.tenant.save()
    record(ctr, date(2026, 3, 14), spent)
    services.check_budgets(now=now_in_march())
    assert sorted(BudgetAlert.objects.values_list("threshold", flat=True)) == expected


def test_each_budget_threshold_notifies_once_per_month(ctr, v1):
    ctr.tenant.monthly_budget_usd = D("1000")
    ctr.tenant.save()
    record(ctr, date(2026, 3, 2), "600")
    assert [a.threshold for a in services.check_budgets(now=now_in_march(3))] == [50]
    assert services.check_budgets(now=now_in_march(4)) == []
    record(ctr, date(2026, 3, 5), "450")
    assert [a.threshold for a in services.check_budgets(now=now_in_march(6))] == [80, 100]
    assert services.check_budgets(now=now_in_march(7)) == []
    assert AuditEvent.objects.filter(action="cost.budget_threshold").count() == 3
    # A new month starts from zero.
    record(ctr, date(2026, 4, 1), "700")
    assert [a.threshold for a in services.check_budgets(now=datetime(2026, 4, 1, 20, tzinfo=UTC))] == [50]


def test_a_zero_budget_never_alerts(ctr, v1):
    ctr.tenant.monthly_budget_usd = D("0")
    ctr.tenant.save()
    record(ctr, date(2026, 3, 2), "600")
    assert services.check_budgets(now=now_in_march()) == []


def test_forecast_extends_the_recent_daily_rate_to_the_month_end(ctr, v1):
    from apps.costs.reports import month_to_date
    from apps.tenancy.models import Tenant

    for day in range(1, 15):
        record(ctr, date(2026, 3, day), "100")
    record(ctr, date(2026, 3, 15), "50")  # today, half way
    summary = month_to_date(Tenant.objects.filter(pk=ctr.tenant_id), now=now_in_march(15))[0]
    assert summary.mtd == D("1450") and summary.daily_rate == D("100")
    # 16.5 days left (noon on the 15th to midnight on April 1): 1450 + 1650 = 3100
    assert summary.forecast == D("3100.00") and summary.state == "on_track"


def test_worker_tasks_are_thin_and_idempotent(ctr, v1):
    from worker.tasks import check_budgets, detect_cost_anomalies

    history(ctr, ["90"] + ["100"] * 7 + ["130"])
    assert detect_cost_anomalies.delay(DAY.isoformat()).get() == 1
    assert detect_cost_anomalies.delay(DAY.isoformat()).get() == 0
    assert check_budgets.delay().get() >= 0
