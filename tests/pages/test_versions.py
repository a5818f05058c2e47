"""The version page and its checklist: attest and waive in place, re-evaluate with polling."""

from __future__ import annotations

import time

import pytest

from apps.core.models import AuditEvent
from apps.readiness.models import ChecklistItem
from apps.readiness.services import waive
from apps.readiness.views import EVALUATION_PATIENCE_SECONDS
from tests import factories

pytestmark = pytest.mark.django_db


def _status(version, key):
    return ChecklistItem.objects.get(version=version, key=key).status


def test_version_page_shows_checklist_metadata_and_progress(logged_in, ada, churn_v):
    body = logged_in(ada).get(f"/versions/{churn_v.pk}/").content.decode()
    assert 'id="item-reproducibility"' in body and 'id="item-bias_review"' in body
    assert "clicks-2026-11-01" in body and churn_v.mlflow_run_id[:16] in body
    assert 'id="readiness-badge"' in body and "Not ready" in body
    assert "Re-evaluate" in body and "Attest" in body
    assert "Waive" not in body  # ada is not a platform engineer


def test_attest_without_htmx_redirects_back_with_a_message(logged_in, ada, churn_v):
    client = logged_in(ada)
    response = client.post(f"/versions/{churn_v.pk}/checklist/bias_review/attest/",
                           {"status": "pass", "evidence": "https://wiki/review"})
    assert response.status_code == 302 and response["Location"] == f"/versions/{churn_v.pk}/#item-bias_review"
    assert _status(churn_v, "bias_review") == "pass"
    assert "Bias review: attested pass." in client.get(response["Location"]).content.decode()
    assert AuditEvent.objects.filter(action="checklist.attested", source="ui").count() == 1


