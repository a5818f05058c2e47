"""`/api/v1/me/`, `/api/v1/tenants/` and `/api/v1/audit/`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core import audit
from apps.core.models import AuditEvent
from tests import factories
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db


# --- me -------------------------------------------------------------------------------

def test_me_lists_teams_and_roles(as_user, ada, search):
    factories.user("ada", tenant=search, role="viewer")
    body = as_user(ada).get("/api/v1/me/").json()
    assert body["username"] == "ada" and body["is_platform"] is False and body["authenticated_by"] == "session"
    assert body["tenants"] == [{"slug": "recsys", "name": "Recommendations", "role": "data_scientist"},
                               {"slug": "search", "name": "Search", "role": "viewer"}]


def test_me_for_a_platform_engineer(as_user, linus):
    body = as_user(linus).get("/api/v1/me/").json()
    assert body["is_platform"] is True and body["tenants"] == []


def test_me_is_read_only_and_needs_a_caller(as_user, ada):
    assert_problem(as_user(None).get("/api/v1/me/"), 401)
    assert_problem(as_user(ada).post("/api/v1/me/", {"is_platform": True}), 405)
    ada.refresh_from_db()
    assert ada.is_platform is False


# --- tenants --------------------------------------------------------------------------

def test_member_sees_only_their_team_with_limits(as_user, vera, recsys, search):
    body = as_user(vera).get("/api/v1/tenants/").json()
    assert body["count"] == 1
    team = body["results"][0]
    assert team["slug"] == "recsys" and team["role"] == "viewer"
    assert team["gpu_quota"] == 8 and team["gpu_in_use"] == 0 and team["gpu_headroom"] == 8
    assert team["monthly_budget_usd"] == "10000.00" and team["rate_limit_per_minute"] == 600
    assert "webhook_url" not in team and team["webhook_configured"] is False


def test_other_team_is_404_and_platform_sees_all(as_user, ada, linus, recsys, search):
    assert_problem(as_user(ada).get("/api/v1/tenants/search/"), 404)
    assert as_user(ada).get("/api/v1/tenants/recsys/").json()["slug"] == "recsys"
    body = as_user(linus).get("/api/v1/tenants/").json()
    assert [t["slug"] for t in body["results"]] == ["recsys", "search"]
    assert all(t["role"] is None for t in body["results"])


@pytest.mark.parametrize("slug", ["nope", "UPPER", "a%00b", "x" * 300, "..", "%E2%80%AE"])
def test_unknown_or_malformed_slugs_are_404(as_user, linus, recsys, slug):
    assert_problem(as_user(linus).get(f"/api/v1/tenants/{slug}/"), 404)


def test_tenants_cannot_be_changed_through_this_api(as_user, linus, recsys):
    assert_problem(as_user(linus).patch("/api/v1/tenants/recsys/", {"gpu_quota": 999}), 405)
    recsys.refresh_from_db()
    assert recsys.gpu_quota == 8


# --- audit ----------------------------------------------------------------------------

@pytest.fixture
def events(recsys, search, ada, grace, ranker, finder):
    audit.record("model.updated", actor=ada, tenant=recsys, obj=ranker, after={"owner": "x"})
    audit.record("model.updated", actor=grace, tenant=search, obj=finder, after={"owner": "y"})
    audit.record("token.created", actor=grace, after={"name": "grace-ci"})  # grace's account event
    audit.record("checklist.evaluated", tenant=recsys, obj=ranker)  # the system


def test_members_see_their_teams_events_and_own_account_events(as_user, vera, grace, events):
    vera_body = as_user(vera).get("/api/v1/audit/").json()
    assert all(e["tenant"] == "recsys" or (e["tenant"] is None and e["actor"] == "vera")
               for e in vera_body["results"])
    assert {e["action"] for e in vera_body["results"]} == {"model.updated", "checklist.evaluated", "auth.login"}
    grace_actions = {(e["action"], e["tenant"]) for e in as_user(grace).get("/api/v1/audit/").json()["results"]}
    assert ("token.created", None) in grace_actions and ("model.updated", "search") in grace_actions
    assert not any(tenant == "recsys" for _, tenant in grace_actions)


def test_other_teams_event_detail_is_404(as_user, vera, events):
    hidden = AuditEvent.objects.get(action="model.updated", tenant__slug="search")
    assert_problem(as_user(vera).get(f"/api/v1/audit/{hidden.pk}/"), 404)


def test_ip_address_only_for_platform(as_user, vera, linus, events):
    assert "ip_address" not in as_user(vera).get("/api/v1/audit/").json()["results"][0]
    assert "ip_address" in as_user(linus).get("/api/v1/audit/").json()["results"][0]


def test_audit_filters(as_user, linus, events):
    client = as_user(linus)
    def actions(**params):
        return [(e["action"], e["actor"]) for e in client.get("/api/v1/audit/", params).json()["results"]]

    assert actions(action="model.updated", tenant="search") == [("model.updated", "grace")]
    assert set(actions(action="model.")) == {("model.updated", "ada"), ("model.updated", "grace")}
    assert actions(actor="system") == [("checklist.evaluated", "system")]
    assert {a for a, _ in actions(object_type="model")} == {"model.updated", "checklist.evaluated"}
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert actions(since=future) == []
    assert len(actions(until=future, tenant="recsys")) == 2


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-45T99:00"}, "until"),
    ({"source": "telepathy"}, "source"),
    ({"action": "x\x00"}, "action"),
    ({"actor": "a" * 151}, "actor"),
])
def test_bad_audit_filters_are_400_naming_the_parameter(as_user, linus, events, params, field):
    assert_problem(as_user(linus).get("/api/v1/audit/", params), 400, field=field)


def test_audit_log_cannot_be_written_through_the_api(as_user, linus, events):
    event = AuditEvent.objects.first()
    client = as_user(linus)
    count = AuditEvent.objects.count()
    assert_problem(client.post("/api/v1/audit/", {"action": "forged"}), 405)
    assert_problem(client.delete(f"/api/v1/audit/{event.pk}/"), 405)
    assert_problem(client.patch(f"/api/v1/audit/{event.pk}/", {"action": "forged"}), 405)
    assert AuditEvent.objects.count() == count
