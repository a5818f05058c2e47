"""AWS Cost Explorer actuals through boto3 against moto, with moto's way of setting results
(the `set_ce_cost_usage` queue behind `/moto-api/static/ce/cost-and-usage-results`)."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api._internal.models import moto_api_backend

from apps.core.errors import ServiceUnavailable
from apps.costs import services
from apps.costs.models import ActualCost
from tests.api.conftest import JsonClient
from tests.costs.conftest import record

pytestmark = pytest.mark.django_db


def ce_result(days: list[tuple[str, list[tuple[str, str, str]]]]) -> dict:
    """A GetCostAndUsage answer: per day, groups of (tenant tag, model tag, amount)."""
    return {"ResultsByTime": [
        {"TimePeriod": {"Start": day, "End": day}, "Estimated": day == "2026-03-11",
         "Total": {},
         "Groups": [{"Keys": [f"tenant${t}", f"model${m}"],
                     "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}} for t, m, amount in groups]}
        for day, groups in days], "DimensionValueAttributes": []}


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("ce", region_name="us-east-1")


def queue(*results: dict) -> None:
    # Environments are queried in order (staging, production); each request takes the next result.
    for result in results:
        moto_api_backend.set_ce_cost_usage(result=result, account_id=DEFAULT_ACCOUNT_ID)


def test_ingests_daily_actuals_grouped_by_tags_and_reruns_replace(aws, ctr, intent):
    staging = ce_result([("2026-03-10", [("recsys", "ctr-ranker", "3.50")])])
    production = ce_result([("2026-03-10", [("recsys", "ctr-ranker", "48.25"), ("search", "query-intent", "12.00"),
                                            ("", "", "7.10")]),
                            ("2026-03-11", [("recsys", "ctr-ranker", "50.00")])])
    queue(staging, production)
    assert services.ingest_actuals(date(2026, 3, 10), date(2026, 3, 12), client=aws) == 5
    prod = ActualCost.objects.get(day=date(2026, 3, 10), model_tag="ctr-ranker", environment_tag="production")
    assert prod.usd == 48.25 and prod.tenant_id == ctr.tenant_id and prod.model_id == ctr.pk and not prod.estimated
    assert ActualCost.objects.get(day=date(2026, 3, 11)).estimated is True
    untagged = ActualCost.objects.get(tenant_tag="")
    assert untagged.tenant_id is None  # platform engineers only
    # Same request again: moto answers the same results; rows are replaced, not added.
    assert services.ingest_actuals(date(2026, 3, 10), date(2026, 3, 12), client=aws) == 5
    assert ActualCost.objects.count() == 5


def test_actuals_are_shown_beside_estimates_and_stay_in_their_team(aws, ctr, intent, ada, grace, linus):
    record(ctr, date(2026, 3, 10), "40.00")
    queue(ce_result([]), ce_result([("2026-03-10", [("recsys", "ctr-ranker", "48.25"),
                                                    ("search", "query-intent", "12.00"), ("", "", "7.10")])]))
    services.ingest_actuals(date(2026, 3, 10), date(2026, 3, 11), client=aws)
    params = {"group_by": "day", "start": "2026-03-10", "end": "2026-03-10"}
    ada_rows = JsonClient(ada).get("/api/v1/costs/", params).json()["results"]
    assert ada_rows == [{**ada_rows[0], "usd": 40.0, "actual_usd": 48.25}]
    grace_rows = JsonClient(grace).get("/api/v1/costs/", params).json()
    assert grace_rows["results"] == [] and grace_rows["totals"]["usd"] == 0
    by_tenant = JsonClient(linus).get("/api/v1/costs/", {**params, "group_by": "tenant"}).json()["results"]
    assert [(r["tenant"], r["actual_usd"]) for r in by_tenant] == [("recsys", 48.25)]


def test_not_configured_or_unreachable_is_a_503_domain_error(settings, aws):
    settings.SLIPWAY_COSTS_AWS_ENABLED = False
    with pytest.raises(ServiceUnavailable) as not_configured:
        services.ingest_actuals(date(2026, 3, 10), date(2026, 3, 11))
    assert not_configured.value.code == "aws_not_configured"

    class Broken:
        def get_cost_and_usage(self, **kwargs):
            raise ConnectionError("no route")

    with pytest.raises(ServiceUnavailable) as down:
        services.ingest_actuals(date(2026, 3, 10), date(2026, 3, 11), client=Broken())
    assert down.value.code == "aws_unavailable"


def test_daily_task_does_nothing_unless_aws_is_enabled(settings):
    from worker.tasks import ingest_aws_costs

    settings.SLIPWAY_COSTS_AWS_ENABLED = False
    assert ingest_aws_costs.delay().get() == 0
