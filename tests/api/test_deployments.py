# ruff: noqa: F811  (pytest fixtures imported from tests/deployments/conftest.py are named as arguments)
"""`/api/v1/deployments/`: list, request, plan, detail, approve/reject and rollout controls.

Tenancy (another team → 404 on every route), roles (viewer → 403, separation of duties),
bad input (4xx problem naming the field, nothing written) and constant query counts.
"""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.deployments import services
from apps.deployments.choices import DeploymentStatus, Phase
from apps.deployments.models import Approval, Deployment, Rollout, RolloutEvent
from apps.readiness.choices import ItemStatus
from tests import factories
from tests.api.conftest import assert_problem
from tests.deployments.conftest import SMALL, make_version, production, reconcile_spy, staging  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reconcile_spy")]

S = DeploymentStatus
URL = "/api/v1/deployments/"
PLAN = URL + "plan/"
PROD = {**SMALL, "soak_seconds": 300}


def detail(d) -> str:
    return f"{URL}{d.pk}/"


def act(d, name: str) -> str:
    return f"{URL}{d.pk}/{name}/"


class Written:
    """Rows a refused request must leave untouched (sign-ins and tokens are audited too, so
    only deployment and approval audit events count)."""

    def __init__(self):
        self.before = self.snapshot()

    @staticmethod
    def snapshot():
        return (Deployment.objects.count(), Rollout.objects.count(), RolloutEvent.objects.count(),
                Approval.objects.count(),
                AuditEvent.objects.filter(action__regex=r"^(deployment|approval)\.").count(),
                list(Deployment.objects.order_by("pk").values_list("pk", "status")))

    def unchanged(self) -> bool:
        return self.snapshot() == self.before


@pytest.fixture
def ctr(recsys):
    return factories.model(recsys, "ctr-ranker")


@pytest.fixture
def v1(ctr):
    return make_version(ctr, 1)


@pytest.fixture
def v2(ctr):
    return make_version(ctr, 2)


@pytest.fixture
def finder_v1(search):
    return make_version(factories.model(search, "finder"), 1)


@pytest.fixture
def queued(ada, v1, staging):
    """A staging deployment of ada's, queued (staging needs no approval)."""
    return services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)


@pytest.fixture
def pending(ada, v1, production):
    """A production request of ada's, waiting for a platform engineer."""
    return services.request_deployment(v1, environment="production", config=PROD, actor=ada)


def progressing(d: Deployment) -> Deployment:
    """Put a deployment mid-canary without a cluster (the engine has its own tests)."""
    Deployment.objects.filter(pk=d.pk).update(status=S.PROGRESSING)
    Rollout.objects.filter(deployment=d).update(phase=Phase.STEP, step_index=0, canary_weight=5)
    d.refresh_from_db()
    return d


# --- list -----------------------------------------------------------------------------

def test_list_shows_only_the_callers_teams(as_user, ada, grace, linus, queued, finder_v1):
    theirs = services.request_deployment(finder_v1, environment="staging", config=SMALL, actor=grace)
    body = as_user(ada).get(URL).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [d["id"] for d in body["results"]] == [queued.pk]
    row = body["results"][0]
    assert row == {**row, "tenant": "recsys", "model_name": "ctr-ranker", "version_number": 1,
                   "environment": "staging", "status": "queued", "strategy": "canary", "phase": "pending",
                   "step_index": -1, "canary_weight": 0, "peak_gpus": 1, "reserved_gpus": 1, "previous": None,
                   "requested_by": "ada"}
    assert "analyses" not in row and "events" not in row  # detail only
    assert [d["id"] for d in as_user(grace).get(URL).json()["results"]] == [theirs.pk]
    assert {d["id"] for d in as_user(linus).get(URL).json()["results"]} == {queued.pk, theirs.pk}


