"""readiness: the ten default items, every automatic evaluator, attest, waive, evaluate, readiness()."""

from __future__ import annotations

import pytest

from apps.core.errors import NotFound, NotPermitted, ValidationFailed
from apps.core.models import AuditEvent
from apps.readiness import evaluators, services
from apps.readiness.models import ChecklistDefinition, ChecklistItem
from apps.registry import services as registry_services
from tests import factories
from worker import tasks

DEFAULT_KEYS = ["reproducibility", "validation_metrics", "data_validation", "latency_sla", "staging_soak",
                "monitoring", "fallback", "runbook", "owner_oncall", "bias_review"]
# Items that pass only through facts other apps provide (deployments, drift, runbooks).
OTHER_APPS_ITEMS = ["latency_sla", "staging_soak", "monitoring", "runbook"]


@pytest.fixture
def model(recsys):
    return factories.model(recsys, "ranker", primary_metric="auc", primary_metric_floor=0.7)


@pytest.fixture
def version(model):
    return factories.version(model, 1)


def _status(version, key: str) -> str:
    return ChecklistItem.objects.get(version=version, key=key).status


def _verdict(key: str, version) -> tuple[str, str] | None:
    version.refresh_from_db()
    return evaluators.EVALUATORS[key](version)


# --- items ----------------------------------------------------------------------------


def test_ensure_items_creates_the_ten_defaults_once(model):
    version = factories.version(model, 1)  # calls ensure_items
    services.ensure_items(version)
    services.ensure_items(version)
    keys = list(ChecklistItem.objects.filter(version=version).values_list("key", flat=True))
    assert keys == DEFAULT_KEYS  # ordered by definition position
    assert set(ChecklistItem.objects.filter(version=version).values_list("status", flat=True)) == {"pending"}


def test_default_definitions_have_the_spec_kinds(db):
    kinds = dict(ChecklistDefinition.objects.values_list("key", "kind"))
    assert kinds == {"reproducibility": "automatic", "validation_metrics": "automatic", "data_validation": "either",
                     "latency_sla": "automatic", "staging_soak": "automatic", "monitoring": "automatic",
                     "fallback": "attested", "runbook": "automatic", "owner_oncall": "automatic",
                     "bias_review": "attested"}


def test_get_item_finds_item_and_refuses_unknown_keys(version):
    assert services.get_item(version, "fallback").key == "fallback"
    for key in ["nope", "", "FALLBACK", "fall\x00back", "x" * 51, None, 5]:
        with pytest.raises(NotFound) as caught:
            services.get_item(version, key)
        assert caught.value.code == "unknown_item"


# --- reproducibility ------------------------------------------------------------------


def test_reproducibility_passes_when_every_fact_is_recorded(version):
    status, detail = _verdict("reproducibility", version)
    assert status == "pass" and "commit 3f2c1a9d8e7b" in detail


@pytest.mark.parametrize(("field", "words"), [
    ("git_commit", "git commit"), ("dataset_version", "dataset version"),
    ("image_digest", "container image digest"), ("mlflow_run_id", "MLflow run id"), ("random_seed", "random seed"),
])
def test_reproducibility_fails_naming_the_missing_fact(model, field, words):
    version = factories.version(model, 1, **{field: ""})
    status, detail = _verdict("reproducibility", version)
    assert status == "fail" and words in detail
    others = {"git commit", "dataset version", "container image digest", "MLflow run id", "random seed"} - {words}
    assert not any(other + "," in detail or other + "." in detail for other in others)


# --- validation_metrics ---------------------------------------------------------------

FLOOR_CASES = [
    # (higher_is_better, floor, metrics, expected status)
    (True, 0.7, {"auc": 0.7}, "pass"),            # exactly at the floor
    (True, 0.7, {"auc": 0.6999}, "fail"),          # just under
    (True, 0.7, {"auc": 0.95}, "pass"),
    (False, 0.3, {"auc": 0.3}, "pass"),            # lower is better: at the ceiling
    (False, 0.3, {"auc": 0.3001}, "fail"),
    (False, 0.3, {"auc": 0.1}, "pass"),
    (True, 0.7, {"accuracy": 0.9}, "fail"),        # the primary metric is missing
    (True, 0.7, {"auc": None}, "fail"),            # NaN in MLflow, stored as null
    (True, 0.7, {"auc": "high"}, "fail"),          # not a number
    (True, None, {"auc": 0.99}, "fail"),           # no floor and nothing in production
]


@pytest.mark.parametrize(("higher", "floor", "metrics", "expected"), FLOOR_CASES)
def test_validation_metrics_against_the_floor(recsys, higher, floor, metrics, expected):
    model = factories.model(recsys, "ranker", primary_metric="auc", primary_metric_floor=floor,
                            higher_is_better=higher)
    version = factories.version(model, 1, metrics=metrics)
    status, detail = _verdict("validation_metrics", version)
    assert status == expected, detail


