"""Runbooks: versioned saves, required sections and the checklist item, generated sections,
sanitised rendering, API (GET/PUT/history), pages (view, edit, history, diff), isolation."""

from __future__ import annotations

import pytest

from apps.core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from apps.core.models import AuditEvent
from apps.readiness.choices import ItemStatus
from apps.runbooks import sections, services
from apps.runbooks.models import Runbook, RunbookRevision
from tests import factories
from tests.api.conftest import JsonClient, assert_problem
from tests.deployments.conftest import make_version

pytestmark = pytest.mark.django_db

FILLED = """## If you see high latency

Check GPU saturation on the rollout page; scale out to 4 replicas, roll back if p99 stays high.

## If you see an error spike

Look at the 5xx by version; roll back through the UI at once when the canary is the cause.

## If you see a drift alert

Compare the feature PSI with last week's campaign calendar; page the model owner when high.

## If you see a cost spike

Check the cost anomaly's linked rollouts; lower min_replicas back to 2 after a campaign.
"""

XSS = """## If you see high latency

<script>window.__xss = 1</script>
<img src=x onerror="window.__xss = 2">
[click](javascript:window.__xss=3) <a href="javascript:alert(1)" onclick="window.__xss=4">x</a>
<iframe src="https://evil.example"></iframe><style>body{display:none}</style>
"""


@pytest.fixture
def ctr(recsys, ada):
    return factories.model(recsys, "ctr-ranker", owner="ada@example.com", oncall="#recsys-oncall", sla_p99_ms=50,
                           created_by=ada)


def test_every_save_is_kept_and_unchanged_saves_add_nothing(ctr, ada):
    book = services.save_runbook(ctr, actor=ada, body="first", summary="start")
    book = services.save_runbook(ctr, actor=ada, body="second", summary="more")
    assert services.save_runbook(ctr, actor=ada, body="second").revision == 2
    assert book.revision == 2
    assert list(RunbookRevision.objects.filter(runbook=book).values_list("number", "body", "summary")) == [
        (2, "second", "more"), (1, "first", "start")]
    assert AuditEvent.objects.filter(action="runbook.saved", tenant=ctr.tenant).count() == 2


def test_stale_expected_revision_is_a_conflict_and_overwrites_nothing(ctr, ada):
    services.save_runbook(ctr, actor=ada, body="mine")
    services.save_runbook(ctr, actor=ada, body="theirs", expected_revision=1)
    with pytest.raises(Conflict) as exc:
        services.save_runbook(ctr, actor=ada, body="late", expected_revision=1)
    assert exc.value.code == "stale_revision"
    assert Runbook.objects.get(model=ctr).body == "theirs"


def test_viewers_and_other_teams_cannot_save(ctr, vera, grace):
    with pytest.raises(NotPermitted):
        services.save_runbook(ctr, actor=vera, body="x")
    with pytest.raises(NotFound):
        services.save_runbook(ctr, actor=grace, body="x")
    assert not Runbook.objects.filter(model__isnull=False).exists()


@pytest.mark.parametrize("body", [123, "a\x00b", "x" * (sections.MAX_BODY + 1)])
def test_bad_bodies_are_field_errors(ctr, ada, body):
    with pytest.raises(ValidationFailed) as exc:
        services.save_runbook(ctr, actor=ada, body=body)
    assert exc.value.field == "body"


def test_required_sections_and_the_checklist_item(ctr, ada):
    version = make_version(ctr, 1, ready=False)
    from apps.readiness.services import evaluate

    def runbook_item():
        evaluate(version, actor=None)
        return version.checklist.get(key="runbook")

    assert runbook_item().status == ItemStatus.PENDING  # not written yet
    assert sections.missing_sections(sections.TEMPLATE) == list(sections.REQUIRED)
    services.save_runbook(ctr, actor=ada, body=sections.TEMPLATE)
    item = runbook_item()
    assert item.status == ItemStatus.FAIL and "If you see a cost spike" in item.detail
    services.save_runbook(ctr, actor=ada, body=FILLED.replace("## If you see a cost spike", "## Other"))
    assert runbook_item().status == ItemStatus.FAIL
    services.save_runbook(ctr, actor=ada, body=FILLED)
    assert runbook_item().status == ItemStatus.PASS


