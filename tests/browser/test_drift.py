"""Drift in a real browser: a person opens the drifting model's page, sees the heatmap and the top
feature, and acknowledges the drift."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.drift.demo import seed_drift
from apps.drift.models import DriftReport
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def drifting(recsys, ada):
    """The demo's drifting model: a baseline and shifted observations posted through the services."""
    model = factories.model(recsys, "ctr-ranker")
    factories.version(model, 1)
    version = factories.version(model, 2)
    seed_drift(log=lambda *_: None)
    return model, version


def test_ada_sees_the_heatmap_and_top_feature_and_acknowledges(page, sign_in, shot, ada, drifting):
    model, version = drifting
    latest = DriftReport.objects.filter(version=version).order_by("-created_at", "-id").first()
    sign_in(ada)
    page.goto("/drift/")
    expect(page.locator("#drift-models")).to_contain_text("ctr-ranker")
    shot(page, "drift-overview")
    page.get_by_role("link", name="ctr-ranker").first.click()
    expect(page.locator("h1")).to_contain_text("ctr-ranker drift")
    heatmap = page.locator("svg.heatmap")
    expect(heatmap).to_be_visible()
    assert heatmap.locator("rect.hm-high").count() > 0
    expect(page.locator(".top-feature").first).to_contain_text(latest.top_feature)
    expect(page.locator("svg.histogram").first).to_be_visible()
    expect(page.locator("svg.timeline")).to_be_visible()
    shot(page, "drift-model")
    shot(page, "drift-model-full", full_page=True)
    page.fill("#id_note", "Mobile app 5.2 shifted traffic; retraining")
    page.get_by_role("button", name="Acknowledge drift").click()
    expect(page.locator(".alert-success")).to_contain_text("acknowledged")
    expect(page.locator("#acknowledge")).to_have_count(0)
    latest.refresh_from_db()
    assert latest.acknowledged_by == ada


def test_grace_cannot_open_recsys_drift(page, sign_in, grace, drifting):
    model, _ = drifting
    sign_in(grace)
    response = page.goto(f"/drift/models/{model.pk}/")
    assert response.status == 404
    page.goto("/drift/")
    expect(page.locator("body")).not_to_contain_text("ctr-ranker")