def test_list_filters(as_user, ada, linus, ctr, v1, v2, staging, production, finder_v1, grace):
    a = services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    b = services.request_deployment(v2, environment="production", config=PROD, actor=ada)
    c = services.request_deployment(finder_v1, environment="staging", config=SMALL, actor=grace)
    client = as_user(linus)

    def ids(**params) -> set[int]:
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {d["id"] for d in response.json()["results"]}

    assert ids(model=ctr.pk) == {a.pk, b.pk}
    assert ids(environment="production") == {b.pk}
    assert ids(status="queued") == {a.pk, c.pk}
    assert ids(status="queued,pending_approval") == {a.pk, b.pk, c.pk}
    assert ids(tenant="search") == {c.pk}
    assert ids(version=v2.pk) == {b.pk}
    assert ids(tenant="recsys", environment="staging", status="queued,live") == {a.pk}
    # A member filtering on another team gets nothing, not an error that confirms it exists.
    assert {d["id"] for d in as_user(ada).get(URL, {"tenant": "search"}).json()["results"]} == set()


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "bogus"}, "status"),
    ({"status": "queued,bogus"}, "status"),
    ({"model": "abc"}, "model"),
    ({"model": "1.5"}, "model"),
    ({"model": "99999999999999999999999999"}, "model"),
    ({"version": "-3"}, "version"),
    ({"environment": "x" * 41}, "environment"),
    ({"tenant": "re\x00cs"}, "tenant"),
])
def test_bad_filters_are_400_naming_the_parameter(as_user, ada, queued, params, field):
    assert_problem(as_user(ada).get(URL, params), 400, field=field)