def test_validation_metrics_fails_without_a_primary_metric(recsys):
    model = factories.model(recsys, "ranker", primary_metric="")
    status, detail = _verdict("validation_metrics", factories.version(model, 1))
    assert status == "fail" and "primary metric" in detail


@pytest.mark.parametrize(("higher", "production", "candidate", "expected"), [
    (True, 0.85, 0.85, "pass"), (True, 0.85, 0.84, "fail"), (True, 0.85, 0.9, "pass"),
    (False, 0.2, 0.2, "pass"), (False, 0.2, 0.21, "fail"),
])
def test_validation_metrics_compares_with_the_production_version(recsys, monkeypatch, higher, production,
                                                                   candidate, expected):
    # the floor would decide the other way: the production version's metric is what counts
    model = factories.model(recsys, "ranker", primary_metric="auc", higher_is_better=higher,
                            primary_metric_floor=0.0 if not higher else 1.0)
    live = factories.version(model, 1, metrics={"auc": production})
    candidate_version = factories.version(model, 2, metrics={"auc": candidate})
    monkeypatch.setattr(evaluators, "_live_production_version", lambda v: live)
    status, detail = _verdict("validation_metrics", candidate_version)
    assert status == expected and "production v1" in detail


# --- data_validation and owner_oncall ---------------------------------------------------


@pytest.mark.parametrize(("result", "expected"), [
    ("passed", "pass"), ("success", "pass"), ("failed", "fail"), ("error", "fail"), ("", None), ("unknown", None),
])
def test_data_validation_reads_the_run_result(model, result, expected):
    verdict = _verdict("data_validation", factories.version(model, 1, data_validation=result))
    assert (verdict[0] if verdict else None) == expected


def test_data_validation_without_result_stays_pending_until_attested(model, ada):
    version = factories.version(model, 1, data_validation="")
    services.evaluate(version)
    assert _status(version, "data_validation") == "pending"
    services.attest(services.get_item(version, "data_validation"), actor=ada, status="pass",
                    evidence="Great Expectations suite 'clicks' passed: https://ge.example/run/77")
    services.evaluate(version)
    assert _status(version, "data_validation") == "pass"


@pytest.mark.parametrize(("owner", "oncall", "expected"), [
    ("ada@example.com", "#recsys-oncall", "pass"), ("", "#recsys-oncall", "fail"),
    ("ada@example.com", "", "fail"), ("   ", "#recsys-oncall", "fail"),
])
def test_owner_oncall(recsys, owner, oncall, expected):
    model = factories.model(recsys, "ranker", owner=owner, oncall=oncall)
    assert _verdict("owner_oncall", factories.version(model, 1))[0] == expected


# --- evaluate -------------------------------------------------------------------------


def test_evaluate_writes_one_audit_event_listing_changes_and_none_when_nothing_changed(version):
    changed = services.evaluate(version)

    keys = {item.key for item in changed}
    assert {"reproducibility", "validation_metrics", "data_validation", "owner_oncall"} <= keys
    event = AuditEvent.objects.get(action="checklist.evaluated")
    assert event.object_id == str(version.pk) and event.tenant_id == version.model.tenant_id
    assert event.after["reproducibility"] == "pass" and event.before["reproducibility"] == "pending"
    assert set(event.after) == {key for key in keys if event.before.get(key) != event.after.get(key)}

    assert services.evaluate(version) == []
    assert AuditEvent.objects.filter(action="checklist.evaluated").count() == 1


def test_evaluate_follows_a_changed_fact(model, version, ada):
    services.evaluate(version)
    registry_services.update_model(model, actor=ada, oncall="")
    changed = services.evaluate(version)
    assert [item.key for item in changed] == ["owner_oncall"] and _status(version, "owner_oncall") == "fail"
    assert AuditEvent.objects.filter(action="checklist.evaluated").first().after == {"owner_oncall": "fail"}


def test_evaluate_never_overrides_attested_or_waived_items(model, ada, linus):
    # given: facts that fail, a data scientist's attestation and a platform waiver
    version = factories.version(model, 1, data_validation="failed", git_commit="")
    services.evaluate(version)
    assert _status(version, "data_validation") == "fail" and _status(version, "reproducibility") == "fail"
    services.attest(services.get_item(version, "data_validation"), actor=ada, status="pass",
                    evidence="Re-ran validation on the fixed snapshot: report #481")
    services.waive(services.get_item(version, "reproducibility"), actor=linus,
                   reason="Legacy model; rebuilt from the tagged image next quarter.")
    # when
    changed = services.evaluate(version)
    # then
    assert {item.key for item in changed}.isdisjoint({"data_validation", "reproducibility"})
    assert _status(version, "data_validation") == "pass" and _status(version, "reproducibility") == "waived"