def test_generated_sections_follow_the_models_data(ctr, ada):
    text = sections.generated(ctr)
    assert "p99 ≤ 50 ms" in text and "ada@example.com" in text and "\\#recsys-oncall" in text
    assert "/api/v1/deployments/DEPLOYMENT\\_ID/rollback/" not in text  # code spans are not escaped
    assert "/api/v1/deployments/DEPLOYMENT_ID/rollback/" in text and "slipway rollback DEPLOYMENT_ID" in text
    assert "devcluster_requests_total" in text  # the PromQL the gates run
    assert "roll back at once when error rate > 5.0%" in text
    ctr.sla_p99_ms = 80
    ctr.oncall = ""
    ctr.save()
    again = sections.generated(ctr)
    assert "p99 ≤ 80 ms" in again and "On-call: **not set**" in again


def test_rendering_removes_every_script_vector():
    html = sections.render(XSS)
    lowered = html.lower()
    for bad in ("<script", "onerror", "onclick", "javascript:", "<iframe", "<style"):
        assert bad not in lowered, (bad, html)
    assert "<h2>If you see high latency</h2>" in html


def test_diff_marks_added_and_removed_lines():
    lines = sections.diff("a\nb\nc\n", "a\nB\nc\nd\n")
    assert [(line.kind, line.text) for line in lines] == [
        ("same", "a"), ("del", "b"), ("add", "B"), ("same", "c"), ("add", "d")]


# --- API -----------------------------------------------------------------------------------

def test_api_get_before_first_save_answers_the_template(ctr, ada):
    body = JsonClient(ada).get(f"/api/v1/models/{ctr.pk}/runbook/").json()
    assert body["exists"] is False and body["revision"] == 0 and body["body"] == sections.TEMPLATE
    assert body["missing_sections"] == list(sections.REQUIRED) and "<h2>SLA</h2>" in body["html"]


def test_api_put_saves_and_history_lists_revisions(ctr, ada):
    api = JsonClient(ada)
    first = api.put(f"/api/v1/models/{ctr.pk}/runbook/", {"body": FILLED, "summary": "v1"})
    assert first.status_code == 200 and first.json()["revision"] == 1 and first.json()["missing_sections"] == []
    stale = api.put(f"/api/v1/models/{ctr.pk}/runbook/", {"body": "x", "expected_revision": 0})
    assert_problem(stale, 409, field="expected_revision", code="stale_revision")
    api.put(f"/api/v1/models/{ctr.pk}/runbook/", {"body": FILLED + "\nmore", "expected_revision": 1})
    history = api.get(f"/api/v1/models/{ctr.pk}/runbook/history/").json()
    assert history["count"] == 2 and [r["number"] for r in history["results"]] == [2, 1]
    assert history["results"][1]["summary"] == "v1" and history["results"][0]["created_by"] == "ada"


def test_api_refuses_viewers_other_teams_and_bad_input(ctr, vera, grace, ada):
    assert_problem(JsonClient(vera).put(f"/api/v1/models/{ctr.pk}/runbook/", {"body": "x"}), 403)
    assert_problem(JsonClient(grace).put(f"/api/v1/models/{ctr.pk}/runbook/", {"body": "x"}), 404)
    assert_problem(JsonClient(grace).get(f"/api/v1/models/{ctr.pk}/runbook/"), 404)
    assert_problem(JsonClient(grace).get(f"/api/v1/models/{ctr.pk}/runbook/history/"), 404)
    assert_problem(JsonClient(ada).put(f"/api/v1/models/{ctr.pk}/runbook/", {"body": 5}), 400, field="body")
    assert_problem(JsonClient(ada).put(f"/api/v1/models/{ctr.pk}/runbook/", {}), 400, field="body")
    assert JsonClient(vera).get(f"/api/v1/models/{ctr.pk}/runbook/").status_code == 200
    assert not Runbook.objects.filter(model__isnull=False).exists()


