"""The costs API: grouping, USD per 1k, validation, tenant isolation, CSV, budgets, anomalies,
recommendations, and query counts."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from apps.costs.models import CostAnomaly
from tests.api.conftest import JsonClient, assert_problem
from tests.costs.conftest import record

pytestmark = pytest.mark.django_db
DAY = date(2026, 3, 10)
RANGE = {"start": "2026-03-09", "end": "2026-03-11"}


@pytest.fixture
def costs(ctr, v1, intent):
    record(ctr, DAY, "10.00", requests=4000, hour=1)
    record(ctr, DAY, "5.00", requests=1000, hour=2)
    record(ctr, DAY + timedelta(days=1), "8.00", requests=0, hour=1)
    record(ctr, DAY, "3.00", environment="staging", requests=None, hour=1)
    record(intent, DAY, "7.00", requests=7000, hour=1)


def get(user, **params):
    return JsonClient(user).get("/api/v1/costs/", {**RANGE, **params})


def test_group_by_day_sums_and_prices_per_1k(costs, ada):
    body = get(ada, group_by="day").json()
    assert body["group_by"] == ["day"] and body["count"] == 2
    first, second = body["results"]
    # 10 + 5 measured over 5000 requests → $3.00 per 1k; the unmeasured staging $3 is in usd, not per 1k
    assert (first["day"], first["usd"], first["requests"], first["usd_per_1k"]) == ("2026-03-10", 18.0, 5000, 3.0)
    # zero requests: "no traffic", never infinity or a division error
    assert (second["usd"], second["requests"], second["usd_per_1k"], second["usd_per_1k_note"]) == (
        8.0, 0, None, "no traffic")
    assert body["totals"]["usd"] == 26.0 and body["totals"]["usd_per_1k"] == pytest.approx(23 / 5)


def test_group_by_model_environment_and_tenant(costs, ada, linus):
    models = get(ada, group_by="model").json()["results"]
    assert [(r["model"], r["tenant"], r["usd"]) for r in models] == [("ctr-ranker", "recsys", 26.0)]
    envs = get(ada, group_by="environment").json()["results"]
    assert {r["environment"]: r["usd_per_1k_note"] for r in envs} == {"production": "", "staging": "not measured"}
    tenants = get(linus, group_by="tenant").json()["results"]
    assert [(r["tenant"], r["usd"]) for r in tenants] == [("recsys", 26.0), ("search", 7.0)]
    pairs = get(linus, group_by="day,tenant").json()["results"]
    assert [(r["day"], r["tenant"], r["usd"]) for r in pairs] == [
        ("2026-03-10", "recsys", 18.0), ("2026-03-10", "search", 7.0), ("2026-03-11", "recsys", 8.0)]


def test_another_teams_costs_are_absent_everywhere(costs, grace, ada):
    grace_rows = get(grace, group_by="model").json()["results"]
    assert [r["model"] for r in grace_rows] == ["query-intent"]
    assert get(grace, group_by="model", tenant="recsys").json()["results"] == []
    assert get(grace, group_by="day", model=str(grace_rows[0]["model_id"] + 0)).json()["count"] == 1
    ctr_id = get(ada, group_by="model").json()["results"][0]["model_id"]
    assert get(grace, group_by="day", model=str(ctr_id)).json()["results"] == []
    export = JsonClient(grace).get("/api/v1/costs/export/", {**RANGE, "group_by": "model"})
    assert export.status_code == 200 and b"ctr-ranker" not in export.content and b"query-intent" in export.content


def test_viewer_reads_costs(costs, vera):
    assert get(vera, group_by="model").json()["results"][0]["model"] == "ctr-ranker"


@pytest.mark.parametrize(("params", "field", "code"), [
    ({"group_by": "week"}, "group_by", "invalid_group_by"),
    ({"group_by": "day,day"}, "group_by", "invalid_group_by"),
    ({"group_by": "day,model,tenant"}, "group_by", "invalid_group_by"),
    ({"start": "yesterday"}, "start", None),
    ({"start": "2026-03-11", "end": "2026-03-01"}, "end", "end_before_start"),
    ({"start": "2020-01-01", "end": "2026-03-01"}, "start", "range_too_long"),
    ({"model": "abc"}, "model", None),
    ({"model": "9" * 30}, "model", None),
    ({"start": "2026-02-30"}, "start", None),
])
def test_bad_parameters_are_problem_details_naming_the_field(ada, params, field, code):
    response = JsonClient(ada).get("/api/v1/costs/", {**RANGE, **params})
    assert_problem(response, 400, field=field, code=code)


def test_csv_export_has_the_same_rows_and_a_total(costs, ada):
    response = JsonClient(ada).get("/api/v1/costs/export/", {**RANGE, "group_by": "day"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["day", "usd", "actual_usd"]
    assert rows[1][0] == "2026-03-10" and rows[1][1] == "18.0000"
    assert rows[2][-1] == "no traffic" and rows[-1][0] == "total"


def test_anomalies_list_is_tenant_scoped(ctr, intent, ada, grace):
    for model in (ctr, intent):
        CostAnomaly.objects.create(tenant=model.tenant, model=model, day=DAY, usd=130, baseline_usd=100,
                                   history_days=7, increase=0.3, causes=[{"message": "v2 live"}])
    mine = JsonClient(ada).get("/api/v1/costs/anomalies/").json()
    assert [a["model"] for a in mine["results"]] == ["ctr-ranker"]
    assert mine["results"][0]["causes"] == [{"message": "v2 live"}]
    other = CostAnomaly.objects.get(model=ctr).pk
    assert_problem(JsonClient(grace).get(f"/api/v1/costs/anomalies/{other}/"), 404)


def test_budget_endpoint_shows_month_to_date_and_forecast_per_visible_team(ada, grace, ctr, v1):
    record(ctr, date.today(), "12.00")
    body = JsonClient(ada).get("/api/v1/costs/budget/").json()
    assert [b["tenant"] for b in body] == ["recsys"]
    assert body[0]["mtd_usd"] == 12.0 and body[0]["forecast_usd"] >= 12.0 and body[0]["state"] == "on_track"
    assert [b["tenant"] for b in JsonClient(grace).get("/api/v1/costs/budget/").json()] == ["search"]


def test_anonymous_is_refused(client):
    assert client.get("/api/v1/costs/").status_code in (401, 403)


def test_cost_list_queries_do_not_grow_with_rows(ctr, v1, ada):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert get(ada, group_by="day", start="2026-02-01").status_code == 200
        return len(queries)

    record(ctr, DAY, "1.00")
    count()  # warm: the first request of a session writes its last-login/session rows
    few = count()
    for i in range(1, 60):
        record(ctr, DAY - timedelta(days=i % 30), "1.00", hour=i // 30 + 1)
    assert count() == few
