"""Notification pages: list, add (secret shown once), edit, delete, rotate, send test (htmx and plain),
the delivery log with filters; other teams 404, viewers read-only, every write audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.notifications import services
from apps.notifications.models import Delivery, Destination

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"notifications:{name}", args=args)


def test_list_shows_destinations_and_the_nav_links_it(client, ada, hook):
    client.force_login(ada)
    page = client.get(url("destination_list")).content.decode()
    assert "#recsys-alerts" in page and hook.url in page and "Send test" in page
    assert hook.secret not in page
    assert 'href="/notifications/"' in client.get("/").content.decode()


def test_adding_a_webhook_shows_its_secret_once(client, ada, recsys, receiver):
    client.force_login(ada)
    assert client.get(url("destination_create")).status_code == 200
    response = client.post(url("destination_create"), {"team": recsys.pk, "name": "#ml", "kind": "webhook",
                                                       "url": receiver.url, "events": ["live", "failed"],
                                                       "enabled": "on"})
    assert response.status_code == 201
    destination = Destination.objects.get()
    assert destination.secret in response.content.decode() and "only time" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert destination.events == ["live", "failed"]
    assert destination.secret not in client.get(url("destination_list")).content.decode()
    assert AuditEvent.objects.filter(action="notification.destination_created", source="ui").count() == 1


def test_adding_an_email_destination(client, ada, recsys):
    client.force_login(ada)
    response = client.post(url("destination_create"), {"team": recsys.pk, "name": "oncall", "kind": "email",
                                                       "email": "oncall@example.com", "url": "",
                                                       "events": ["rolled_back"], "enabled": "on"})
    assert response.status_code == 302
    assert Destination.objects.get().email == "oncall@example.com"


def test_form_errors_name_the_field(client, ada, recsys, production):
    client.force_login(ada)
    response = client.post(url("destination_create"), {"team": recsys.pk, "name": "x", "kind": "webhook",
                                                       "url": "http://hooks.example.com/", "events": ["live"]})
    assert response.status_code == 422
    assert "Webhook URL: Webhooks must use https://" in response.content.decode()
    response = client.post(url("destination_create"), {"team": recsys.pk, "name": "x", "kind": "webhook",
                                                       "url": "https://169.254.169.254/", "events": ["live"]})
    assert response.status_code == 422 and "metadata" in response.content.decode()
    assert not Destination.objects.exists()


def test_edit_delete_and_rotate(client, ada, hook, receiver):
    client.force_login(ada)
    assert client.get(url("destination_edit", hook.pk)).status_code == 200
    response = client.post(url("destination_edit", hook.pk), {"name": "renamed", "url": receiver.url,
                                                              "events": ["live"]})
    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.name == "renamed" and hook.enabled is False and hook.events == ["live"]
    assert client.get(url("destination_rotate", hook.pk)).status_code == 200
    old = hook.secret
    response = client.post(url("destination_rotate", hook.pk))
    hook.refresh_from_db()
    assert response.status_code == 200 and hook.secret != old and hook.secret in response.content.decode()
    assert client.get(url("destination_delete", hook.pk)).status_code == 200
    assert client.post(url("destination_delete", hook.pk)).status_code == 302
    assert not Destination.objects.exists()
    actions = list(AuditEvent.objects.filter(action__startswith="notification.").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["notification.destination_created", "notification.destination_updated",
                       "notification.secret_rotated", "notification.destination_deleted"]


def test_send_test_renders_the_result_in_place_with_htmx_and_as_a_page_without(client, ada, hook, receiver):
    client.force_login(ada)
    fragment = client.post(url("destination_test", hook.pk), headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in text
    assert "Delivered" in text and "HTTP 200" in text
    receiver.script(500)
    page = client.post(url("destination_test", hook.pk)).content.decode()
    assert "<html" in page and "Not delivered" in page and "HTTP 500" in page
    assert AuditEvent.objects.filter(action="notification.test_sent").count() == 2


def test_delivery_log_filters(client, ada, hook, receiver):
    receiver.script(503)
    services.send_test(hook, actor=ada)
    services.send_test(hook, actor=ada)
    client.force_login(ada)
    page = client.get(url("delivery_list")).content.decode()
    assert page.count('class="delivery"') == 2 and "503" in page
    failed = client.get(url("delivery_list"), {"status": "failed"}).content.decode()
    assert failed.count('class="delivery"') == 1 and 'data-status="failed"' in failed
    fragment = client.get(url("delivery_list"), {"status": "delivered"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode() and fragment.content.decode().count('class="delivery"') == 1
    assert client.get(url("delivery_list"), {"since": "nope"}).status_code == 422


def test_other_teams_get_404_and_viewers_read_only(client, ada, vera, grace, hook):
    services.send_test(hook, actor=ada)
    client.force_login(grace)
    for name in ("destination_edit", "destination_delete", "destination_rotate"):
        assert client.get(url(name, hook.pk)).status_code == 404
        assert client.post(url(name, hook.pk)).status_code == 404
    assert client.post(url("destination_test", hook.pk)).status_code == 404
    assert "#recsys-alerts" not in client.get(url("destination_list")).content.decode()
    assert 'class="delivery"' not in client.get(url("delivery_list")).content.decode()

    client.force_login(vera)
    listing = client.get(url("destination_list")).content.decode()
    assert "#recsys-alerts" in listing and "Send test" not in listing and "New destination" not in listing
    assert client.get(url("delivery_list")).status_code == 200
    assert client.get(url("destination_create")).status_code == 403
    for name in ("destination_edit", "destination_delete", "destination_rotate"):
        assert client.get(url(name, hook.pk)).status_code == 403
        assert client.post(url(name, hook.pk), {"name": "v", "events": ["live"]}).status_code == 403
    assert client.post(url("destination_test", hook.pk)).status_code == 403
    hook.refresh_from_db()
    assert hook.name == "#recsys-alerts" and Delivery.objects.count() == 1


def test_pages_query_counts_do_not_grow(client, ada, recsys, hook, django_assert_max_num_queries):
    client.force_login(ada)
    services.send_test(hook, actor=ada)
    with django_assert_max_num_queries(30) as few:
        client.get(url("destination_list"))
        client.get(url("delivery_list"))
    for i in range(12):
        Destination.objects.create(tenant=recsys, name=f"d{i}", url="https://hooks.example.com/", secret="s")
        services.send_test(hook, actor=ada)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url("destination_list"))
        client.get(url("delivery_list"))