def test_api_html_of_a_stored_xss_is_sanitised(ctr, ada):
    api = JsonClient(ada)
    html = api.put(f"/api/v1/models/{ctr.pk}/runbook/", {"body": XSS}).json()["html"].lower()
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html


# --- pages ---------------------------------------------------------------------------------

def test_pages_view_edit_history_diff(client, ctr, ada):
    client.force_login(ada)
    view = client.get(f"/runbooks/models/{ctr.pk}/")
    assert view.status_code == 200 and "Not written yet" in view.content.decode()
    edit = client.get(f"/runbooks/models/{ctr.pk}/edit/")
    assert edit.status_code == 200 and "If you see high latency" in edit.content.decode()
    saved = client.post(f"/runbooks/models/{ctr.pk}/edit/", {"body": FILLED, "summary": "first", "expected_revision": 0})
    assert saved.status_code == 302
    client.post(f"/runbooks/models/{ctr.pk}/edit/", {"body": FILLED.replace("4 replicas", "6 replicas"),
                                                    "summary": "bigger", "expected_revision": 1})
    history = client.get(f"/runbooks/models/{ctr.pk}/history/").content.decode()
    assert "r2" in history and "bigger" in history
    diff = client.get(f"/runbooks/models/{ctr.pk}/diff/").content.decode()
    assert 'class="diff-del"' in diff and "4 replicas" in diff and "6 replicas" in diff
    assert client.get(f"/runbooks/models/{ctr.pk}/diff/", {"from": "1", "to": "9"}).status_code == 404
    assert client.get(f"/runbooks/models/{ctr.pk}/diff/", {"from": "x"}).status_code == 404
    stale = client.post(f"/runbooks/models/{ctr.pk}/edit/", {"body": "late", "expected_revision": 1})
    assert stale.status_code == 409 and "saved by someone else" in stale.content.decode()


def test_viewer_reads_but_cannot_edit_and_other_team_gets_404(client, ctr, vera, grace, ada):
    services.save_runbook(ctr, actor=ada, body=FILLED)
    client.force_login(vera)
    assert client.get(f"/runbooks/models/{ctr.pk}/").status_code == 200
    page = client.get(f"/runbooks/models/{ctr.pk}/").content.decode()
    assert f"/runbooks/models/{ctr.pk}/edit/" not in page
    assert client.get(f"/runbooks/models/{ctr.pk}/edit/").status_code == 403
    assert client.post(f"/runbooks/models/{ctr.pk}/edit/", {"body": "x"}).status_code == 403
    client.force_login(grace)
    for suffix in ("", "edit/", "history/", "diff/"):
        assert client.get(f"/runbooks/models/{ctr.pk}/{suffix}").status_code == 404
    assert "ctr-ranker" not in client.get("/runbooks/").content.decode()
    assert Runbook.objects.get(model=ctr).revision == 1


def test_index_lists_team_models_and_platform_runbooks(client, ctr, ada):
    client.force_login(ada)
    html = client.get("/runbooks/").content.decode()
    assert "ctr-ranker" in html and "Not written" in html and "GPU node pool exhausted" in html


def test_platform_runbooks_everyone_reads_only_platform_engineers_edit(client, ada, linus):
    client.force_login(ada)
    assert client.get("/runbooks/platform/gpu-node-pool-exhausted/").status_code == 200
    assert client.get("/runbooks/platform/gpu-node-pool-exhausted/edit/").status_code == 403
    client.force_login(linus)
    response = client.post("/runbooks/platform/gpu-node-pool-exhausted/edit/", {
        "title": "GPU node pool exhausted", "body": "## Symptoms\n\nPending pods.\n", "expected_revision": 1})
    assert response.status_code == 302
    assert Runbook.objects.get(slug="gpu-node-pool-exhausted").revision == 2
    with pytest.raises(NotPermitted):
        services.save_platform_runbook("gpu-node-pool-exhausted", actor=ada, title="x", body="y")
