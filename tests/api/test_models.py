"""`/api/v1/models/`: list, create, read, change, delete — tenancy, roles, bad input, audit."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.registry.models import Model
from tests import factories
from tests.api.conftest import Counts, assert_problem

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/"
NEW = {"tenant": "recsys", "name": "churn", "description": "Who leaves next month.", "owner": "ada@example.com",
       "oncall": "#recsys", "sla_p99_ms": 150, "primary_metric": "auc", "primary_metric_floor": 0.75,
       "higher_is_better": True}


def detail(model) -> str:
    return f"{URL}{model.pk}/"


# --- list -----------------------------------------------------------------------------

def test_list_shows_only_the_callers_teams(as_user, ada, ranker, finder):
    response = as_user(ada).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    assert [m["name"] for m in body["results"]] == ["ranker"]
    row = body["results"][0]
    assert row["tenant"] == "recsys" and row["sla_p99_ms"] == 200 and row["primary_metric"] == "auc"


def test_platform_engineer_lists_every_team(as_user, linus, ranker, finder):
    body = as_user(linus).get(URL).json()
    assert {m["name"] for m in body["results"]} == {"ranker", "finder"}


def test_list_filters_by_search_and_team(as_user, linus, ranker, finder, recsys):
    factories.model(recsys, "ctr", description="click-through home feed")
    client = as_user(linus)
    assert [m["name"] for m in client.get(URL, {"q": "home feed"}).json()["results"]] == ["ctr", "ranker"]
    assert [m["name"] for m in client.get(URL, {"tenant": "search"}).json()["results"]] == ["finder"]
    # A member filtering on another team's slug sees nothing (no error that confirms the team).
    assert as_user_count(client, URL, {"tenant": "nope"}) == 0


def as_user_count(client, url, params) -> int:
    return client.get(url, params).json()["count"]


def test_member_filtering_on_another_team_gets_nothing(as_user, ada, finder):
    assert as_user(ada).get(URL, {"tenant": "search"}).json()["count"] == 0


def test_list_paginates(as_user, linus, recsys):
    for i in range(7):
        factories.model(recsys, f"m{i}")
    first = as_user(linus).get(URL, {"page_size": 3}).json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    assert "page=2" in first["next"]
    last = as_user(linus).get(URL, {"page_size": 3, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None


def test_anonymous_gets_401_problem(as_user, ranker):
    response = as_user(None).get(URL)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


# --- create ---------------------------------------------------------------------------

def test_data_scientist_creates_a_model_with_an_audit_event(as_user, ada, recsys):
    response = as_user(ada).post(URL, NEW)
    assert response.status_code == 201, response.content
    body = response.json()
    model = Model.objects.get(pk=body["id"])
    assert model.tenant == recsys and model.created_by == ada and model.mlflow_name == "churn"
    assert body["created_by"] == "ada" and body["tenant"] == "recsys" and body["primary_metric_floor"] == 0.75
    event = AuditEvent.objects.get(action="model.created")
    assert event.object_id == str(model.pk) and event.actor == ada and event.source == "api"
    assert event.tenant_id == recsys.pk


def test_create_in_another_team_is_refused_naming_the_tenant_field(as_user, ada, search):
    client = as_user(ada)
    counts = Counts()
    response = client.post(URL, {**NEW, "tenant": "search"})
    assert_problem(response, 400, field="tenant", code="does_not_exist")
    # The same answer as for a team that does not exist: no existence leak.
    unknown = client.post(URL, {**NEW, "tenant": "no-such-team"})
    assert response.json()["errors"][0]["message"].replace("search", "X") == \
        unknown.json()["errors"][0]["message"].replace("no-such-team", "X")
    assert counts.unchanged()


def test_viewer_cannot_create(as_user, vera):
    client = as_user(vera)
    counts = Counts()
    assert_problem(client.post(URL, NEW), 403, code="not_permitted")
    assert counts.unchanged()


def test_platform_engineer_creates_in_any_team(as_user, linus, search):
    response = as_user(linus).post(URL, {**NEW, "tenant": "search"})
    assert response.status_code == 201
    assert Model.objects.get(pk=response.json()["id"]).tenant == search


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"name": "Bad Name!"}, "name", "invalid"),
    ({"name": "x" * 64}, "name", "max_length"),
    ({"name": "ok\x00"}, "name", "null_characters_not_allowed"),
    ({"name": 42}, "name", "invalid"),
    ({"name": ["a"]}, "name", "invalid"),
    ({"description": "d" * 5001}, "description", "max_length"),
    ({"sla_p99_ms": 0}, "sla_p99_ms", "min_value"),
    ({"sla_p99_ms": "fast"}, "sla_p99_ms", "invalid"),
    ({"sla_p99_ms": 10**30}, "sla_p99_ms", "max_value"),
    ({"primary_metric_floor": "high"}, "primary_metric_floor", "invalid"),
    ({"higher_is_better": "yes"}, "higher_is_better", "invalid"),
    ({"tenant": None}, "tenant", "null"),
    ({"tenant": {"slug": "recsys"}}, "tenant", None),
    ({"created_by": 1}, "created_by", None),
    ({"artifact_digest": "sha256:0"}, "artifact_digest", "unknown_field"),
    ({"nmae": "typo"}, "nmae", "unknown_field"),
])
def test_bad_input_names_the_field_and_writes_nothing(as_user, ada, body, field, code):
    client = as_user(ada)
    counts = Counts()
    response = client.post(URL, {**NEW, **body})
    if field == "created_by":
        # created_by is an output field: echoed back, it is ignored — never applied.
        assert response.status_code == 201
        assert Model.objects.get(pk=response.json()["id"]).created_by == ada
        return
    assert_problem(response, 400, field=field, code=code)
    assert counts.unchanged()


def test_duplicate_name_is_a_400_on_name(as_user, ada, ranker):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(URL, {**NEW, "name": "ranker"}), 400, field="name", code="duplicate_name")
    assert counts.unchanged()


def test_missing_required_fields(as_user, ada):
    body = assert_problem(as_user(ada).post(URL, {}), 400)
    assert {e["field"] for e in body["errors"]} == {"tenant", "name"}


# --- read, change, delete -------------------------------------------------------------

def test_read_own_model_and_404_for_another_teams(as_user, ada, ranker, finder):
    assert as_user(ada).get(detail(ranker)).json()["name"] == "ranker"
    assert_problem(as_user(ada).get(detail(finder)), 404)


def test_patch_changes_fields_and_audits_before_and_after(as_user, ada, ranker):
    response = as_user(ada).patch(detail(ranker), {"sla_p99_ms": 90, "owner": "bob@example.com"})
    assert response.status_code == 200, response.content
    assert response.json()["sla_p99_ms"] == 90
    ranker.refresh_from_db()
    assert ranker.sla_p99_ms == 90 and ranker.owner == "bob@example.com"
    event = AuditEvent.objects.get(action="model.updated")
    assert event.before == {"sla_p99_ms": 200, "owner": "ada@example.com"}
    assert event.after == {"sla_p99_ms": 90, "owner": "bob@example.com"}


def test_patch_ignores_echoed_read_only_fields(as_user, ada, ranker, grace):
    fetched = as_user(ada).get(detail(ranker)).json()
    response = as_user(ada).patch(detail(ranker), {**fetched, "id": 999999, "created_by": "grace",
                                                   "created_at": "2001-01-01T00:00:00Z", "owner": "new"})
    assert response.status_code == 200, response.content
    ranker.refresh_from_db()
    assert ranker.pk != 999999 and ranker.created_by_id is None and ranker.owner == "new"


def test_patch_cannot_move_a_model_to_another_team(as_user, linus, ranker):
    client = as_user(linus)
    counts = Counts()
    assert_problem(client.patch(detail(ranker), {"tenant": "search"}), 400, field="tenant", code="read_only")
    ranker.refresh_from_db()
    assert ranker.tenant.slug == "recsys" and counts.unchanged()


def test_patch_refuses_mass_assignment_of_unknown_fields(as_user, ada, ranker):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.patch(detail(ranker), {"artifact_digest": "sha256:evil"}), 400,
                   field="artifact_digest", code="unknown_field")
    assert counts.unchanged()


def test_patch_bad_value_writes_nothing(as_user, ada, ranker):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.patch(detail(ranker), {"name": "UPPER"}), 400, field="name")
    ranker.refresh_from_db()
    assert ranker.name == "ranker" and counts.unchanged()


def test_viewer_cannot_patch_or_delete(as_user, vera, ranker):
    client = as_user(vera)
    counts = Counts()
    assert_problem(client.patch(detail(ranker), {"owner": "x"}), 403)
    assert_problem(client.delete(detail(ranker)), 403)
    assert counts.unchanged()


def test_other_team_cannot_patch_or_delete(as_user, grace, ranker):
    client = as_user(grace)
    counts = Counts()
    assert_problem(client.patch(detail(ranker), {"owner": "x"}), 404)
    assert_problem(client.delete(detail(ranker)), 404)
    assert counts.unchanged()


def test_put_is_not_offered(as_user, ada, ranker):
    assert_problem(as_user(ada).put(detail(ranker), {"name": "x"}), 405)


def test_delete_removes_the_model_with_an_audit_event(as_user, ada, ranker):
    response = as_user(ada).delete(detail(ranker))
    assert response.status_code == 204
    assert not Model.objects.filter(pk=ranker.pk).exists()
    event = AuditEvent.objects.get(action="model.deleted")
    assert event.object_id == str(ranker.pk) and event.before["name"] == "ranker"
