"""Costs in a real browser: ada opens her model's cost page and reads the charts; isolation."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.costs.demo import seed_cost_history
from apps.costs.models import CostRecord
from tests import factories
from tests.deployments.conftest import make_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(recsys, search, ada, grace):
    ctr = factories.model(recsys, "ctr-ranker", created_by=ada)
    for n in (1, 2):
        make_version(ctr, n)
    intent = factories.model(search, "query-intent", created_by=grace)
    make_version(intent, 1)
    seed_cost_history(log=lambda *a: None)
    assert CostRecord.objects.filter(model=ctr).count() > 30 * 24
    return ctr, intent


def test_ada_opens_her_models_cost_page_and_sees_the_charts(page, sign_in, shot, ada, history):
    ctr, _ = history
    sign_in(ada)
    page.goto(f"/models/{ctr.pk}/")
    expect(page.locator("#cost-panel")).to_contain_text("Cost, last 30 days")
    page.locator("#cost-panel").get_by_role("link", name="Costs →").click()
    expect(page.get_by_role("heading", name="ctr-ranker costs")).to_be_visible()
    daily = page.locator("#chart-daily svg")
    expect(daily).to_be_visible()
    assert daily.locator("rect.bar").count() >= 30  # a bar (segment) per day and environment
    assert "production" in daily.get_attribute("aria-label")
    per1k = page.locator("#chart-per1k svg")
    expect(per1k).to_be_visible()
    assert per1k.locator("polyline.line-per1k").count() >= 1
    box = daily.bounding_box()
    assert box["width"] > 400 and box["height"] > 120  # readable at 1366×768, not a thumbnail
    shot(page, "costs-model", full_page=True)

    page.goto("/costs/")
    expect(page.locator("svg.cost-chart")).to_have_count(3)
    expect(page.get_by_role("heading", name="Month to date against budget")).to_be_visible()
    expect(page.locator("#by-model")).to_contain_text("ctr-ranker")
    expect(page.locator("#by-model")).not_to_contain_text("query-intent")
    expect(page.locator("#recommendations")).to_contain_text("/month")
    shot(page, "costs-overview")
    shot(page, "costs-overview-full", full_page=True)


def test_grace_cannot_open_recsys_costs(page, sign_in, grace, history):
    ctr, _ = history
    sign_in(grace)
    response = page.goto(f"/costs/models/{ctr.pk}/")
    assert response.status == 404
    page.goto("/costs/")
    expect(page.locator("#by-model")).to_contain_text("query-intent")
    expect(page.locator("body")).not_to_contain_text("ctr-ranker")