def test_list_paginates(as_user, linus, ada, ctr, staging):
    for number in range(1, 6):
        d = services.request_deployment(make_version(ctr, number), environment="staging", config=SMALL, actor=ada)
        services.abort(d, actor=ada)  # one active rollout per model and environment
    first = as_user(linus).get(URL, {"page_size": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and "page=2" in first["next"]


def _grow(ctr, ada, n: int, start: int) -> None:
    for number in range(start, start + n):
        d = services.request_deployment(make_version(ctr, number), environment="staging", config=SMALL, actor=ada)
        services.abort(d, actor=ada, reason="make room")


@pytest.mark.parametrize("who", ["ada", "linus"])
@pytest.mark.parametrize("params", [{}, {"status": "rolled_back,queued", "environment": "staging",
                                         "tenant": "recsys"}])
def test_list_query_count_is_constant_in_rows(bearer, ada, linus, ctr, staging, who, params,
                                              django_assert_max_num_queries):
    client = bearer(ada if who == "ada" else linus)
    _grow(ctr, ada, 3, 1)
    client.get(URL, params)  # warm-up: the token's last_used_at stamp
    with django_assert_max_num_queries(10) as small:
        response = client.get(URL, params)
        assert response.status_code == 200 and response.json()["count"] == 3
    _grow(ctr, ada, 30, 4)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        response = client.get(URL, params)
        assert response.status_code == 200 and response.json()["count"] == 33
    assert len(large.captured_queries) == len(small.captured_queries)


def test_anonymous_is_401_on_every_route(as_user, queued):
    anonymous = as_user(None)
    assert_problem(anonymous.get(URL), 401)
    assert_problem(anonymous.get(detail(queued)), 401)
    counts = Written()
    for name in ("approve", "reject", "pause", "resume", "promote", "abort", "rollback"):
        assert_problem(anonymous.post(act(queued, name), {}), 401)
    assert_problem(anonymous.post(URL, {"version": 1, "environment": "staging"}), 401)
    assert_problem(anonymous.post(PLAN, {"version": 1, "environment": "staging"}), 401)
    assert counts.unchanged()


# --- request --------------------------------------------------------------------------

def test_data_scientist_requests_staging_queued_at_once(as_user, ada, v1, staging, reconcile_spy,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(ada).post(URL, {"version": v1.pk, "environment": "staging", "config": SMALL})
    assert response.status_code == 201, response.content
    body = response.json()
    d = Deployment.objects.get()
    assert body["id"] == d.pk and body["status"] == "queued" and body["environment"] == "staging"
    assert body["config"] == d.config and body["config"]["steps"] == [5, 25, 50, 100]
    assert body["config"]["image"] == v1.image_digest  # defaults filled in
    assert body["rollout"]["steps"] == [5, 25, 50, 100] and body["rollout"]["stable_weight"] == 100
    assert body["cluster"] == {"namespace": "slipway-recsys-staging", "workload": "ctr-ranker-v1"}
    assert body["events"][0]["actor"] == "ada" and body["approvals"] == []
    assert reconcile_spy == [d.rollout.pk]
    assert AuditEvent.objects.filter(action="deployment.requested", object_id=str(d.pk)).count() == 1


def test_production_request_waits_for_approval_and_enqueues_nothing(as_user, ada, v1, production, reconcile_spy,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(ada).post(URL, {"version": v1.pk, "environment": "production", "config": PROD})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending_approval"
    assert reconcile_spy == []


def test_request_without_config_takes_the_defaults(as_user, ada, v1, staging):
    response = as_user(ada).post(URL, {"version": v1.pk, "environment": "staging"})
    assert response.status_code == 201, response.content
    config = response.json()["config"]
    assert config["instance_type"] == "g5.xlarge" and config["soak_seconds"] == staging.default_soak_seconds


def test_bearer_token_automation_can_request(bearer, ada, v1, staging):
    response = bearer(ada).post(URL, {"version": v1.pk, "environment": "staging", "config": SMALL})
    assert response.status_code == 201, response.content
    assert Deployment.objects.get().requested_by == ada


BAD_REQUESTS = [
    # (body changes, status, field, code)
    ({"colour": "blue"}, 400, "colour", "unknown_field"),
    ({"version": "abc"}, 400, "version", "invalid"),
    ({"version": True}, 400, "version", "invalid"),
    ({"version": 1.5}, 400, "version", "invalid"),
    ({"version": 10**20}, 400, "version", "max_value"),
    ({"version": None}, 400, "version", "null"),
    ({"environment": 5}, 400, "environment", "invalid"),
    ({"environment": "moon"}, 400, "environment", "unknown_environment"),
    ({"environment": "stag\x00ing"}, 400, "environment", "null_characters_not_allowed"),
    ({"environment": "s" * 41}, 400, "environment", "max_length"),
    ({"config": [1, 2]}, 400, "config", "invalid"),
    ({"config": {**SMALL, "colour": "blue"}}, 400, "config.colour", "unknown_field"),
    ({"config": {**SMALL, "steps": [5, 25, 50]}}, 400, "config.steps", "must_end_at_100"),
    ({"config": {**SMALL, "steps": [50, 25, 100]}}, 400, "config.steps", "not_increasing"),
    ({"config": {**SMALL, "soak_seconds": 5}}, 400, "config.soak_seconds", "below_minimum_soak"),
    ({"config": {**SMALL, "instance_type": "x9.huge"}}, 400, "config.instance_type", "unknown_instance_type"),
    ({"config": {**SMALL, "instance_type": "g5.xlarge", "gpus_per_replica": 2}}, 400, "config.gpus_per_replica",
     "exceeds_instance"),
    ({"config": {**SMALL, "min_replicas": 3, "max_replicas": 2}}, 400, "config.max_replicas", "min_above_max"),
    ({"config": {**SMALL, "spot_percent": 101}}, 400, "config.spot_percent", "out_of_range"),
    ({"config": {**SMALL, "spot_percent": "lots"}}, 400, "config.spot_percent", "invalid"),
    ({"config": {**SMALL, "min_replicas": "²"}}, 400, "config.min_replicas", "invalid"),
    ({"config": {**SMALL, "min_replicas": "9" * 5000}}, 400, "config.min_replicas", "invalid"),
    ({"config": {**SMALL, "strategy": "yolo"}}, 400, "config.strategy", "invalid_choice"),
    ({"config": {**SMALL, "image": "evil\x00image"}}, 400, "config.image", "invalid"),
    ({"config": {**SMALL, "autoscaling": {"gpu_utilization": 0}}}, 400, "config.autoscaling.gpu_utilization",
     "out_of_range"),
]


@pytest.mark.parametrize(("change", "status", "field", "code"), BAD_REQUESTS)
@pytest.mark.parametrize("url", [URL, PLAN])
def test_bad_request_bodies_name_the_field_and_write_nothing(as_user, ada, v1, staging, url, change, status,
                                                             field, code):
    body = {"version": v1.pk, "environment": "staging", "config": SMALL, **change}
    counts = Written()
    assert_problem(as_user(ada).post(url, body), status, field=field, code=code)
    assert counts.unchanged()


@pytest.mark.parametrize("url", [URL, PLAN])
def test_missing_version_and_environment_are_named(as_user, ada, url):
    body = assert_problem(as_user(ada).post(url, {}), 400)
    assert {e["field"] for e in body["errors"]} == {"version", "environment"}


@pytest.mark.parametrize("url", [URL, PLAN])
def test_another_teams_version_is_404_naming_the_field(as_user, ada, finder_v1, staging, url):
    counts = Written()
    body = assert_problem(as_user(ada).post(url, {"version": finder_v1.pk, "environment": "staging",
                                                  "config": SMALL}), 404, field="version", code="not_found")
    assert "finder" not in str(body)
    # The same answer as an id that does not exist: no existence leak.
    missing = as_user(ada).post(url, {"version": finder_v1.pk + 1000, "environment": "staging", "config": SMALL})
    assert missing.json()["detail"] == body["detail"]
    assert counts.unchanged()


@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b"null", b'"x"', b"\x00\x01"])
def test_malformed_bodies_are_400(as_user, ada, raw):
    counts = Written()
    assert_problem(as_user(ada).post(URL, raw=raw), 400)
    assert counts.unchanged()


def test_viewer_cannot_request(as_user, vera, v1, staging):
    counts = Written()
    assert_problem(as_user(vera).post(URL, {"version": v1.pk, "environment": "staging", "config": SMALL}), 403)
    assert counts.unchanged()


def test_quota_refusal_names_the_numbers(as_user, ada, recsys, v1, staging):
    recsys.gpu_quota = 2
    recsys.save()
    counts = Written()
    response = as_user(ada).post(URL, {"version": v1.pk, "environment": "staging",
                                       "config": {**SMALL, "min_replicas": 3, "max_replicas": 3}})
    body = assert_problem(response, 400, code="gpu_quota_exceeded")
    assert body["gpu"] == {"quota": 2, "in_use": 0, "headroom": 2, "needed": 3}
    assert "3" in body["detail"] and "2" in body["detail"]
    assert counts.unchanged()


def test_production_refuses_a_version_that_is_not_ready_naming_the_items(as_user, ada, ctr, production):
    version = make_version(ctr, 7, ready=False)
    version.checklist.exclude(key__in=["fallback", "bias_review"]).update(status=ItemStatus.PASS)
    counts = Written()
    body = assert_problem(as_user(ada).post(URL, {"version": version.pk, "environment": "production",
                                                  "config": PROD}), 400, field="version", code="version_not_ready")
    assert "fallback" in body["detail"] and "bias_review" in body["detail"]
    assert counts.unchanged()


def test_second_active_rollout_of_the_model_is_409(as_user, ada, queued, v2):
    counts = Written()
    assert_problem(as_user(ada).post(URL, {"version": v2.pk, "environment": "staging", "config": SMALL}), 409,
                   code="deployment_in_progress")
    assert counts.unchanged()


# --- plan -----------------------------------------------------------------------------

def test_plan_shows_capacity_price_and_readiness_and_writes_nothing(as_user, ada, v1, staging):
    counts = Written()
    response = as_user(ada).post(PLAN, {"version": v1.pk, "environment": "staging",
                                        "config": {**SMALL, "min_replicas": 2, "spot_percent": 50}})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["config"]["min_replicas"] == 2 and body["config"]["steps"] == [5, 25, 50, 100]
    assert (body["peak_gpus"], body["reserved_gpus"], body["quota"], body["in_use"], body["headroom"]) == (
        2, 2, 8, 0, 8)
    assert body["fits"] is True and body["would_be_refused"] is False and body["strategy"] == "canary"
    # g5.xlarge: (1.0060 + 0.4024) / 2 × 2 replicas
    assert body["hourly_usd"] == "1.41"
    assert body["instance"]["name"] == "g5.xlarge" and body["instance"]["price_date"] == "2025-07-01"
    assert body["ready"] is True and body["failing"] == [] and body["requires_approval"] is False
    assert body["previous"] is None and body["batches"] == []
    assert counts.unchanged()


def test_plan_that_does_not_fit_says_so_with_200(as_user, ada, recsys, v1, staging):
    recsys.gpu_quota = 1
    recsys.save()
    body = as_user(ada).post(PLAN, {"version": v1.pk, "environment": "staging",
                                    "config": {**SMALL, "min_replicas": 3, "max_replicas": 3}}).json()
    assert body["fits"] is False and body["would_be_refused"] is True
    assert (body["peak_gpus"], body["headroom"]) == (3, 1)


def test_plan_for_production_lists_the_failing_items(as_user, ada, ctr, production):
    version = make_version(ctr, 3, ready=False)
    version.checklist.exclude(key="bias_review").update(status=ItemStatus.PASS)
    body = as_user(ada).post(PLAN, {"version": version.pk, "environment": "production", "config": PROD}).json()
    assert body["ready"] is False and body["failing"] == ["bias_review"]
    assert body["requires_approval"] is True and body["would_be_refused"] is True


def test_plan_rolling_shows_batches_that_fit_the_headroom(as_user, ada, recsys, ctr, v1, v2, staging):
    live = services.request_deployment(v1, environment="staging", config={**SMALL, "min_replicas": 4,
                                                                         "max_replicas": 4}, actor=ada)
    Deployment.objects.filter(pk=live.pk).update(status=S.LIVE)
    recsys.gpu_quota = 6  # 4 in use by the live version, 2 free
    recsys.save()
    body = as_user(ada).post(PLAN, {"version": v2.pk, "environment": "staging", "config": {
        **SMALL, "min_replicas": 4, "max_replicas": 4, "strategy": "rolling"}}).json()
    assert body["strategy"] == "rolling" and body["fits"] is True and body["previous"] == live.pk
    assert (body["in_use"], body["headroom"], body["peak_gpus"]) == (4, 2, 2)
    assert [b[0] for b in body["batches"]] == [2, 4] and body["batches"][-1][2] == 100


def test_viewer_may_compute_a_plan(as_user, vera, v1, staging):
    assert as_user(vera).post(PLAN, {"version": v1.pk, "environment": "staging", "config": SMALL}).status_code == 200


# --- detail ---------------------------------------------------------------------------

def test_detail_shows_rollout_events_approvals_and_cluster(as_user, ada, linus, pending):
    as_user(linus).post(act(pending, "approve"), {"comment": "looks good"})
    response = as_user(ada).get(detail(pending))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "queued" and body["status_reason"].startswith("Approved by linus")
    rollout = body["rollout"]
    assert set(rollout) >= {"phase", "step_index", "steps", "canary_weight", "stable_weight", "guard_until",
                            "inconclusive_count", "batches"}
    assert rollout["steps"] == [5, 25, 50, 100] and rollout["step_index"] == -1
    assert body["cluster"] == {"namespace": "slipway-recsys", "workload": "ctr-ranker-v1"}
    [approval] = body["approvals"]
    assert approval["decision"] == "approved" and approval["decided_by"] == "linus"
    assert approval["comment"] == "looks good" and approval["config_hash"] == pending.config_hash
    assert approval["artifact_digest"] == pending.version.artifact_digest and approval["expires_at"]
    assert [e["to_status"] for e in body["events"]] == ["pending_approval", "queued"]
    assert body["previous"] is None and body["analyses"] == []


@pytest.mark.parametrize("path", ["abc", "-1", "1.5", "99999999999999999999", "%00"])
def test_bad_ids_are_404_problems(as_user, ada, path):
    assert_problem(as_user(ada).get(f"{URL}{path}/"), 404)
    assert_problem(as_user(ada).post(f"{URL}{path}/abort/", {}), 404)


def test_detail_query_count_does_not_grow_with_events(as_user, ada, queued, django_assert_max_num_queries):
    client = as_user(ada)
    with django_assert_max_num_queries(20) as small:
        assert client.get(detail(queued)).status_code == 200
    for i in range(20):
        services._event(queued, ada, "note", "queued", "queued", f"note {i}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(detail(queued)).json()["events"]) == 21


# --- another team: 404 on every route -------------------------------------------------

ROUTES = [("get", None), *[("post", name) for name in ("approve", "reject", "pause", "resume", "promote",
                                                       "abort", "rollback")]]


@pytest.mark.parametrize(("method", "name"), ROUTES)
@pytest.mark.parametrize("auth", ["session", "token"])
def test_another_teams_deployment_is_404_everywhere(as_user, bearer, grace, queued, method, name, auth):
    client = as_user(grace) if auth == "session" else bearer(grace)
    counts = Written()
    if method == "get":
        response = client.get(detail(queued))
    else:
        response = client.post(act(queued, name), {"comment": "x"} if name in ("approve", "reject") else {})
    body = assert_problem(response, 404)
    assert "ctr-ranker" not in str(body)
    assert counts.unchanged()


# --- approve / reject -----------------------------------------------------------------

def test_platform_engineer_approves_and_the_rollout_is_enqueued(as_user, linus, pending, reconcile_spy,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(linus).post(act(pending, "approve"), {"comment": "ship it"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "queued"
    assert reconcile_spy == [pending.rollout.pk]
    assert AuditEvent.objects.filter(action="approval.approved").count() == 1


def test_approve_rechecks_the_quota_that_others_used_since_the_request(as_user, ada, linus, recsys, pending, ctr):
    # given: the request needs 1 GPU (a pending request holds none); then the team fills its quota
    other = factories.model(recsys, "feed-ranker")
    services.request_deployment(make_version(other, 1), environment="staging",
                                config={**SMALL, "min_replicas": recsys.gpu_quota, "max_replicas": recsys.gpu_quota},
                                actor=ada)
    counts = Written()
    # when: a platform engineer approves
    body = assert_problem(as_user(linus).post(act(pending, "approve"), {}), 400, code="gpu_quota_exceeded")
    # then: refused with the numbers, nothing written, still pending
    assert body["gpu"] == {"quota": 8, "in_use": 8, "headroom": 0, "needed": 1}
    assert counts.unchanged()
    pending.refresh_from_db()
    assert pending.status == S.PENDING_APPROVAL


def test_approve_twice_is_409_invalid_transition(as_user, linus, pending):
    as_user(linus).post(act(pending, "approve"), {})
    counts = Written()
    assert_problem(as_user(linus).post(act(pending, "approve"), {}), 409, code="invalid_transition")
    assert counts.unchanged()


def test_requester_cannot_approve_even_as_platform_engineer(as_user, linus, v1, production):
    mine = services.request_deployment(v1, environment="production", config=PROD, actor=linus)
    counts = Written()
    assert_problem(as_user(linus).post(act(mine, "approve"), {"comment": "self"}), 403, code="self_approval")
    assert_problem(as_user(linus).post(act(mine, "reject"), {"comment": "self"}), 403, code="self_approval")
    assert counts.unchanged()
    other = factories.user("margaret", is_platform=True)
    assert as_user(other).post(act(mine, "approve"), {}).json()["status"] == "queued"


@pytest.mark.parametrize("name", ["approve", "reject"])
def test_data_scientists_and_viewers_cannot_decide(as_user, ada, vera, pending, name):
    counts = Written()
    for user in (ada, vera):
        assert_problem(as_user(user).post(act(pending, name), {"comment": "please"}), 403)
    assert counts.unchanged()


def test_reject_needs_a_comment(as_user, linus, pending):
    counts = Written()
    for body in ({}, {"comment": ""}, {"comment": "   "}):
        assert_problem(as_user(linus).post(act(pending, "reject"), body), 400, field="comment",
                       code="comment_required")
    assert counts.unchanged()
    response = as_user(linus).post(act(pending, "reject"), {"comment": "Bias review is missing evidence."})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected" and body["approvals"][0]["decision"] == "rejected"


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"comment": "x" * 5001}, "comment", "max_length"),
    ({"comment": "bad\x00byte"}, "comment", "null_characters_not_allowed"),
    ({"comment": 42}, "comment", "invalid"),
    ({"comment": ["a"]}, "comment", "invalid"),
    ({"comment": "ok", "approve": True}, "approve", "unknown_field"),
])
@pytest.mark.parametrize("name", ["approve", "reject"])
def test_bad_comments_are_400_naming_the_field(as_user, linus, pending, name, body, field, code):
    counts = Written()
    assert_problem(as_user(linus).post(act(pending, name), body), 400, field=field, code=code)
    assert counts.unchanged()


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"reason": "x" * 5001}, "reason", "max_length"),
    ({"reason": "\x00"}, "reason", "null_characters_not_allowed"),
    ({"reason": False}, "reason", "invalid"),
    ({"why": "typo"}, "why", "unknown_field"),
])
def test_bad_reasons_are_400_naming_the_field(as_user, ada, queued, body, field, code):
    counts = Written()
    assert_problem(as_user(ada).post(act(queued, "abort"), body), 400, field=field, code=code)
    assert counts.unchanged()


