"""Runbooks in a real browser: ada edits her model's runbook and reads the diff; stored XSS
never runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.runbooks.test_runbooks import FILLED, XSS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ctr(recsys, ada):
    return factories.model(recsys, "ctr-ranker", owner="ada@example.com", oncall="#recsys-oncall", created_by=ada)


def save(page, body: str, summary: str) -> None:
    page.get_by_role("link", name="Edit").click()
    page.fill("#id_body", body)
    page.fill("#id_summary", summary)
    page.get_by_role("button", name="Save revision").click()
    expect(page.locator(".messages")).to_contain_text("Runbook saved")


def test_ada_edits_the_runbook_and_sees_the_diff(page, sign_in, shot, ada, ctr):
    sign_in(ada)
    page.goto(f"/models/{ctr.pk}/")
    page.get_by_role("link", name="Write the runbook").click()
    expect(page.locator("#runbook-body")).to_contain_text("How to roll back")
    save(page, FILLED, "first version")
    expect(page.locator(".alert-success.flat")).to_contain_text("Every required section is filled")
    save(page, FILLED.replace("scale out to 4 replicas", "scale out to 6 replicas"), "bigger scale-out")
    page.get_by_role("link", name="Latest change").click()
    expect(page.locator("tr.diff-del")).to_contain_text("scale out to 4 replicas")
    expect(page.locator("tr.diff-add")).to_contain_text("scale out to 6 replicas")
    expect(page.get_by_role("heading", name="ctr-ranker runbook: r1 → r2")).to_be_visible()
    shot(page, "costs-runbook-diff")
    page.get_by_role("link", name="History (2)").click()
    expect(page.locator("table")).to_contain_text("bigger scale-out")


def test_stored_xss_in_a_runbook_never_runs(page, sign_in, shot, ada, ctr, vera):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(ada)
    page.goto(f"/runbooks/models/{ctr.pk}/")
    save(page, XSS, "hostile")
    body = page.locator("#runbook-body")
    expect(body).to_contain_text("If you see high latency")
    assert body.locator("script, iframe, style, [onerror], [onclick]").count() == 0
    hrefs = [a.get_attribute("href") or "" for a in body.locator("a").all()]
    assert not [h for h in hrefs if h.lower().startswith("javascript:")]
    body.get_by_text("click").click()  # the javascript: link lost its href: clicking does nothing
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    shot(page, "costs-runbook-xss")
    # A viewer of the team reads the same sanitised page.
    page.context.clear_cookies()
    sign_in(vera)
    page.goto(f"/runbooks/models/{ctr.pk}/")
    assert page.evaluate("window.__xss") is None
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