def test_attest_with_htmx_swaps_the_row_and_the_badge(logged_in, ada, churn_v):
    response = logged_in(ada).post(f"/versions/{churn_v.pk}/checklist/fallback/attest/",
                                   {"status": "pass", "evidence": "docs/fallback.md"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<li id="item-fallback"')
    assert '<span id="readiness-badge" hx-swap-oob="true">' in body
    assert 'id="readiness-summary" class="readiness-summary" hx-swap-oob="true"' in body
    assert "<html" not in body
    assert _status(churn_v, "fallback") == "pass"


def test_last_attestation_makes_the_version_ready(logged_in, ada, linus, churn_v):
    for item in ChecklistItem.objects.filter(version=churn_v).exclude(status="pass").exclude(key="bias_review"):
        waive(item, actor=linus, reason="accepted")
    response = logged_in(ada).post(f"/versions/{churn_v.pk}/checklist/bias_review/attest/",
                                   {"status": "pass", "evidence": "review #12"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "badge-ready" in body and "10/10" in body


@pytest.mark.parametrize("data, message", [
    ({"status": "pass", "evidence": ""}, "Evidence: Evidence is required"),
    ({"status": "pass", "evidence": "x" * 5001}, "Evidence: Ensure this value has at most 5000 characters"),
    ({"status": "pass", "evidence": "a\x00b"}, "Evidence: Null characters are not allowed."),
    ({"status": "maybe", "evidence": "x"}, "Status: Select a valid choice."),
])
def test_attest_bad_input_is_a_form_error_in_the_row(logged_in, ada, churn_v, data, message):
    response = logged_in(ada).post(f"/versions/{churn_v.pk}/checklist/bias_review/attest/", data,
                                   HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    body = response.content.decode()
    assert message in body and "<details class=\"disclosure\" open>" in body
    assert _status(churn_v, "bias_review") == "pending"


def test_attest_bad_input_without_htmx_rerenders_the_page(logged_in, ada, churn_v):
    response = logged_in(ada).post(f"/versions/{churn_v.pk}/checklist/bias_review/attest/",
                                   {"status": "pass", "evidence": " "})
    assert response.status_code == 422
    assert "<html" in response.content.decode() and "Evidence" in response.content.decode()


def test_attesting_an_automatic_item_is_refused_with_the_rule(logged_in, ada, churn_v):
    response = logged_in(ada).post(f"/versions/{churn_v.pk}/checklist/reproducibility/attest/",
                                   {"status": "pass", "evidence": "trust me"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "is checked automatically" in response.content.decode()


def test_unknown_item_is_404(logged_in, ada, churn_v):
    response = logged_in(ada).post(f"/versions/{churn_v.pk}/checklist/nope/attest/", {"status": "pass",
                                                                                      "evidence": "x"})
    assert response.status_code == 404


def test_platform_engineer_waives_in_place_with_a_reason(logged_in, linus, churn_v):
    client = logged_in(linus)
    assert "Waive" in client.get(f"/versions/{churn_v.pk}/").content.decode()
    response = client.post(f"/versions/{churn_v.pk}/checklist/staging_soak/waive/", {"reason": ""},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "Reason: A waiver needs a reason." in response.content.decode()
    assert _status(churn_v, "staging_soak") == "pending"
    response = client.post(f"/versions/{churn_v.pk}/checklist/staging_soak/waive/",
                           {"reason": "no GPU staging yet"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Reason:</span> no GPU staging yet" in response.content.decode()
    assert _status(churn_v, "staging_soak") == "waived"


def test_data_scientist_cannot_waive(logged_in, ada, churn_v):
    response = logged_in(ada).post(f"/versions/{churn_v.pk}/checklist/staging_soak/waive/", {"reason": "pls"})
    assert response.status_code == 403
    assert _status(churn_v, "staging_soak") == "pending"


def test_viewer_sees_no_checklist_controls_and_gets_403(logged_in, vera, churn_v):
    client = logged_in(vera)
    body = client.get(f"/versions/{churn_v.pk}/").content.decode()
    assert "/attest/" not in body and "/waive/" not in body and "/evaluate/" not in body
    assert "Re-evaluate" not in body
    assert client.post(f"/versions/{churn_v.pk}/checklist/bias_review/attest/",
                       {"status": "pass", "evidence": "x"}).status_code == 403
    assert client.post(f"/versions/{churn_v.pk}/checklist/bias_review/attest/", {}).status_code == 403
    assert client.post(f"/versions/{churn_v.pk}/checklist/evaluate/").status_code == 403
    assert _status(churn_v, "bias_review") == "pending"


def test_other_team_gets_404_on_the_version_and_its_actions(logged_in, grace, churn_v):
    client = logged_in(grace)
    assert client.get(f"/versions/{churn_v.pk}/").status_code == 404
    assert client.get(f"/versions/{churn_v.pk}/checklist/", HTTP_HX_REQUEST="true").status_code == 404
    assert client.post(f"/versions/{churn_v.pk}/checklist/bias_review/attest/",
                       {"status": "pass", "evidence": "x"}).status_code == 404
    assert client.post(f"/versions/{churn_v.pk}/checklist/evaluate/").status_code == 404
    assert _status(churn_v, "bias_review") == "pending"


def test_reevaluate_runs_the_task_and_the_card_stops_polling(logged_in, ada, churn_v):
    client = logged_in(ada)
    ChecklistItem.objects.filter(version=churn_v, key="owner_oncall").update(status="fail")
    # Eager Celery in tests: the task has run by the time the response is rendered.
    response = client.post(f"/versions/{churn_v.pk}/checklist/evaluate/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="checklist"')
    assert 'hx-trigger="every 2s"' not in body
    assert _status(churn_v, "owner_oncall") == "pass"
    response = client.get(f"/versions/{churn_v.pk}/checklist/", HTTP_HX_REQUEST="true")
    assert response.status_code == 286  # htmx: stop polling


def test_card_polls_while_the_worker_has_not_run(logged_in, ada, churn_v, monkeypatch):
    client = logged_in(ada)
    monkeypatch.setattr("worker.tasks.evaluate_checklist.delay", lambda version_id: None)  # no worker
    response = client.post(f"/versions/{churn_v.pk}/checklist/evaluate/", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in response.content.decode()
    assert "Re-evaluating on the worker" in response.content.decode()
    poll = client.get(f"/versions/{churn_v.pk}/checklist/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and 'hx-trigger="every 2s"' in poll.content.decode()
    # The worker never came: after the patience window the card says so and stops polling.
    later = time.time() + EVALUATION_PATIENCE_SECONDS + 1
    monkeypatch.setattr("apps.readiness.views._now", lambda: later)
    poll = client.get(f"/versions/{churn_v.pk}/checklist/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 286 and "Is a Celery worker running?" in poll.content.decode()


def test_reevaluate_without_htmx_redirects_with_a_message(logged_in, ada, churn_v):
    response = logged_in(ada).post(f"/versions/{churn_v.pk}/checklist/evaluate/", follow=True)
    assert "Re-evaluation queued" in response.content.decode()


def test_checklist_card_without_htmx_redirects_to_the_page(logged_in, ada, churn_v):
    response = logged_in(ada).get(f"/versions/{churn_v.pk}/checklist/")
    assert response.status_code == 302 and response["Location"] == f"/versions/{churn_v.pk}/"


def test_model_page_query_count_does_not_grow_with_versions(logged_in, ada, churn_v, recsys,
                                                             django_assert_max_num_queries):
    client = logged_in(ada)
    client.get(f"/models/{churn_v.model_id}/")
    # A budget for the whole page (versions, live-where, cost, runbook and drift panels) ...
    with django_assert_max_num_queries(20) as small:
        client.get(f"/models/{churn_v.model_id}/")
    # ... that does not grow with the number of versions.
    for number in range(100, 115):
        factories.version(churn_v.model, number)  # with its ten checklist items
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(f"/models/{churn_v.model_id}/").status_code == 200