def test_an_attestation_stands_after_the_attesting_user_is_deleted(recsys, model):
    bob = factories.user("bob", tenant=recsys)
    version = factories.version(model, 1, data_validation="failed")
    services.attest(services.get_item(version, "data_validation"), actor=bob, status="pass",
                    evidence="Manual review of the rejected rows: ticket DATA-12")
    bob.delete()
    services.evaluate(version)
    item = ChecklistItem.objects.get(version=version, key="data_validation")
    assert (item.status, item.decided_by_id) == ("pass", None) and item.decided_at is not None


def test_viewer_cannot_evaluate_and_other_team_gets_not_found(version, vera, grace):
    with pytest.raises(NotPermitted):
        services.evaluate(version, actor=vera)
    with pytest.raises(NotFound):
        services.evaluate(version, actor=grace)
    assert not AuditEvent.objects.exists()


def test_evaluation_task_runs_as_the_worker(version):
    tasks.evaluate_checklist.delay(version.pk).get()
    assert _status(version, "reproducibility") == "pass"
    event = AuditEvent.objects.get(action="checklist.evaluated")
    assert (event.actor_id, event.actor_label, event.source) == (None, "worker", "worker")
    assert tasks.evaluate_checklist.delay(version.pk + 1000).get() is None  # a deleted version is skipped