# --- rollout controls -----------------------------------------------------------------

def test_platform_engineer_pauses_resumes_and_promotes(as_user, linus, queued, reconcile_spy):
    d = progressing(queued)
    client = as_user(linus)
    response = client.post(act(d, "pause"), {"reason": "checking dashboards"})
    assert response.status_code == 200 and response.json()["status"] == "paused"
    assert "checking dashboards" in response.json()["status_reason"]
    assert_problem(client.post(act(d, "pause"), {}), 409, code="invalid_transition")
    response = client.post(act(d, "resume"), {})
    assert response.status_code == 200 and response.json()["status"] == "progressing"
    response = client.post(act(d, "promote"), {"reason": "metrics fine"})
    assert response.status_code == 200 and response.json()["rollout"]["promote_requested"] is True
    assert_problem(client.post(act(d, "promote"), {}), 409, code="invalid_transition")


@pytest.mark.parametrize("name", ["pause", "resume", "promote"])
def test_data_scientists_and_viewers_cannot_pause_resume_promote(as_user, ada, vera, queued, name):
    d = progressing(queued)
    if name == "resume":
        Deployment.objects.filter(pk=d.pk).update(status=S.PAUSED)
    counts = Written()
    for user in (ada, vera):
        assert_problem(as_user(user).post(act(d, name), {}), 403)
    assert counts.unchanged()


