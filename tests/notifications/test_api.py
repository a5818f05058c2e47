"""The notifications API: destinations (secret shown once), send test, rotate, the delivery log —
tenant isolation (404), viewers read-only (403), every write audited once, constant query counts."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.notifications import services
from apps.notifications.models import Delivery, Destination
from tests.api.conftest import JsonClient, assert_problem

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notifications/destinations/"
DELIVERIES = "/api/v1/notifications/deliveries/"


def detail(destination) -> str:
    return f"{LIST}{destination.pk}/"


def audits(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_create_shows_the_secret_once_and_is_audited(ada, recsys, receiver):
    client = JsonClient(ada)
    response = client.post(LIST, {"tenant": "recsys", "name": "#recsys-alerts", "url": receiver.url,
                                  "events": ["live", "rolled_back"]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["secret_set"] is True
    assert body["tenant"] == "recsys" and body["events"] == ["live", "rolled_back"] and body["kind"] == "webhook"
    assert Destination.objects.get().secret == body["secret"]
    again = client.get(detail(Destination.objects.get())).json()
    assert "secret" not in again and again["secret_set"] is True
    assert body["secret"] not in client.get(LIST).content.decode()
    event = AuditEvent.objects.get(action="notification.destination_created")
    assert event.actor_label == "ada" and event.tenant == recsys and body["secret"] not in str(event.after)
    assert event.source == "api"


def test_bad_input_is_a_problem_naming_the_field(ada, recsys, production):
    client = JsonClient(ada)
    assert_problem(client.post(LIST, {"tenant": "recsys", "name": "x", "url": "http://hooks.example.com/"}), 400,
                   field="url", code="https_required")
    assert_problem(client.post(LIST, {"tenant": "recsys", "name": "x", "url": "https://169.254.169.254/"}), 400,
                   field="url", code="address_refused")
    assert_problem(client.post(LIST, {"tenant": "recsys", "name": "x", "url": "https://127.0.0.1/"}), 400,
                   field="url", code="address_refused")
    assert_problem(client.post(LIST, {"tenant": "recsys", "name": "x", "kind": "email", "email": "nope"}), 400,
                   field="email", code="invalid_email")
    assert_problem(client.post(LIST, {"tenant": "recsys", "name": "x", "events": ["boom"]}), 400, field="events.0")
    assert_problem(client.post(LIST, {"tenant": "recsys", "name": 5}), 400, field="name")
    assert_problem(client.post(LIST, {"tenant": "recsys", "name": "x", "secret": "mine"}), 400, field="secret",
                   code="unknown_field")
    assert_problem(client.post(LIST, raw="{not json"), 400)
    assert not Destination.objects.exists() and not AuditEvent.objects.filter(action__startswith="notification.").exists()


def test_patch_delete_test_and_rotate(ada, recsys, hook, receiver):
    client = JsonClient(ada)
    response = client.patch(detail(hook), {"name": "renamed", "enabled": False, "events": ["failed"]})
    assert response.status_code == 200 and response.json()["name"] == "renamed"
    assert audits("notification.destination_updated") == 1
    event = AuditEvent.objects.get(action="notification.destination_updated")
    assert event.before == {"name": "#recsys-alerts", "enabled": True, "events": hook.events}
    assert event.after == {"name": "renamed", "enabled": False, "events": ["failed"]}
    assert_problem(client.patch(detail(hook), {"kind": "email"}), 400, field="kind")
    assert_problem(client.patch(detail(hook), {"url": "https://169.254.169.254/"}), 400, field="url")

    tested = client.post(f"{detail(hook)}test/")
    assert tested.status_code == 200
    assert tested.json()["status"] == "delivered" and tested.json()["last_status_code"] == 200
    assert tested.json()["attempt_log"][0]["status_code"] == 200
    assert receiver.requests[0].headers["X-Slipway-Event"] == "test" and receiver.requests[0].verified
    assert audits("notification.test_sent") == 1

    rotated = client.post(f"{detail(hook)}rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] != receiver.secret
    assert audits("notification.secret_rotated") == 1
    hook.refresh_from_db()
    assert hook.secret == rotated.json()["secret"]

    assert client.delete(detail(hook)).status_code == 204
    assert audits("notification.destination_deleted") == 1
    assert not Destination.objects.exists()
    # The delivery log outlives the destination.
    kept = Delivery.objects.get()
    assert kept.destination is None and kept.destination_name == "renamed"


def test_every_write_is_exactly_one_audit_event(ada, hook):
    client = JsonClient(ada)
    for method, url, body, action in [
        ("patch", detail(hook), {"name": "b"}, "notification.destination_updated"),
        ("post", f"{detail(hook)}test/", None, "notification.test_sent"),
        ("post", f"{detail(hook)}rotate-secret/", None, "notification.secret_rotated"),
        ("delete", detail(hook), None, "notification.destination_deleted"),
    ]:
        before = AuditEvent.objects.count()
        response = getattr(client, method)(url, body) if body is not None else getattr(client, method)(url)
        assert response.status_code in (200, 204), (url, response.content)
        assert AuditEvent.objects.count() == before + 1
        assert AuditEvent.objects.latest("id").action == action


def test_other_teams_get_404_and_viewers_403(ada, vera, grace, hook, recsys):
    services.send_test(hook, actor=ada)
    delivery = Delivery.objects.get()
    outsider = JsonClient(grace)
    for method, url in [("get", detail(hook)), ("patch", detail(hook)), ("delete", detail(hook)),
                        ("post", f"{detail(hook)}test/"), ("post", f"{detail(hook)}rotate-secret/"),
                        ("get", f"{DELIVERIES}{delivery.pk}/")]:
        assert_problem(getattr(outsider, method)(url), 404)
    assert outsider.get(LIST).json()["count"] == 0 and outsider.get(DELIVERIES).json()["count"] == 0
    assert outsider.get(DELIVERIES, {"tenant": "recsys"}).json()["count"] == 0
    assert_problem(outsider.post(LIST, {"tenant": "recsys", "name": "x", "url": "https://example.com/"}), 400,
                   field="tenant")

    viewer = JsonClient(vera)
    assert viewer.get(LIST).json()["count"] == 1 and viewer.get(detail(hook)).status_code == 200
    assert viewer.get(DELIVERIES).json()["count"] == 1
    for method, url, body in [("patch", detail(hook), {"name": "v"}), ("delete", detail(hook), None),
                              ("post", f"{detail(hook)}test/", None), ("post", f"{detail(hook)}rotate-secret/", None),
                              ("post", LIST, {"tenant": "recsys", "name": "v", "url": "https://example.com/"})]:
        response = getattr(viewer, method)(url, body) if body is not None else getattr(viewer, method)(url)
        assert_problem(response, 403)
    hook.refresh_from_db()
    assert hook.name == "#recsys-alerts" and Delivery.objects.count() == 1


def test_platform_engineers_manage_any_team(linus, recsys, receiver):
    client = JsonClient(linus)
    response = client.post(LIST, {"tenant": "recsys", "name": "platform-watch", "url": receiver.url})
    assert response.status_code == 201
    assert client.get(LIST).json()["count"] == 1


def test_delivery_log_filters(ada, recsys, hook, receiver):
    receiver.script(500)
    services.send_test(hook, actor=ada)
    services.send_test(hook, actor=ada)
    client = JsonClient(ada)
    assert client.get(DELIVERIES).json()["count"] == 2
    failed = client.get(DELIVERIES, {"status": "failed"}).json()
    assert failed["count"] == 1 and failed["results"][0]["last_status_code"] == 500
    assert client.get(DELIVERIES, {"status": "delivered", "event": "test"}).json()["count"] == 1
    assert client.get(DELIVERIES, {"destination": hook.pk}).json()["count"] == 2
    assert client.get(DELIVERIES, {"destination": hook.pk + 1}).json()["count"] == 0
    assert client.get(DELIVERIES, {"event": "live"}).json()["count"] == 0
    assert_problem(client.get(DELIVERIES, {"status": "bogus"}), 400, field="status")
    assert_problem(client.get(DELIVERIES, {"since": "yesterday"}), 400, field="since")


def test_list_queries_do_not_grow_with_rows(ada, recsys, hook, django_assert_max_num_queries):
    client = JsonClient(ada)
    services.send_test(hook, actor=ada)
    with django_assert_max_num_queries(12) as few:
        client.get(DELIVERIES)
        client.get(LIST)
    for i in range(15):
        Destination.objects.create(tenant=recsys, name=f"d{i}", url="https://hooks.example.com/", secret="s")
        services.send_test(hook, actor=ada)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(DELIVERIES)
        client.get(LIST)
