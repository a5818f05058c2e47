"""Notifications in a real browser: ada adds a webhook (its secret shown once), presses "Send test" and
reads the result in place; a failing receiver shows its status code; grace cannot open recsys's."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.notifications.models import Delivery, Destination
from tests.notifications.conftest import receiver  # noqa: F401 (the real receiver fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ada_adds_a_webhook_and_sends_a_test_in_place(page, sign_in, shot, ada, recsys, receiver):  # noqa: F811
    sign_in(ada)
    page.goto("/")
    page.get_by_role("link", name="Notifications").click()
    expect(page.locator("h1")).to_have_text("Notifications")
    page.get_by_role("link", name="New destination").click()
    page.fill("#id_name", "#recsys-alerts")
    page.fill("#id_url", receiver.url)
    shot(page, "notifications-form")
    page.get_by_role("button", name="Add destination").click()
    secret_box = page.locator("#destination-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    destination = Destination.objects.get()
    assert secret == destination.secret and secret.startswith("whsec_")
    receiver.secret = secret
    shot(page, "notifications-secret")

    page.get_by_role("link", name="Done").click()
    row = page.locator(f"#destination-{destination.pk}")
    expect(row).to_contain_text("#recsys-alerts")
    row.get_by_role("button", name="Send test").click()
    result = page.locator(f"#test-result-{destination.pk} .test-result")
    expect(result).to_contain_text("Delivered")
    expect(result).to_contain_text("HTTP 200")
    assert page.url.endswith("/notifications/")  # in place: no navigation
    assert len(receiver.requests) == 1 and receiver.requests[0].verified is True
    assert receiver.requests[0].headers["X-Slipway-Event"] == "test"
    shot(page, "notifications-test-delivered")

    receiver.script(500)
    row.get_by_role("button", name="Send test").click()
    expect(result).to_contain_text("Not delivered")
    expect(result).to_contain_text("HTTP 500")
    shot(page, "notifications-test-failed")

    page.get_by_role("link", name="Delivery log").click()
    expect(page.locator("tr.delivery")).to_have_count(2)
    page.select_option("#id_status", "failed")
    expect(page.locator("tr.delivery")).to_have_count(1)
    expect(page.locator("tr.delivery")).to_contain_text("500")
    shot(page, "notifications-deliveries")
    assert Delivery.objects.filter(status="failed", last_status_code=500).count() == 1


def test_grace_cannot_open_recsys_destinations(page, sign_in, grace, recsys):
    destination = Destination.objects.create(tenant=recsys, name="recsys-private-hook",
                                             url="https://hooks.example.com/recsys", secret="whsec_x")
    sign_in(grace)
    response = page.goto(f"/notifications/{destination.pk}/edit/")
    assert response.status == 404
    page.goto("/notifications/")
    expect(page.locator("body")).not_to_contain_text("recsys-private-hook")