@pytest.mark.parametrize("name", ["pause", "resume", "promote"])
def test_controls_on_a_queued_deployment_are_409(as_user, linus, queued, name):
    counts = Written()
    assert_problem(as_user(linus).post(act(queued, name), {}), 409, code="invalid_transition")
    assert counts.unchanged()


@pytest.mark.parametrize("name", ["abort", "rollback"])
def test_data_scientist_aborts_their_teams_rollout(as_user, ada, queued, name, reconcile_spy,
                                                   django_capture_on_commit_callbacks):
    d = progressing(queued)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(ada).post(act(d, name), {"reason": "conversions dropped"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "rolled_back" and "conversions dropped" in body["status_reason"]
    assert body["rollout"]["abort_requested"] is True and body["rollout"]["phase"] == "rolling_back"
    assert reconcile_spy == [d.rollout.pk]
    assert_problem(as_user(ada).post(act(d, name), {}), 409, code="invalid_transition")


@pytest.mark.parametrize("name", ["abort", "rollback"])
def test_viewer_cannot_abort_or_roll_back(as_user, vera, queued, name):
    counts = Written()
    assert_problem(as_user(vera).post(act(queued, name), {}), 403)
    assert counts.unchanged()


def test_abort_of_a_pending_request_is_409(as_user, ada, pending):
    assert_problem(as_user(ada).post(act(pending, "abort"), {}), 409, code="invalid_transition")


def test_rollback_of_a_live_deployment_restores_the_previous_one(as_user, ada, v1, v2, staging):
    old = services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    Deployment.objects.filter(pk=old.pk).update(status=S.SUPERSEDED)
    new = services.request_deployment(v2, environment="staging", config=SMALL, actor=ada)
    Deployment.objects.filter(pk=new.pk).update(status=S.LIVE, previous=old)
    response = as_user(ada).post(act(new, "rollback"), {"reason": "bad conversions"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rolled_back" and response.json()["previous"] == old.pk
    old.refresh_from_db()
    assert old.status == S.LIVE


def test_rollback_without_a_previous_version_is_409(as_user, ada, queued):
    Deployment.objects.filter(pk=queued.pk).update(status=S.LIVE)
    assert_problem(as_user(ada).post(act(queued, "rollback"), {}), 409, code="no_previous_version")


# --- schema ---------------------------------------------------------------------------

def test_schema_documents_every_deployment_action(as_user, ada):
    schema = as_user(ada).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for name in ("approve", "reject", "pause", "resume", "promote", "abort", "rollback"):
        op = paths[f"/api/v1/deployments/{{id}}/{name}/"]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "CommentRequest" if name in ("approve", "reject") else "ReasonRequest"), name
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("DeploymentDetail")
        assert "409" in op["responses"]
    create = paths["/api/v1/deployments/"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("DeploymentDetail")
    assert {p["name"] for p in paths["/api/v1/deployments/"]["get"]["parameters"]} >= {
        "model", "environment", "status", "tenant", "version", "page"}
    plan = paths["/api/v1/deployments/plan/"]["post"]
    assert plan["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("Plan")
    assert {"/api/v1/environments/", "/api/v1/environments/{name}/", "/api/v1/instance-types/",
            "/api/v1/deployments/{id}/"} <= set(paths)
    detail_schema = schema["components"]["schemas"]["DeploymentDetail"]["properties"]
    assert {"rollout", "analyses", "events", "approvals", "cluster", "previous"} <= set(detail_schema)
