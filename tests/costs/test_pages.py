"""Cost pages: overview, a model's costs, CSV export; isolation; charts are server-rendered SVG."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.costs.conftest import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def recent(ctr, v1, intent):
    today = date.today()
    for i in range(10):
        record(ctr, today - timedelta(days=i), "20.00", requests=5000)
        record(intent, today - timedelta(days=i), "9.00", requests=0)


def test_overview_shows_charts_budget_and_models(client, ada, recent):
    client.force_login(ada)
    response = client.get("/costs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<svg class=\"chart cost-chart\"") == 3  # stacked daily, per 1k, budget burn
    assert "ctr-ranker" in html and "query-intent" not in html and "Month to date against budget" in html
    assert "$200.00" in html  # 10 days × $20


def test_model_cost_page_and_no_traffic_note(client, grace, recent, intent):
    client.force_login(grace)
    response = client.get(f"/costs/models/{intent.pk}/")
    html = response.content.decode()
    assert response.status_code == 200 and "no traffic" in html and "Infinity" not in html and "inf" not in html


def test_other_teams_model_cost_page_is_404(client, grace, ctr):
    client.force_login(grace)
    assert client.get(f"/costs/models/{ctr.pk}/").status_code == 404


def test_csv_export_is_scoped_and_bad_input_is_400(client, grace, recent):
    client.force_login(grace)
    response = client.get("/costs/export.csv")
    assert response.status_code == 200 and b"query-intent" in response.content and b"ctr-ranker" not in response.content
    assert client.get("/costs/export.csv", {"group_by": "nope"}).status_code == 400


def test_bad_dates_show_a_form_error_not_a_500(client, ada, recent):
    client.force_login(ada)
    response = client.get("/costs/", {"start": "2026-05-01", "end": "2026-04-01"})
    assert response.status_code == 200 and "is before start" in response.content.decode()


def test_model_page_panel_and_dashboard_card(client, ada, recent, ctr):
    client.force_login(ada)
    model_page = client.get(f"/models/{ctr.pk}/").content.decode()
    assert 'id="cost-panel"' in model_page and "$200.00" in model_page
    dashboard = client.get("/").content.decode()
    assert 'id="mtd-cost"' in dashboard


def test_overview_queries_do_not_grow_with_rows(client, ada, ctr, v1, django_assert_max_num_queries):
    for i in range(30):
        record(ctr, date.today() - timedelta(days=i), "1.00")
    client.force_login(ada)
    with django_assert_max_num_queries(40):
        assert client.get("/costs/").status_code == 200
