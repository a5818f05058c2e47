"""Deployment pages with the test client (no JavaScript): the list, the deploy form and its live
preview, the approval queue, the rollout page and its polling fragment, the controls, the local
"misbehave" control, and the panels on the model page and the dashboard.

The `reconcile_spy` fixture keeps services from running the engine against a missing cluster.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from django.utils.html import escape

from apps.core.models import AuditEvent
from apps.deployments import services
from apps.deployments.models import Analysis, Approval, Deployment, Environment, Rollout
from tests import factories
from tests.deployments.conftest import make_version, reconcile_spy  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.django_db
SMALL = {"instance_type": "g5.xlarge", "gpus_per_replica": 1, "min_replicas": 1, "max_replicas": 2,
         "soak_seconds": 60}
FORM = {"environment": "staging", "instance_type": "g5.xlarge", "gpus_per_replica": "1", "min_replicas": "1",
        "max_replicas": "2", "spot_percent": "0", "strategy": "canary", "steps": "5, 25, 50, 100",
        "soak_seconds": "60"}


@pytest.fixture
def ctr(recsys):
    return factories.model(recsys, "ctr-ranker", description="Ranks the home feed.")


@pytest.fixture
def v1(ctr):
    return make_version(ctr, 1)


@pytest.fixture
def v2(ctr):
    return make_version(ctr, 2)


@pytest.fixture
def query_model(search):
    return factories.model(search, "query-ranker")


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client
    return login


def roomy(tenant) -> None:
    """Enough GPU quota for many deployments (quota has its own tests)."""
    tenant.gpu_quota = 1000
    tenant.save()


def deploy(version, actor, environment="staging", **config) -> Deployment:
    return services.request_deployment(version, environment=environment, config={**SMALL, **config}, actor=actor)


def set_state(deployment: Deployment, status: str, **rollout) -> Deployment:
    """Put a deployment where a test needs it, as the engine would have left it."""
    fields = {"status": status}
    if status == "live":
        fields["live_since"] = timezone.now()
    Deployment.objects.filter(pk=deployment.pk).update(**fields)
    if rollout:
        Rollout.objects.filter(deployment=deployment).update(**rollout)
    deployment.refresh_from_db()
    return deployment


def make_live(version, actor) -> Deployment:
    return set_state(deploy(version, actor), "live", phase="done", cluster_synced=True, canary_weight=100,
                     step_index=3)


# --- list ------------------------------------------------------------------------------------

def test_list_shows_my_teams_deployments_with_badges_and_progress(client_for, ada, grace, v1, query_model):
    running = set_state(deploy(v1, ada), "progressing", phase="step", step_index=1, canary_weight=25)
    other = deploy(make_version(query_model, 1), grace)
    body = client_for(ada).get("/deployments/").content.decode()
    assert f"/deployments/{running.pk}/" in body and f"/deployments/{other.pk}/" not in body
    assert "query-ranker" not in body
    assert 'class="badge badge-platform">Progressing' in body
    assert '<progress value="25" max="100"' in body and "step 2/4" in body


def test_list_filters_by_status_environment_and_model(client_for, ada, ctr, v1, recsys):
    live = make_live(v1, ada)
    other_model = factories.model(recsys, "basket")
    queued = deploy(make_version(other_model, 1), ada)
    client = client_for(ada)
    body = client.get("/deployments/", {"status": "live"}).content.decode()
    assert f"#{live.pk}<" in body and f"#{queued.pk}<" not in body
    body = client.get("/deployments/", {"status": "queued,progressing,paused"}).content.decode()
    assert f"#{queued.pk}<" in body and f"#{live.pk}<" not in body
    body = client.get("/deployments/", {"model": ctr.pk}).content.decode()
    assert f"#{live.pk}<" in body and f"#{queued.pk}<" not in body
    body = client.get("/deployments/", {"environment": "production"}).content.decode()
    assert "No deployment matches these filters." in body


def test_list_htmx_returns_only_the_results(client_for, ada, v1):
    deploy(v1, ada)
    response = client_for(ada).get("/deployments/", {"status": "queued"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="deployment-results"')


@pytest.mark.parametrize("query", [{"model": "abc"}, {"status": "bogus"}, {"model": "9" * 30}])
def test_list_bad_filter_is_a_field_error_not_a_500(client_for, ada, query):
    response = client_for(ada).get("/deployments/", query)
    assert response.status_code == 422
    assert 'class="field-error"' in response.content.decode()


def test_list_query_count_is_constant(client_for, ada, recsys, django_assert_max_num_queries):
    client = client_for(ada)
    roomy(recsys)
    for n in range(3):
        deploy(make_version(factories.model(recsys, f"m{n}"), 1), ada)
    with django_assert_max_num_queries(12) as few:
        client.get("/deployments/")
    for n in range(3, 15):
        deploy(make_version(factories.model(recsys, f"m{n}"), 1), ada)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get("/deployments/").content.decode()
    assert body.count('class="badge badge-platform">Queued') == 15


# --- deploy form -------------------------------------------------------------------------------

def test_deploy_form_shows_instances_prices_and_the_preview(client_for, ada, v1):
    body = client_for(ada).get(f"/versions/{v1.pk}/deploy/").content.decode()
    assert "g5.xlarge · 1× NVIDIA A10G 24 GiB · $1.006/h on-demand · $0.402/h spot" in body
    assert "p5.48xlarge · 8× NVIDIA H100 80 GiB" in body
    assert 'id="deploy-preview"' in body and 'class="quota-bar"' in body
    assert "$1.01" in body and "/hour at 1 replica" in body
    assert "Needs 1 GPU(s) at peak; the team uses 0 of 8, 8 free." in body
    assert "First deployment of ctr-ranker in Staging" in body
    assert "Deploy to Staging" in body
    assert 'hx-trigger="change, input delay:500ms"' in body


def test_deploy_form_production_says_it_needs_approval_and_lists_failing_items(client_for, ada, ctr):
    version = make_version(ctr, 3, ready=False)
    body = client_for(ada).get(f"/versions/{version.pk}/deploy/", {"environment": "production"}).content.decode()
    assert "Production needs approval." in body and "Request approval for Production" in body
    assert "Not ready" in body and "Bias review" in body  # failing items by title


def test_deploy_preview_fragment_with_htmx(client_for, ada, v1):
    query = {**FORM, "min_replicas": "3", "max_replicas": "4", "spot_percent": "50"}
    response = client_for(ada).get(f"/versions/{v1.pk}/deploy/", query, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="deploy-preview"')
    assert "Needs 3 GPU(s) at peak" in body
    assert "$2.11" in body  # 3 × (1.006 + 0.4024) / 2
    assert 'id="fe-min_replicas" hx-swap-oob="true"></div>' in body


def test_deploy_preview_puts_service_errors_next_to_the_field(client_for, ada, v1):
    query = {**FORM, "min_replicas": "3", "max_replicas": "2", "soak_seconds": "5"}
    body = client_for(ada).get(f"/versions/{v1.pk}/deploy/", query, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="fe-max_replicas" hx-swap-oob="true"><p class="field-error">Max replicas: min_replicas (3) must be ' \
           '≤ max_replicas (2).</p>' in body
    assert "staging needs a soak of at least 30 s per step, not 5." in body


def test_deploy_preview_shows_quota_that_does_not_fit_and_rolling_batches(client_for, ada, recsys, v1, v2):
    recsys.gpu_quota = 4
    recsys.save()
    make_live(v1, ada)  # holds 1 GPU
    client = client_for(ada)
    body = client.get(f"/versions/{v2.pk}/deploy/", {**FORM, "min_replicas": "4", "max_replicas": "4"},
                      HTTP_HX_REQUEST="true").content.decode()
    assert "Does not fit." in body and "Needs 4 GPU(s) at peak; the team uses 1 of 4, 3 free." in body
    assert "qb-over" in body
    body = client.get(f"/versions/{v2.pk}/deploy/", {**FORM, "min_replicas": "4", "max_replicas": "4",
                                                     "strategy": "rolling"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Rolling in 2 batches" in body and "Does not fit." not in body


def test_deploy_to_staging_creates_a_queued_deployment(client_for, ada, v1, reconcile_spy,  # noqa: F811
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(ada).post(f"/versions/{v1.pk}/deploy/", {**FORM, "spot_percent": "25"})
    deployment = Deployment.objects.get(version=v1)
    assert response.status_code == 302 and response["Location"] == f"/deployments/{deployment.pk}/"
    assert deployment.status == "queued" and deployment.config["spot_percent"] == 25
    assert deployment.config["steps"] == [5, 25, 50, 100] and deployment.requested_by == ada
    assert reconcile_spy == [deployment.rollout.pk]
    assert AuditEvent.objects.filter(action="deployment.requested", source="ui").count() == 1
    page = client_for(ada).get(response["Location"]).content.decode()
    assert "Deploying ctr-ranker v1 to Staging" in page


@pytest.mark.parametrize("changes, field, message", [
    ({"min_replicas": "3", "max_replicas": "2"}, "max_replicas", "min_replicas (3) must be ≤ max_replicas (2)."),
    ({"steps": "5, abc, 100"}, "steps", "“abc” is not a whole percentage"),
    ({"steps": "50, 25, 100"}, "steps", "Steps must increase: [50, 25, 100]."),
    ({"steps": "5, 25"}, "steps", "The last step must be 100, not 25."),
    ({"gpus_per_replica": "4"}, "gpus_per_replica", "g5.xlarge has 1 GPU(s); a replica cannot use 4."),
    ({"spot_percent": "150"}, "spot_percent", "spot_percent must be between 0 and 100, not 150."),
    ({"soak_seconds": "10"}, "soak_seconds", "staging needs a soak of at least 30 s per step, not 10."),
    ({"instance_type": "z9.huge"}, "instance_type", "Select a valid choice."),
    ({"min_replicas": "two"}, "min_replicas", "Enter a whole number."),
    ({"environment": "moon"}, "environment", "Select a valid choice."),
])
def test_deploy_bad_input_is_a_field_error_and_writes_nothing(client_for, ada, v1, changes, field, message):
    response = client_for(ada).post(f"/versions/{v1.pk}/deploy/", {**FORM, **changes})
    body = response.content.decode()
    assert response.status_code == 422
    slot = body.split(f'id="fe-{field}">', 1)[1].split("</div>", 1)[0]
    assert message in slot
    assert not Deployment.objects.exists() and not AuditEvent.objects.filter(action__startswith="deployment.").exists()


def test_deploy_over_quota_names_the_numbers_next_to_the_field(client_for, ada, recsys, v1):
    recsys.gpu_quota = 2
    recsys.save()
    response = client_for(ada).post(f"/versions/{v1.pk}/deploy/", {**FORM, "min_replicas": "3", "max_replicas": "3"})
    body = response.content.decode()
    assert response.status_code == 422
    slot = body.split('id="fe-min_replicas">', 1)[1].split("</div>", 1)[0]
    assert "Needs 3 GPU(s) at peak; the team uses 0 of 2, 2 free." in slot
    assert not Deployment.objects.exists()


def test_production_request_of_a_version_that_is_not_ready_is_refused(client_for, ada, ctr):
    version = make_version(ctr, 5, ready=False)
    response = client_for(ada).post(f"/versions/{version.pk}/deploy/", {**FORM, "environment": "production",
                                                                         "soak_seconds": "300"})
    body = response.content.decode()
    assert response.status_code == 422
    assert "v5 is not ready for production: failing" in body and "bias_review" in body
    assert not Deployment.objects.exists()


def test_production_request_waits_for_approval(client_for, ada, v1):
    response = client_for(ada).post(f"/versions/{v1.pk}/deploy/", {**FORM, "environment": "production",
                                                                    "soak_seconds": "300"}, follow=True)
    deployment = Deployment.objects.get()
    assert deployment.status == "pending_approval"
    body = response.content.decode()
    assert "A platform engineer must approve it before the rollout starts." in body
    assert "Waiting for approval." in body
    assert "/approve/" not in body  # ada cannot approve, least of all her own request


def test_second_deployment_while_one_runs_is_a_conflict_message(client_for, ada, v1, v2):
    deploy(v1, ada)
    response = client_for(ada).post(f"/versions/{v2.pk}/deploy/", FORM)
    assert response.status_code == 409
    assert "is queued in staging; wait for it to finish or abort it." in response.content.decode()
    assert Deployment.objects.count() == 1


def test_deploy_form_viewer_403_other_team_404(client_for, vera, grace, v1):
    assert client_for(vera).get(f"/versions/{v1.pk}/deploy/").status_code == 403
    assert client_for(vera).post(f"/versions/{v1.pk}/deploy/", FORM).status_code == 403
    assert client_for(grace).get(f"/versions/{v1.pk}/deploy/").status_code == 404
    assert client_for(grace).post(f"/versions/{v1.pk}/deploy/", FORM).status_code == 404
    assert not Deployment.objects.exists()


def test_version_and_model_pages_offer_deploy_to_data_scientists_only(client_for, ada, vera, v1):
    assert f"/versions/{v1.pk}/deploy/" in client_for(ada).get(f"/versions/{v1.pk}/").content.decode()
    assert f"/versions/{v1.pk}/deploy/" in client_for(ada).get(f"/models/{v1.model.pk}/").content.decode()
    assert f"/versions/{v1.pk}/deploy/" not in client_for(vera).get(f"/versions/{v1.pk}/").content.decode()
    assert f"/versions/{v1.pk}/deploy/" not in client_for(vera).get(f"/models/{v1.model.pk}/").content.decode()


# --- approvals --------------------------------------------------------------------------------

@pytest.fixture
def pending(v1, ada):
    return deploy(v1, ada, "production", soak_seconds=300)


def test_queue_platform_engineer_sees_request_with_config_readiness_and_digest(client_for, linus, pending):
    body = client_for(linus).get("/approvals/").content.decode()
    assert f'id="request-{pending.pk}"' in body
    assert "ctr-ranker v1 → Production" in body and "ada" in body
    assert "1–2× g5.xlarge (1 GPU/replica) · canary 5/25/50/100 · soak 300 s" in body
    assert "badge-ready" in body and "10/10" in body
    assert "sha256:0000000000000000" in body
    assert f"/deployments/{pending.pk}/approve/" in body and f"/deployments/{pending.pk}/reject/" in body


def test_queue_requester_sees_no_approve_button_and_why(client_for, linus, v1):
    own = deploy(v1, linus, "production", soak_seconds=300)
    body = client_for(linus).get("/approvals/").content.decode()
    assert f'id="request-{own.pk}"' in body
    assert f"/deployments/{own.pk}/approve/" not in body
    assert "You requested this deployment; another platform engineer must approve it." in body


def test_queue_data_scientist_reads_team_requests_other_team_sees_none(client_for, ada, vera, grace, pending):
    for user in (ada, vera):
        body = client_for(user).get("/approvals/").content.decode()
        assert f'id="request-{pending.pk}"' in body and "/approve/" not in body
        assert "Waiting for a platform engineer to approve or reject it." in body
    body = client_for(grace).get("/approvals/").content.decode()
    assert "ctr-ranker" not in body and "Nothing is waiting." in body


def test_approve_from_the_queue(client_for, linus, pending, reconcile_spy,  # noqa: F811
                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(linus).post(f"/deployments/{pending.pk}/approve/",
                                          {"comment": "Looks good", "next": "/approvals/"})
    assert response.status_code == 302 and response["Location"] == "/approvals/"
    pending.refresh_from_db()
    assert pending.status == "queued"
    approval = Approval.objects.get(deployment=pending)
    assert approval.decided_by == linus and approval.comment == "Looks good"
    assert reconcile_spy == [pending.rollout.pk]
    body = client_for(linus).get("/approvals/").content.decode()
    assert "Nothing is waiting." in body and "Looks good" in body


def test_reject_needs_a_comment(client_for, linus, pending):
    response = client_for(linus).post(f"/deployments/{pending.pk}/reject/", {"comment": "  "})
    assert response.status_code == 422
    assert "Say why the request is rejected." in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == "pending_approval" and not Approval.objects.exists()
    response = client_for(linus).post(f"/deployments/{pending.pk}/reject/", {"comment": "Not this week"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == "rejected"


def test_approve_refused_for_requester_data_scientist_viewer_and_other_team(client_for, ada, vera, grace, linus, v1):
    own = deploy(v1, linus, "production", soak_seconds=300)
    response = client_for(linus).post(f"/deployments/{own.pk}/approve/", {"comment": ""})
    assert response.status_code == 403
    assert client_for(ada).post(f"/deployments/{own.pk}/approve/", {"comment": ""}).status_code == 403
    assert client_for(vera).post(f"/deployments/{own.pk}/approve/", {"comment": ""}).status_code == 403
    assert client_for(grace).post(f"/deployments/{own.pk}/approve/", {"comment": ""}).status_code == 404
    own.refresh_from_db()
    assert own.status == "pending_approval" and not Approval.objects.exists()


def test_approve_twice_is_a_message_not_a_500(client_for, linus, pending):
    client = client_for(linus)
    client.post(f"/deployments/{pending.pk}/approve/", {"comment": ""})
    response = client.post(f"/deployments/{pending.pk}/approve/", {"comment": ""})
    assert response.status_code == 409
    assert f"Deployment #{pending.pk} is queued, not pending approval." in response.content.decode()


def test_approve_confirm_page_without_js(client_for, linus, pending):
    body = client_for(linus).get(f"/deployments/{pending.pk}/approve/").content.decode()
    assert "Approve ctr-ranker v1 in production?" in body and 'name="comment"' in body


def test_approvals_query_count_is_constant(client_for, linus, ada, recsys, django_assert_max_num_queries):
    client = client_for(linus)
    roomy(recsys)
    for n in range(2):
        deploy(make_version(factories.model(recsys, f"p{n}"), 1), ada, "production", soak_seconds=300)
    with django_assert_max_num_queries(20) as few:
        client.get("/approvals/")
    for n in range(2, 10):
        deploy(make_version(factories.model(recsys, f"p{n}"), 1), ada, "production", soak_seconds=300)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get("/approvals/").content.decode()
    assert body.count('class="request"') == 10


# --- the rollout page --------------------------------------------------------------------------

def _analyses(deployment, rows):
    rollout = deployment.rollout
    start = timezone.now() - timedelta(seconds=len(rows) * 10)
    for i, (kind, verdict, c_err, c_p99, s_err, s_p99) in enumerate(rows):
        Analysis.objects.create(rollout=rollout, kind=kind, step_index=0, canary_weight=5, window_seconds=10,
                                canary_requests=100, canary_error_rate=c_err, canary_p99_ms=c_p99,
                                stable_requests=400, stable_error_rate=s_err, stable_p99_ms=s_p99,
                                verdict=verdict, gate="error_rate" if verdict == "rollback" else "",
                                reason=f"{kind} {verdict}", created_at=start + timedelta(seconds=10 * i))


@pytest.fixture
def canary(v1, v2, ada):
    stable = make_live(v1, ada)
    d = set_state(deploy(v2, ada), "progressing", phase="step", step_index=1, canary_weight=25, stable_p99_ms=82.0)
    Deployment.objects.filter(pk=d.pk).update(previous=stable, started_at=timezone.now())
    d.refresh_from_db()
    _analyses(d, [("continuous", "ok", 0.001, 80, 0.001, 82), ("step", "advance", 0.002, 85, 0.001, 81),
                  ("continuous", "ok", 0.004, 90, 0.001, 80)])
    return d


def test_rollout_page_shows_step_weights_chart_analyses_and_events(client_for, ada, canary):
    body = client_for(ada).get(f"/deployments/{canary.pk}/").content.decode()
    assert "ctr-ranker" in body and "Progressing" in body
    assert '<span class="kv-value">2 / 4</span>' in body
    assert '<progress class="weights-bar" value="25" max="100"' in body
    assert "stable v1 · 75 %" in body and "canary v2 · 25 %" in body
    assert '<svg class="chart"' in body and "rollback &gt; 5 %" in body and "SLA 200 ms" in body
    assert "rollback &gt; 2× stable (164 ms)" in body
    assert "polyline" in body and "line-stable" in body
    assert "step advance" in body  # the analyses table shows the step verdict with its reason
    assert "ada requested v2 in staging" in body  # events
    assert 'hx-trigger="every 2s"' in body and f'hx-get="/deployments/{canary.pk}/?status=progressing"' in body


def test_rolled_back_page_names_the_gate_and_the_figures(client_for, ada, canary):
    reason = ("Automatic rollback at step 2 (25 %): gate error_rate — canary error rate 19.80 % > 5.00 % over "
              "120 requests.")
    Deployment.objects.filter(pk=canary.pk).update(status="rolled_back", status_reason=reason)
    Rollout.objects.filter(deployment=canary).update(cluster_synced=True, phase="done", canary_weight=0)
    _analyses(canary, [("continuous", "rollback", 0.198, 90, 0.001, 80)])
    body = client_for(ada).get(f"/deployments/{canary.pk}/").content.decode()
    assert '<div class="alert alert-error" role="alert"><strong>Rolled back.</strong> ' + escape(reason) in body
    assert "marker-rollback" in body and 'hx-trigger="every 2s"' not in body


def test_polling_fragment_while_running_and_286_once_terminal(client_for, ada, canary):
    client = client_for(ada)
    response = client.get(f"/deployments/{canary.pk}/?status=progressing", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<div id="rollout-live"') and 'hx-trigger="every 2s"' in body
    assert 'id="rollout-events" class="card events-card" hx-swap-oob="true"' in body
    assert 'id="rollout-controls"' not in body  # unchanged status: controls stay as they are
    Deployment.objects.filter(pk=canary.pk).update(status="rolled_back", status_reason="Aborted by ada.")
    Rollout.objects.filter(deployment=canary).update(cluster_synced=True)
    response = client.get(f"/deployments/{canary.pk}/?status=progressing", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 286
    assert 'hx-trigger="every 2s"' not in body and "Aborted by ada." in body
    assert 'id="rollout-controls" class="actions controls" hx-swap-oob="true"' in body
    assert "/abort/" not in body


def test_converging_rollback_keeps_polling(client_for, ada, canary):
    Deployment.objects.filter(pk=canary.pk).update(status="rolled_back")
    Rollout.objects.filter(deployment=canary).update(cluster_synced=False, phase="rolling_back")
    response = client_for(ada).get(f"/deployments/{canary.pk}/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'hx-trigger="every 2s"' in response.content.decode()


def test_controls_per_role(client_for, ada, vera, linus, canary):
    ada_body = client_for(ada).get(f"/deployments/{canary.pk}/").content.decode()
    assert f"/deployments/{canary.pk}/abort/" in ada_body
    assert f"/deployments/{canary.pk}/pause/" not in ada_body and "/promote/" not in ada_body
    linus_body = client_for(linus).get(f"/deployments/{canary.pk}/").content.decode()
    for action in ("pause", "promote", "abort"):
        assert f"/deployments/{canary.pk}/{action}/" in linus_body
    assert "/resume/" not in linus_body
    vera_body = client_for(vera).get(f"/deployments/{canary.pk}/").content.decode()
    assert 'method="post"' not in vera_body.split('<main class="content"', 1)[1].split("</main>")[0]


def test_rollout_page_viewer_reads_other_team_404(client_for, vera, grace, canary):
    assert client_for(vera).get(f"/deployments/{canary.pk}/").status_code == 200
    assert client_for(grace).get(f"/deployments/{canary.pk}/").status_code == 404
    assert client_for(grace).get(f"/deployments/{canary.pk}/", HTTP_HX_REQUEST="true").status_code == 404


def test_abort_with_confirmation_calls_the_service(client_for, ada, canary, reconcile_spy):  # noqa: F811
    client = client_for(ada)
    confirm = client.get(f"/deployments/{canary.pk}/abort/").content.decode()
    assert "Abort ctr-ranker v2 in staging?" in confirm and 'name="reason"' in confirm
    response = client.post(f"/deployments/{canary.pk}/abort/", {"reason": "wrong features"})
    assert response.status_code == 302 and response["Location"] == f"/deployments/{canary.pk}/"
    canary.refresh_from_db()
    assert canary.status == "rolled_back" and canary.status_reason == "Aborted by ada: wrong features"
    assert AuditEvent.objects.filter(action="deployment.rolled_back", actor_label="ada", source="ui").exists()
    body = client.get(response["Location"]).content.decode()
    assert f"Deployment #{canary.pk} aborted." in body


def test_control_on_a_finished_deployment_is_a_409_message(client_for, ada, canary):
    client = client_for(ada)
    client.post(f"/deployments/{canary.pk}/abort/", {"reason": ""})
    response = client.post(f"/deployments/{canary.pk}/abort/", {"reason": ""})
    assert response.status_code == 409
    assert f"Deployment #{canary.pk} is rolled_back; this needs" in response.content.decode()


def test_controls_refused_by_role(client_for, ada, vera, grace, linus, canary):
    assert client_for(ada).post(f"/deployments/{canary.pk}/pause/", {"reason": ""}).status_code == 403
    assert client_for(ada).get(f"/deployments/{canary.pk}/pause/").status_code == 403
    assert client_for(vera).post(f"/deployments/{canary.pk}/abort/", {"reason": ""}).status_code == 403
    assert client_for(vera).get(f"/deployments/{canary.pk}/abort/").status_code == 403
    assert client_for(grace).post(f"/deployments/{canary.pk}/abort/", {"reason": ""}).status_code == 404
    canary.refresh_from_db()
    assert canary.status == "progressing"
    assert client_for(linus).post(f"/deployments/{canary.pk}/pause/", {"reason": "hold"}).status_code == 302
    canary.refresh_from_db()
    assert canary.status == "paused"


def test_reason_with_nul_is_a_form_error(client_for, ada, canary):
    response = client_for(ada).post(f"/deployments/{canary.pk}/abort/", {"reason": "a\x00b"})
    assert response.status_code == 422 and "Null characters are not allowed." in response.content.decode()
    canary.refresh_from_db()
    assert canary.status == "progressing"


def test_rollback_of_a_live_deployment(client_for, ada, v1, v2):
    first = make_live(v1, ada)
    second = make_live(v2, ada)
    Deployment.objects.filter(pk=first.pk).update(status="superseded")
    Deployment.objects.filter(pk=second.pk).update(previous=first)
    body = client_for(ada).get(f"/deployments/{second.pk}/").content.decode()
    assert f"/deployments/{second.pk}/rollback/" in body and "/abort/" not in body
    response = client_for(ada).post(f"/deployments/{second.pk}/rollback/", {"reason": "bad clicks"})
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.status == "rolled_back" and first.status == "live"


def test_rollout_page_query_count_does_not_grow_with_history(client_for, ada, canary,
                                                             django_assert_max_num_queries):
    client = client_for(ada)
    with django_assert_max_num_queries(30) as few:
        client.get(f"/deployments/{canary.pk}/")
    _analyses(canary, [("continuous", "ok", 0.001, 80, 0.001, 80)] * 40)
    for n in range(20):
        services._event(canary, None, "note", "progressing", "progressing", f"note {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"/deployments/{canary.pk}/")


# --- local mode: make the canary misbehave -----------------------------------------------------

@pytest.fixture
def devcluster():
    from devcluster.server import DevCluster

    dc = DevCluster(port=0, ready_delay_seconds=0, traffic="manual").start()
    yield dc
    dc.stop()


def test_misbehave_puts_the_behaviour_to_the_dev_cluster_and_audits(client_for, ada, canary, devcluster, settings):
    settings.SLIPWAY_DEVCLUSTER_URL = devcluster.url
    Environment.objects.filter(name="staging").update(cluster={"kind": "url", "url": devcluster.url})
    client = client_for(ada)
    body = client.get(f"/deployments/{canary.pk}/").content.decode()
    assert "Make the canary misbehave" in body.replace("Local mode: make the canary misbehave", "Make the canary misbehave")
    response = client.post(f"/deployments/{canary.pk}/misbehave/", {"behaviour": "errors"})
    assert response.status_code == 302
    behaviour = requests.get(f"{devcluster.url}/_sim/workloads/{canary.namespace}/{canary.workload}", timeout=5).json()
    assert behaviour["error_rate"] == 0.2
    client.post(f"/deployments/{canary.pk}/misbehave/", {"behaviour": "latency"})
    behaviour = requests.get(f"{devcluster.url}/_sim/workloads/{canary.namespace}/{canary.workload}", timeout=5).json()
    assert behaviour["p99_ms"] == 900 and behaviour["error_rate"] == 0.2
    event = AuditEvent.objects.filter(action="deployment.misbehave").latest("id")
    assert event.actor_label == "ada" and event.after["behaviour"] == "latency"
    assert "made ctr-ranker-v2 misbehave in the dev cluster: p99 900 ms" in client.get(
        f"/deployments/{canary.pk}/").content.decode()


def test_misbehave_hidden_and_refused_outside_local_mode_and_for_viewers(client_for, ada, vera, grace, canary,
                                                                         settings):
    settings.DEBUG = False
    settings.SLIPWAY_DEVCLUSTER_URL = "http://127.0.0.1:8001"
    Environment.objects.filter(name="staging").update(cluster={"kind": "url", "url": "https://eks.example:443"})
    assert "/misbehave/" not in client_for(ada).get(f"/deployments/{canary.pk}/").content.decode()
    response = client_for(ada).post(f"/deployments/{canary.pk}/misbehave/", {"behaviour": "errors"}, follow=True)
    assert "this control exists only in local mode" in response.content.decode()
    Environment.objects.filter(name="staging").update(cluster={"kind": "url", "url": "http://127.0.0.1:8001"})
    assert "/misbehave/" in client_for(ada).get(f"/deployments/{canary.pk}/").content.decode()
    assert "/misbehave/" not in client_for(vera).get(f"/deployments/{canary.pk}/").content.decode()
    assert client_for(vera).post(f"/deployments/{canary.pk}/misbehave/", {"behaviour": "errors"}).status_code == 403
    assert client_for(grace).post(f"/deployments/{canary.pk}/misbehave/", {"behaviour": "errors"}).status_code == 404
    assert not AuditEvent.objects.filter(action="deployment.misbehave").exists()


# --- model page and dashboard ------------------------------------------------------------------

def test_model_page_shows_which_version_is_live_where_and_since_when(client_for, ada, v1, v2):
    live = make_live(v1, ada)
    moving = set_state(deploy(v2, ada, "production", soak_seconds=300), "pending_approval")
    body = client_for(ada).get(f"/models/{v1.model.pk}/").content.decode()
    panel = body.split('id="live-where"', 1)[1].split("</section>", 1)[0]
    assert f'href="/deployments/{live.pk}/">v1</a>' in panel
    assert live.live_since.strftime("%Y-%m-%d") in panel
    assert f'href="/deployments/{moving.pk}/">v2</a>' in panel and "Pending approval" in panel
    assert "Nothing live" in panel  # production


def test_dashboard_shows_live_rollouts_and_approvals_waiting(client_for, ada, linus, canary, v1, recsys):
    other = factories.model(recsys, "basket")
    waiting = deploy(make_version(other, 1), ada, "production", soak_seconds=300)
    body = client_for(linus).get("/").content.decode()
    rollouts = body.split('id="dashboard-rollouts"', 1)[1]
    assert f"/deployments/{canary.pk}/" in rollouts and '<progress value="25" max="100"' in rollouts
    assert f"/deployments/{waiting.pk}/" in rollouts and f"#request-{waiting.pk}" in rollouts  # linus may review
    assert "#request-" not in client_for(ada).get("/").content.decode()


def test_dashboard_query_count_is_constant_in_rollouts(client_for, ada, recsys, django_assert_max_num_queries):
    client = client_for(ada)
    roomy(recsys)
    deploy(make_version(factories.model(recsys, "d0"), 1), ada)
    with django_assert_max_num_queries(40) as few:
        client.get("/")
    for n in range(1, 8):
        deploy(make_version(factories.model(recsys, f"d{n}"), 1), ada)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/")
