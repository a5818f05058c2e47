"""The audit log: what record() writes, append-only at the ORM and in the database, sign-in events."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from apps.core import audit
from apps.core.models import AuditEvent, AuditImmutable, AuditSource
from tests import factories


@pytest.fixture
def event(recsys, ada):
    model = factories.model(recsys, "ranker")
    return audit.record("model.updated", actor=ada, tenant=recsys, obj=model, before={"owner": "a"},
                        after={"owner": "b"})


def test_record_captures_actor_tenant_object_and_states(event, ada, recsys):
    event = AuditEvent.objects.get(pk=event.pk)
    assert (event.actor_id, event.actor_label, event.tenant_id) == (ada.pk, "ada", recsys.pk)
    assert (event.object_type, event.object_repr, event.action) == ("model", "ranker", "model.updated")
    assert (event.before, event.after, event.source) == ({"owner": "a"}, {"owner": "b"}, "system")
    assert event.created_at is not None


def test_record_outside_a_person_names_the_system_or_the_worker(db):
    assert audit.record("x.happened").actor_label == "system"
    with audit.audit_context(source=AuditSource.WORKER, ip_address="10.0.0.7"):
        worker_event = audit.record("x.happened")
    assert (worker_event.actor_label, worker_event.source, worker_event.ip_address) == ("worker", "worker",
                                                                                       "10.0.0.7")
    assert audit.current_source() == AuditSource.SYSTEM  # the context is restored


def test_record_stores_values_postgresql_would_refuse(db):
    # NUL bytes and NaN arrive in user input and MLflow data; the event must still be written
    event = audit.record("auth.login_failed", actor_label="eve\x00", object_repr="eve\x00",
                         before={"metric": float("nan")}, after={"username": "eve\x00", "inf": float("inf")})
    event = AuditEvent.objects.get(pk=event.pk)
    assert "\x00" not in event.actor_label + event.object_repr + str(event.after)
    assert event.before == {"metric": "nan"} and event.after["inf"] == "inf"


# --- append-only: the ORM --------------------------------------------------------------

ORM_WRITES = {
    "save": lambda e: e.save(),
    "save_update_fields": lambda e: e.save(update_fields=["action"]),
    "delete": lambda e: e.delete(),
    "queryset_update": lambda e: AuditEvent.objects.filter(pk=e.pk).update(action="forged"),
    "queryset_delete": lambda e: AuditEvent.objects.filter(pk=e.pk).delete(),
    "all_delete": lambda e: AuditEvent.objects.all().delete(),
    "bulk_update": lambda e: AuditEvent.objects.bulk_update([e], ["action"]),
}


@pytest.mark.parametrize("write", ORM_WRITES.values(), ids=ORM_WRITES.keys())
def test_orm_refuses_to_change_or_delete_an_event(event, write):
    event.action = "forged"
    with pytest.raises(AuditImmutable), transaction.atomic():  # bulk_update fails inside its own atomic
        write(event)
    assert AuditEvent.objects.get(pk=event.pk).action == "model.updated"


def test_deleting_the_actor_or_team_keeps_their_events(event, ada):
    ada.delete()
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_id is not None and stored.actor_label == "ada"


# --- append-only: the database ----------------------------------------------------------


def _raw(sql: str, pk: int) -> str:
    """Run raw SQL in a savepoint; 'refused' when the database raises."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [pk])
    except DatabaseError as exc:
        assert "append-only" in str(exc)
        return "refused"
    return "done"


def test_database_refuses_raw_update_and_postgresql_also_raw_delete(event):
    table = AuditEvent._meta.db_table
    # Both backends: a trigger refuses UPDATE.
    assert _raw(f"UPDATE {table} SET action = 'forged' WHERE id = %s", event.pk) == "refused"
    assert AuditEvent.objects.get(pk=event.pk).action == "model.updated"
    if connection.vendor == "postgresql":
        # PostgreSQL: the same trigger refuses DELETE.
        assert _raw(f"DELETE FROM {table} WHERE id = %s", event.pk) == "refused"
        assert AuditEvent.objects.filter(pk=event.pk).exists()
    else:
        # SQLite keeps DELETE possible for the test runner's flush (migration 0003); only the
        # ORM refuses it there — proven by test_orm_refuses_to_change_or_delete_an_event.
        assert connection.vendor == "sqlite"
        assert _raw(f"DELETE FROM {table} WHERE id = %s", event.pk) == "done"
        assert not AuditEvent.objects.filter(pk=event.pk).exists()


def test_append_only_trigger_is_installed(db):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'core_auditevent'::regclass "
                           "AND NOT tgisinternal")
            assert [row[0] for row in cursor.fetchall()] == ["core_auditevent_append_only"]
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'core_auditevent'")
            assert [row[0] for row in cursor.fetchall()] == ["core_auditevent_no_update"]


# --- sign-in events ----------------------------------------------------------------------


def test_login_failed_login_and_logout_are_audited_through_the_client(client, ada):
    assert not client.login(username="ada", password="wrong")
    assert client.login(username="ada", password=factories.PASSWORD)
    client.logout()

    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_id", "actor_label"))
    assert actions == [("auth.login_failed", None, "ada"), ("auth.login", ada.pk, "ada"),
                       ("auth.logout", ada.pk, "ada")]
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.after == {"username": "ada"} and "wrong" not in str(failed.after)


def test_login_pages_audit_with_source_and_address(client, ada):
    login_url, logout_url = reverse("tenancy:login"), reverse("tenancy:logout")

    client.post(login_url, {"username": "nobody", "password": "guess"}, REMOTE_ADDR="203.0.113.9")
    client.post(login_url, {"username": "ada", "password": factories.PASSWORD}, REMOTE_ADDR="203.0.113.9")
    client.post(logout_url, REMOTE_ADDR="203.0.113.9")

    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.action, e.actor_label) for e in events] == [
        ("auth.login_failed", "nobody"), ("auth.login", "ada"), ("auth.logout", "ada")]
    assert {(e.source, e.ip_address) for e in events} == {("ui", "203.0.113.9")}
    assert events[1].actor_id == ada.pk and events[0].actor_id is None


def test_members_see_their_own_sign_in_events_only(client, ada, grace):
    client.login(username="ada", password=factories.PASSWORD)
    client.login(username="grace", password=factories.PASSWORD)
    assert list(AuditEvent.objects.for_user(ada).values_list("actor_label", flat=True)) == ["ada"]
