"""Checklist through the API: list, attest, waive, evaluate — roles, tenancy, bad input, audit."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.readiness.models import ChecklistItem
from tests.api.conftest import Counts, assert_problem

pytestmark = pytest.mark.django_db


def url(version, key: str = "") -> str:
    return f"/api/v1/versions/{version.pk}/checklist/" + (f"{key}/" if key else "")


def test_list_items_in_order(as_user, vera, version):
    body = as_user(vera).get(url(version)).json()
    assert body["count"] == 10
    keys = [i["key"] for i in body["results"]]
    assert keys[0] == "reproducibility" and "bias_review" in keys
    item = next(i for i in body["results"] if i["key"] == "bias_review")
    assert item["kind"] == "attested" and item["status"] == "pending" and item["decided_by"] is None


def test_one_item(as_user, ada, version):
    assert as_user(ada).get(url(version, "fallback")).json()["title"]


def test_attest_records_evidence_who_and_audit(as_user, ada, version):
    response = as_user(ada).post(url(version, "bias_review"), {"status": "pass",
                                                                "evidence": "https://wiki/bias-review-42"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "pass" and body["decided_by"] == "ada" and body["evidence"].endswith("42")
    item = ChecklistItem.objects.get(version=version, key="bias_review")
    assert item.status == "pass" and item.decided_by == ada
    event = AuditEvent.objects.get(action="checklist.attested")
    assert event.after["status"] == "pass" and event.actor == ada and event.tenant_id == version.model.tenant_id


def test_attest_without_evidence_is_400_and_writes_nothing(as_user, ada, version):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(url(version, "bias_review"), {"status": "pass"}), 400, field="evidence",
                   code="evidence_required")
    assert counts.unchanged()
    assert ChecklistItem.objects.get(version=version, key="bias_review").status == "pending"


def test_automatic_items_cannot_be_attested(as_user, ada, version):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(url(version, "reproducibility"), {"status": "pass", "evidence": "trust me"}), 400,
                   field="status", code="not_attestable")
    assert counts.unchanged()


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "maybe", "evidence": "x"}, "status"),
    ({"status": 1, "evidence": "x"}, "status"),
    ({"status": "pass", "evidence": 5}, "evidence"),
    ({"status": "pass", "evidence": "x" * 5001}, "evidence"),
    ({"status": "pass", "evidence": "nul\x00"}, "evidence"),
    ({"status": "pass", "evidence": "x", "decided_by": 1}, "decided_by"),
    ({"evidence": "x"}, "status"),
])
def test_bad_decisions_are_400_naming_the_field(as_user, ada, version, body, field):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(url(version, "bias_review"), body), 400, field=field)
    assert counts.unchanged()


def test_unknown_key_is_404(as_user, ada, version):
    client = as_user(ada)
    counts = Counts()
    for key in ("no_such_item", "UPPER", "x" * 60, "%00"):
        assert_problem(client.post(url(version, key), {"status": "pass", "evidence": "x"}), 404)
    assert counts.unchanged()


def test_viewer_cannot_attest(as_user, vera, version):
    client = as_user(vera)
    counts = Counts()
    assert_problem(client.post(url(version, "bias_review"), {"status": "pass", "evidence": "x"}), 403)
    assert counts.unchanged()


def test_other_team_gets_404_everywhere(as_user, grace, version):
    client = as_user(grace)
    counts = Counts()
    assert_problem(client.get(url(version)), 404)
    assert_problem(client.get(url(version, "fallback")), 404)
    assert_problem(client.post(url(version, "bias_review"), {"status": "pass", "evidence": "x"}), 404)
    assert_problem(client.post(url(version) + "evaluate/"), 404)
    assert counts.unchanged()


def test_platform_engineer_waives_with_a_reason(as_user, linus, version):
    response = as_user(linus).post(url(version, "latency_sla"), {"status": "waived", "reason": "batch model"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "waived" and response.json()["waiver_reason"] == "batch model"
    assert AuditEvent.objects.get(action="checklist.waived").actor == linus


def test_waiver_needs_a_reason(as_user, linus, version):
    client = as_user(linus)
    counts = Counts()
    assert_problem(client.post(url(version, "latency_sla"), {"status": "waived"}), 400, field="reason",
                   code="reason_required")
    assert counts.unchanged()


def test_data_scientist_cannot_waive(as_user, ada, version):
    client = as_user(ada)
    counts = Counts()
    assert_problem(client.post(url(version, "latency_sla"), {"status": "waived", "reason": "please"}), 403)
    assert counts.unchanged()


def test_version_becomes_ready_when_everything_passes_or_is_waived(as_user, linus, version):
    client = as_user(linus)
    for item in ChecklistItem.objects.filter(version=version):
        client.post(url(version, item.key), {"status": "waived", "reason": "test"})
    body = client.get(f"/api/v1/versions/{version.pk}/").json()
    assert body["ready"] is True and body["failing_items"] == [] and body["checklist"]["satisfied"] == 10


def test_evaluate_queues_the_worker_and_answers_202(as_user, ada, version):
    version.model.owner = version.model.oncall = ""
    version.model.save()
    response = as_user(ada).post(url(version) + "evaluate/")
    assert response.status_code == 202
    assert response.json()["checklist"].endswith(url(version))
    assert response["Location"] == response.json()["checklist"]
    # The (eager) worker ran: owner/on-call are empty, so that automatic item failed.
    assert ChecklistItem.objects.get(version=version, key="owner_oncall").status == "fail"
    assert ChecklistItem.objects.filter(version=version, evaluated_at__isnull=False).exists()


def test_viewer_cannot_request_evaluation(as_user, vera, version):
    assert_problem(as_user(vera).post(url(version) + "evaluate/"), 403)
    assert not ChecklistItem.objects.filter(version=version, evaluated_at__isnull=False).exists()
