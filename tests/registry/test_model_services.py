"""registry.services: create, update and delete a model — rules, permissions, races, audit."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from apps.core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from apps.core.models import AuditEvent
from apps.registry import services
from apps.registry.models import Model
from tests import factories


def _codes(exc: ValidationFailed) -> set[tuple[str | None, str]]:
    return {(field, code) for field, code, _message in exc.errors}


# --- create -------------------------------------------------------------------------


def test_data_scientist_creates_model_with_audit_event(recsys, ada):
    model = services.create_model(recsys, actor=ada, name="ranker", owner="ada@example.com", primary_metric="auc",
                                  primary_metric_floor=0.75)

    model.refresh_from_db()
    assert (model.tenant, model.name, model.mlflow_name, model.created_by) == (recsys, "ranker", "ranker", ada)
    event = AuditEvent.objects.get(action="model.created")
    assert (event.actor_id, event.tenant_id, event.object_id) == (ada.pk, recsys.pk, str(model.pk))
    assert event.after["name"] == "ranker" and event.after["primary_metric_floor"] == 0.75
    assert event.before is None


def test_platform_engineer_creates_model_in_any_team(recsys, linus):
    model = services.create_model(recsys, actor=linus, name="ranker", mlflow_name="recsys.ranker")
    assert model.mlflow_name == "recsys.ranker" and model.tenant_id == recsys.pk


def test_viewer_cannot_create_model(recsys, vera):
    with pytest.raises(NotPermitted):
        services.create_model(recsys, actor=vera, name="ranker")
    assert not Model.objects.exists() and not AuditEvent.objects.exists()


def test_other_team_cannot_create_model_and_gets_not_found(recsys, grace):
    with pytest.raises(NotFound):
        services.create_model(recsys, actor=grace, name="ranker")
    assert not Model.objects.exists()


BAD_FIELDS = [
    # (fields, expected (field, code))
    ({"name": ""}, ("name", "required")),
    ({"name": "Ranker"}, ("name", "invalid")),
    ({"name": "-ranker"}, ("name", "invalid")),
    ({"name": "ranker-"}, ("name", "invalid")),
    ({"name": "rank_er"}, ("name", "invalid")),
    ({"name": "a" * 64}, ("name", "max_length")),
    ({"name": "rank\x00er"}, ("name", "null_characters")),
    ({"name": "ranker", "description": "bad\x00text"}, ("description", "null_characters")),
    ({"name": "ranker", "description": "x" * 5001}, ("description", "max_length")),
    ({"name": "ranker", "owner": "o" * 151}, ("owner", "max_length")),
    ({"name": "ranker", "oncall": "#oncall\x00"}, ("oncall", "null_characters")),
    ({"name": "ranker", "mlflow_name": "m" * 257}, ("mlflow_name", "max_length")),
    ({"name": "ranker", "primary_metric": "m" * 101}, ("primary_metric", "max_length")),
    ({"name": "ranker", "primary_metric": " auc"}, ("primary_metric", "invalid")),
    ({"name": "ranker", "sla_p99_ms": 0}, ("sla_p99_ms", "min_value")),
    ({"name": "ranker", "sla_p99_ms": 600_001}, ("sla_p99_ms", "max_value")),
    ({"name": "ranker", "sla_p99_ms": "fast"}, ("sla_p99_ms", "invalid")),
    ({"name": "ranker", "sla_p99_ms": True}, ("sla_p99_ms", "invalid")),
    ({"name": "ranker", "primary_metric_floor": float("nan")}, ("primary_metric_floor", "invalid")),
    ({"name": "ranker", "primary_metric_floor": float("inf")}, ("primary_metric_floor", "invalid")),
    ({"name": "ranker", "higher_is_better": None}, ("higher_is_better", "required")),
    ({"name": "ranker", "owner": None}, ("owner", "required")),
    ({"name": "ranker", "description": None}, ("description", "required")),
]


@pytest.mark.parametrize(("fields", "expected"), BAD_FIELDS, ids=[repr(f)[:40] for f, _ in BAD_FIELDS])
def test_create_model_refuses_bad_field_and_writes_nothing(recsys, ada, fields, expected):
    with pytest.raises(ValidationFailed) as caught:
        services.create_model(recsys, actor=ada, **fields)
    assert expected in _codes(caught.value)
    assert not Model.objects.exists() and not AuditEvent.objects.exists()


def test_create_model_refuses_unknown_fields(recsys, ada):
    with pytest.raises(ValidationFailed) as caught:
        services.create_model(recsys, actor=ada, name="ranker", tenant_id=99, created_by=ada)
    assert _codes(caught.value) == {("created_by", "unknown_field"), ("tenant_id", "unknown_field")}
    assert not Model.objects.exists()


def test_duplicate_name_in_same_team_is_refused(recsys, ada):
    services.create_model(recsys, actor=ada, name="ranker")
    with pytest.raises(ValidationFailed) as caught:
        services.create_model(recsys, actor=ada, name="ranker")
    assert _codes(caught.value) == {("name", "duplicate_name")}
    assert Model.objects.count() == 1 and AuditEvent.objects.filter(action="model.created").count() == 1


def test_same_name_in_another_team_is_allowed(recsys, search, ada, grace):
    services.create_model(recsys, actor=ada, name="ranker")
    services.create_model(search, actor=grace, name="ranker")
    assert Model.objects.filter(name="ranker").count() == 2


def test_duplicate_created_between_check_and_insert_is_a_duplicate_name_error(recsys, ada, monkeypatch):
    # given: the name check passes, and then another request commits the same name
    original = services._validate

    def validate_then_lose_race(model):
        original(model)
        Model.objects.create(tenant=recsys, name=model.name, mlflow_name=model.name)

    monkeypatch.setattr(services, "_validate", validate_then_lose_race)
    # when / then: the unique constraint answers, as the field error (not a 500), and no audit row
    with pytest.raises(ValidationFailed) as caught:
        services.create_model(recsys, actor=ada, name="ranker")
    assert _codes(caught.value) == {("name", "duplicate_name")}
    assert Model.objects.count() == 1 and not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_same_name_exactly_one_wins(recsys, ada):
    # given: eight threads, each with its own database connection, released at once
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def create():
        try:
            barrier.wait(timeout=10)
            services.create_model(recsys, actor=ada, name="ranker")
            outcomes.append("created")
        except ValidationFailed as exc:
            outcomes.append(exc.errors[0][1])
        except Exception as exc:  # anything else is the bug this test looks for
            outcomes.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: one model, one audit event, every loser told "duplicate_name"
    assert sorted(outcomes) == ["created"] + ["duplicate_name"] * 7, outcomes
    assert Model.objects.filter(tenant=recsys, name="ranker").count() == 1
    assert AuditEvent.objects.filter(action="model.created").count() == 1
    assert connection.vendor in ("postgresql", "sqlite")


# --- update -------------------------------------------------------------------------


def test_update_model_records_only_changed_fields(recsys, ada):
    model = factories.model(recsys, "ranker", owner="ada@example.com", sla_p99_ms=200)
    updated = services.update_model(model, actor=ada, owner="bob@example.com", sla_p99_ms=150, oncall=model.oncall)

    assert (updated.owner, updated.sla_p99_ms) == ("bob@example.com", 150)
    assert model.owner == "bob@example.com"  # the caller's instance is refreshed too
    event = AuditEvent.objects.get(action="model.updated")
    assert event.before == {"owner": "ada@example.com", "sla_p99_ms": 200}
    assert event.after == {"owner": "bob@example.com", "sla_p99_ms": 150}
    assert (event.actor_id, event.tenant_id) == (ada.pk, recsys.pk)


def test_update_without_changes_writes_no_audit_event(recsys, ada):
    model = factories.model(recsys, "ranker")
    services.update_model(model, actor=ada, owner=model.owner)
    assert not AuditEvent.objects.exists()


def test_viewer_cannot_update_model(recsys, vera):
    model = factories.model(recsys, "ranker")
    with pytest.raises(NotPermitted):
        services.update_model(model, actor=vera, owner="vera")
    model.refresh_from_db()
    assert model.owner == "ada@example.com" and not AuditEvent.objects.exists()


def test_other_team_cannot_update_model_and_gets_not_found(recsys, grace):
    model = factories.model(recsys, "ranker")
    with pytest.raises(NotFound):
        services.update_model(model, actor=grace, owner="grace")


def test_update_to_a_name_the_team_uses_is_refused(recsys, ada):
    factories.model(recsys, "ranker")
    other = factories.model(recsys, "scorer")
    with pytest.raises(ValidationFailed) as caught:
        services.update_model(other, actor=ada, name="ranker")
    assert _codes(caught.value) == {("name", "duplicate_name")}
    other.refresh_from_db()
    assert other.name == "scorer"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"tenant": 5}, ("tenant", "read_only")),
    ({"created_at": None}, ("created_at", "read_only")),
    ({"description": "x" * 5001}, ("description", "max_length")),
    ({"owner": "nul\x00"}, ("owner", "null_characters")),
    ({"mlflow_name": ""}, ("mlflow_name", "required")),
    ({"name": "Bad Name"}, ("name", "invalid")),
])
def test_update_model_refuses_bad_changes(recsys, ada, changes, expected):
    model = factories.model(recsys, "ranker")
    with pytest.raises(ValidationFailed) as caught:
        services.update_model(model, actor=ada, **changes)
    assert expected in _codes(caught.value)
    assert not AuditEvent.objects.exists()


# --- delete -------------------------------------------------------------------------


def test_delete_model_removes_it_and_audits_before_state(recsys, ada):
    model = factories.model(recsys, "ranker")
    pk = model.pk
    services.delete_model(model, actor=ada)

    assert not Model.objects.filter(pk=pk).exists()
    event = AuditEvent.objects.get(action="model.deleted")
    assert event.object_id == str(pk) and event.before["name"] == "ranker" and event.before["versions"] == []
    assert event.after is None


def test_viewer_cannot_delete_model(recsys, vera):
    model = factories.model(recsys, "ranker")
    with pytest.raises(NotPermitted):
        services.delete_model(model, actor=vera)
    assert Model.objects.filter(pk=model.pk).exists()


def test_other_team_cannot_delete_model_and_gets_not_found(recsys, grace):
    model = factories.model(recsys, "ranker")
    with pytest.raises(NotFound):
        services.delete_model(model, actor=grace)
    assert Model.objects.filter(pk=model.pk).exists()


def test_deleting_a_deleted_model_is_not_found(recsys, ada):
    model = factories.model(recsys, "ranker")
    services.delete_model(model, actor=ada)
    with pytest.raises(NotFound):
        services.delete_model(model, actor=ada)


def test_delete_model_refused_while_deployments_block_it(recsys, ada, monkeypatch):
    model = factories.model(recsys, "ranker")
    monkeypatch.setattr(services, "_deletion_blocker", lambda m: "The model has 1 active deployment(s).")
    with pytest.raises(Conflict) as caught:
        services.delete_model(model, actor=ada)
    assert caught.value.code == "model_in_use"
    assert Model.objects.filter(pk=model.pk).exists() and not AuditEvent.objects.exists()


def test_delete_model_protected_by_other_records_is_a_conflict(recsys, ada, monkeypatch):
    from django.db.models.deletion import ProtectedError

    model = factories.model(recsys, "ranker")

    def protected_delete(self, *args, **kwargs):  # e.g. a finished deployment keeps PROTECT on the model
        raise ProtectedError("protected", {model})

    monkeypatch.setattr(Model, "delete", protected_delete)
    with pytest.raises(Conflict) as caught:
        services.delete_model(model, actor=ada)
    assert caught.value.code == "model_in_use" and "models" in caught.value.message
    assert Model.objects.filter(pk=model.pk).exists() and not AuditEvent.objects.exists()