def test_import_schedules_the_evaluation_task_after_commit(version, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        registry_services._schedule_evaluation(version.pk)
    assert len(callbacks) == 1
    assert _status(version, "owner_oncall") == "pass"


# --- attest ---------------------------------------------------------------------------


def test_data_scientist_attests_with_evidence_and_it_is_audited(version, ada):
    item = services.attest(services.get_item(version, "bias_review"), actor=ada, status="fail",
                           evidence="  Review found skew on new users: https://wiki/bias/42  ")
    assert (item.status, item.evidence, item.decided_by) == ("fail", "Review found skew on new users: "
                                                             "https://wiki/bias/42", ada)
    assert item.decided_at is not None and "ada" in item.detail
    event = AuditEvent.objects.get(action="checklist.attested")
    assert event.before["status"] == "pending" and event.after["status"] == "fail"
    assert (event.actor_id, event.tenant_id) == (ada.pk, version.model.tenant_id)


def test_platform_engineer_may_attest(version, linus):
    assert services.attest(services.get_item(version, "fallback"), actor=linus, status="pass",
                           evidence="Fallback: popular-items list, runbook §4").status == "pass"


@pytest.mark.parametrize("key", ["reproducibility", "validation_metrics", "owner_oncall", "latency_sla"])
def test_automatic_item_cannot_be_attested(version, ada, key):
    with pytest.raises(ValidationFailed) as caught:
        services.attest(services.get_item(version, key), actor=ada, status="pass", evidence="trust me")
    assert caught.value.code == "not_attestable"


@pytest.mark.parametrize(("status", "evidence", "code"), [
    ("pass", "", "evidence_required"), ("pass", "   ", "evidence_required"), ("pass", None, "evidence_required"),
    ("pass", "x" * 5001, "max_length"), ("pass", "bad\x00", "null_characters"), ("pass", 42, "invalid"),
    ("waived", "review link", "bad_status"), ("pending", "review link", "bad_status"),
    ("PASS", "review link", "bad_status"), (None, "review link", "bad_status"),
])
def test_attest_refuses_bad_status_or_evidence(version, ada, status, evidence, code):
    with pytest.raises(ValidationFailed) as caught:
        services.attest(services.get_item(version, "bias_review"), actor=ada, status=status, evidence=evidence)
    assert caught.value.code == code
    assert _status(version, "bias_review") == "pending" and not AuditEvent.objects.exists()


def test_viewer_cannot_attest(version, vera):
    with pytest.raises(NotPermitted):
        services.attest(services.get_item(version, "bias_review"), actor=vera, status="pass", evidence="ok")
    assert _status(version, "bias_review") == "pending"


def test_other_team_cannot_attest_and_gets_not_found(version, grace):
    with pytest.raises(NotFound):
        services.attest(services.get_item(version, "bias_review"), actor=grace, status="pass", evidence="ok")


def test_system_cannot_attest_or_waive(version):
    item = services.get_item(version, "bias_review")
    with pytest.raises(NotPermitted):
        services.attest(item, actor=None, status="pass", evidence="automated")
    with pytest.raises(NotPermitted):
        services.waive(item, actor=None, reason="automated")


# --- waive ----------------------------------------------------------------------------


def test_platform_engineer_waives_with_reason_and_it_is_audited(version, linus):
    item = services.waive(services.get_item(version, "latency_sla"), actor=linus,
                          reason="Batch model: no online latency path.")
    assert (item.status, item.waiver_reason, item.decided_by) == ("waived", "Batch model: no online latency path.",
                                                                  linus)
    event = AuditEvent.objects.get(action="checklist.waived")
    assert event.after == {"status": "waived", "evidence": "", "waiver_reason": "Batch model: no online latency path."}
    assert event.actor_id == linus.pk and event.tenant_id == version.model.tenant_id


@pytest.mark.parametrize("actor_name", ["ada", "vera"])
def test_team_members_cannot_waive(version, request, actor_name):
    with pytest.raises(NotPermitted):
        services.waive(services.get_item(version, "latency_sla"), actor=request.getfixturevalue(actor_name),
                       reason="please")
    assert _status(version, "latency_sla") == "pending"


def test_other_team_cannot_waive_and_gets_not_found(version, grace):
    with pytest.raises(NotFound):
        services.waive(services.get_item(version, "latency_sla"), actor=grace, reason="please")


@pytest.mark.parametrize("reason", ["", "   ", None, "r" * 5001])
def test_waiver_needs_a_reason(version, linus, reason):
    with pytest.raises(ValidationFailed) as caught:
        services.waive(services.get_item(version, "latency_sla"), actor=linus, reason=reason)
    assert caught.value.field == "reason"
    assert _status(version, "latency_sla") == "pending"


# --- readiness ------------------------------------------------------------------------


def test_ready_only_when_every_item_passes_or_is_waived(version, ada, linus):
    services.evaluate(version)
    for key in OTHER_APPS_ITEMS:
        services.waive(services.get_item(version, key), actor=linus, reason="Not served online.")
    services.attest(services.get_item(version, "fallback"), actor=ada, status="pass", evidence="Runbook §3")
    summary = services.readiness(version)
    assert (summary.ready, summary.total, summary.satisfied, summary.failing) == (False, 10, 9, ["bias_review"])

    services.attest(services.get_item(version, "bias_review"), actor=ada, status="fail", evidence="Skew found")
    assert services.readiness(version).failing == ["bias_review"]

    services.attest(services.get_item(version, "bias_review"), actor=ada, status="pass", evidence="Fixed: #12")
    summary = services.readiness(version)
    assert (summary.ready, summary.satisfied, summary.failing) == (True, 10, [])
    items = list(version.checklist.all())
    assert services.readiness(version, items) == summary


def test_a_version_without_items_is_not_ready(model):
    from apps.registry.models import ModelVersion

    bare = ModelVersion.objects.create(model=model, version=7)
    assert services.readiness(bare).ready is False


# --- add_definition -------------------------------------------------------------------


def test_platform_engineer_adds_an_attested_item_to_every_version(version, linus):
    definition = services.add_definition(actor=linus, key="privacy_review", title="Privacy review",
                                         description="Attest that the DPO signed off.", position=5)
    assert definition.kind == "attested"
    assert services.get_item(version, "privacy_review").status == "pending"
    assert services.readiness(version).total == 11
    assert AuditEvent.objects.get(action="checklist.definition_added").after["key"] == "privacy_review"


def test_data_scientist_cannot_add_items(ada):
    with pytest.raises(NotPermitted):
        services.add_definition(actor=ada, key="privacy_review", title="Privacy", description="DPO sign-off")


@pytest.mark.parametrize(("fields", "field", "code"), [
    ({"key": "Privacy"}, "key", "invalid"), ({"key": "privacy-review"}, "key", "invalid"),
    ({"key": "ü"}, "key", "invalid"), ({"key": ""}, "key", "invalid"), ({"key": None}, "key", "invalid"),
    ({"key": "fallback"}, "key", "duplicate"), ({"title": ""}, "title", "required"),
    ({"title": "t" * 101}, "title", "max_length"), ({"description": " "}, "description", "required"),
    ({"description": "nul\x00"}, "description", "null_characters"), ({"position": -1}, "position", "invalid"),
    ({"position": "first"}, "position", "invalid"),
])
def test_add_definition_refuses_bad_fields(linus, fields, field, code):
    values = {"key": "privacy_review", "title": "Privacy review", "description": "DPO sign-off", **fields}
    with pytest.raises(ValidationFailed) as caught:
        services.add_definition(actor=linus, **values)
    assert (field, code) in {(f, c) for f, c, _ in caught.value.errors}
    assert ChecklistDefinition.objects.count() == 10
