"""The pages in a real browser: import, attest in place, tenant isolation, viewers, tokens.

Chromium runs with JavaScript (htmx) on; the page tests in tests/pages/ cover the same views
without it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.readiness.models import ChecklistItem
from apps.readiness.services import waive
from apps.registry import services as registry
from apps.registry.models import ModelVersion
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def churn(recsys, ada):
    return factories.model(recsys, "churn-predictor",
                           description="Predicts which subscribers will cancel next month.")


def test_ada_imports_a_version_attests_and_it_becomes_ready(page, sign_in, shot, ada, linus, churn, mlflow,
                                                            browser_versions):
    sign_in(ada)
    shot(page, "01-dashboard")

    # Import through the form on the model page: the number comes from a real MLflow store.
    page.goto(f"/models/{churn.pk}/")
    page.fill("#id_mlflow_version", str(browser_versions["good"]))
    page.get_by_role("button", name="Import version").click()
    page.wait_for_url(re.compile(r"/versions/\d+/$"))
    version = ModelVersion.objects.get(model=churn, version=browser_versions["good"])
    expect(page.locator("#readiness-badge")).to_contain_text("Not ready")
    expect(page.locator("#item-reproducibility")).to_contain_text("Pass")

    # Arrange: linus waives what cannot pass before a staging deployment exists, leaving bias_review.
    for item in ChecklistItem.objects.filter(version=version).exclude(status="pass").exclude(key="bias_review"):
        waive(item, actor=linus, reason="No staging cluster in this test; accepted for the demo.")
    page.reload()
    expect(page.locator("#readiness-summary")).to_contain_text("9/10")
    shot(page, "05-version-before-attest")

    # Act: attest bias_review in place; htmx swaps the row and the badge, no navigation.
    page.evaluate("window.__marker = 'same page'")
    row = page.locator("#item-bias_review")
    row.locator("summary", has_text="Attest").click()
    shot(page, "06-version-attest-form")
    row.locator("textarea[name=evidence]").fill("https://wiki.example.com/reviews/churn-v1-fairness")
    row.locator("button", has_text="Record attestation").click()

    expect(page.locator("#item-bias_review")).to_contain_text("Attested pass by ada")
    expect(page.locator("#readiness-badge")).to_contain_text("Ready")
    expect(page.locator("#readiness-summary")).to_contain_text("10/10")
    assert page.evaluate("window.__marker") == "same page"  # swapped in place, not reloaded
    shot(page, "07-version-ready")
    assert ChecklistItem.objects.get(version=version, key="bias_review").status == "pass"


def test_attest_without_evidence_shows_the_error_in_place(page, sign_in, ada, churn, mlflow, browser_versions):
    version = registry.import_version(churn, actor=ada, mlflow_version=browser_versions["good"])
    sign_in(ada)
    page.goto(f"/versions/{version.pk}/")
    row = page.locator("#item-fallback")
    row.locator("summary", has_text="Attest").click()
    row.locator("button", has_text="Record attestation").click()
    expect(page.locator("#item-fallback .field-error")).to_contain_text("Evidence")
    assert ChecklistItem.objects.get(version=version, key="fallback").status == "pending"


def test_grace_opening_adas_model_gets_the_404_page(page, sign_in, shot, grace, churn):
    sign_in(grace)
    response = page.goto(f"/models/{churn.pk}/")
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text("can’t find that page")
    expect(page.locator("body")).not_to_contain_text("churn-predictor")
    shot(page, "12-404")


def test_vera_sees_no_write_controls(page, sign_in, shot, vera, ada, churn, mlflow, browser_versions):
    version = registry.import_version(churn, actor=ada, mlflow_version=browser_versions["good"])
    sign_in(vera)
    page.goto("/models/")
    expect(page.locator("body")).to_contain_text("churn-predictor")
    expect(page.get_by_text("New model")).to_have_count(0)
    page.goto(f"/models/{churn.pk}/")
    for label in ("Import version", "Sync from MLflow", "Edit", "Delete"):
        expect(page.get_by_role("button", name=label)).to_have_count(0)
        expect(page.get_by_role("link", name=label)).to_have_count(0)
    page.goto(f"/versions/{version.pk}/")
    expect(page.locator(".checklist")).to_contain_text("Bias review")
    expect(page.locator("form")).to_have_count(2)  # only the team switcher and sign-out
    expect(page.get_by_text("Attest", exact=True)).to_have_count(0)
    expect(page.get_by_text("Waive", exact=True)).to_have_count(0)
    expect(page.get_by_text("Re-evaluate")).to_have_count(0)
    shot(page, "08-version-as-viewer")


def test_token_secret_is_shown_once(page, sign_in, shot, ada):
    sign_in(ada)
    page.goto("/tokens/")
    page.fill("#id_name", "ci-pipeline")
    page.get_by_role("button", name="Create token").click()
    secret_box = page.locator("#new-token-secret")
    expect(secret_box).to_have_value(re.compile(r"^slw_[0-9a-f]{8}_\S{20,}$"))
    secret = secret_box.input_value()
    shot(page, "10-token-created")
    page.goto("/tokens/")
    expect(page.locator("#new-token-secret")).to_have_count(0)
    assert secret not in page.content()
    expect(page.locator("table")).to_contain_text("ci-pipeline")


def test_team_switcher_filters_lists(page, sign_in, linus, recsys, search, churn):
    factories.model(search, "query-ranker")
    sign_in(linus)
    page.goto("/models/")
    expect(page.locator("#model-results")).to_contain_text("query-ranker")
    page.select_option("#team-select", "recsys")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#model-results")).to_contain_text("churn-predictor")
    expect(page.locator("#model-results")).not_to_contain_text("query-ranker")


def test_live_search_updates_the_list_and_the_address(page, sign_in, ada, recsys, churn):
    factories.model(recsys, "basket-recommender")
    sign_in(ada)
    page.goto("/models/")
    page.fill("#id_q", "basket")
    expect(page.locator("#model-results")).not_to_contain_text("churn-predictor")
    expect(page.locator("#model-results")).to_contain_text("basket-recommender")
    expect(page).to_have_url(re.compile(r"q=basket"))


def test_screenshots_of_every_page(page, sign_in, shot, ada, linus, churn, recsys, search, mlflow,
                                   browser_versions):
    """Not an assertion-free walk: each page must answer 200 and render its heading."""
    factories.model(recsys, "basket-recommender", owner="", oncall="")
    factories.model(search, "query-ranker")
    version = registry.import_version(churn, actor=ada, mlflow_version=browser_versions["good"])
    registry.import_version(churn, actor=ada, mlflow_version=browser_versions["bare"])
    sign_in(ada)
    pages = [
        ("02-models", "/models/", "Models"),
        ("03-model-detail", f"/models/{churn.pk}/", "churn-predictor"),
        ("04-version", f"/versions/{version.pk}/", "churn-predictor"),
        ("09-audit", "/audit/", "Audit log"),
        ("11-model-new", "/models/new/", "New model"),
        ("13-model-edit", f"/models/{churn.pk}/edit/", "Edit churn-predictor"),
        ("14-model-delete", f"/models/{churn.pk}/delete/", "Delete churn-predictor?"),
        ("15-dashboard-with-data", "/", "Welcome back"),
    ]
    for name, url, heading in pages:
        response = page.goto(url)
        assert response.status == 200, url
        expect(page.locator("h1").first).to_contain_text(heading)
        shot(page, name)
    page.goto("/models/new/")
    page.fill("#id_name", "Bad Name!")
    page.get_by_role("button", name="Create model").click()
    expect(page.locator(".field-error").first).to_contain_text("Name")
    shot(page, "16-model-form-errors")
    page.goto(f"/models/{churn.pk}/")
    page.fill("#id_mlflow_version", "999")
    page.get_by_role("button", name="Import version").click()
    expect(page.locator("#versions .field-error")).to_contain_text("has no version 999")
    shot(page, "17-import-error")
    page.locator("summary[aria-label^='Account menu']").click()
    shot(page, "18-user-menu")

    linus_tab = page.context.browser.new_context(viewport={"width": 1366, "height": 768},
                                                 base_url=page.url.split("/models")[0]).new_page()
    sign_in(linus, tab=linus_tab)
    linus_tab.goto(f"/versions/{version.pk}/")
    linus_tab.locator("#item-monitoring summary", has_text="Waive").click()
    shot(linus_tab, "19-version-as-platform-waive")
    linus_tab.context.close()
    page.context.clear_cookies()
    page.goto("/login/")
    shot(page, "00-login")
