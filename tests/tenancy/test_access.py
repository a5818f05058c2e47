"""Who may see and change what: User.can / tenant_ids, core.access.require, and
TenantScopedQuerySet.for_user on every tenant-scoped model."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser

from apps.core import audit
from apps.core.access import require, require_platform
from apps.core.errors import NotFound, NotPermitted
from apps.core.models import AuditEvent
from apps.core.scoping import TenantScopedQuerySet, tenant_id_of
from apps.readiness.models import ChecklistItem
from apps.registry.models import Model, ModelVersion
from apps.tenancy.models import Membership, Tenant
from tests import factories

# (user, team, may view, may change)
CAN_TABLE = [
    ("ada", "recsys", True, True), ("ada", "search", False, False),
    ("vera", "recsys", True, False), ("vera", "search", False, False),
    ("grace", "search", True, True), ("grace", "recsys", False, False),
    ("linus", "recsys", True, True), ("linus", "search", True, True),
]


@pytest.mark.parametrize(("username", "team", "view", "change"), CAN_TABLE)
def test_user_can(request, username, team, view, change):
    user, tenant = request.getfixturevalue(username), request.getfixturevalue(team)
    assert (user.can("view", tenant.pk), user.can("change", tenant.pk)) == (view, change)


def test_tenant_ids_per_action(ada, vera, grace, linus, recsys, search):
    assert (ada.tenant_ids("view"), ada.tenant_ids("change")) == ({recsys.pk}, {recsys.pk})
    assert (vera.tenant_ids("view"), vera.tenant_ids("change")) == ({recsys.pk}, set())
    assert grace.tenant_ids() == {search.pk}
    assert linus.tenant_ids() == set()  # platform access comes from is_platform, not memberships


def test_member_of_two_teams_with_different_roles(recsys, search):
    both = factories.user("both", tenant=recsys, role="data_scientist")
    factories.user("both", tenant=search, role="viewer")
    both.refresh_from_db()
    assert both.tenant_ids("view") == {recsys.pk, search.pk} and both.tenant_ids("change") == {recsys.pk}
    assert both.role_in(search.pk) == "viewer" and both.role_in(12345) is None


def test_reloading_a_user_forgets_cached_memberships(ada, recsys):
    assert ada.can("change", recsys.pk)
    Membership.objects.filter(user=ada).update(role="viewer")
    assert ada.can("change", recsys.pk)  # cached for the request
    ada.refresh_from_db()
    assert not ada.can("change", recsys.pk) and ada.can("view", recsys.pk)


def test_deactivated_users_can_nothing(ada, linus, recsys):
    for user in (ada, linus):
        user.is_active = False
        assert not user.can("view", recsys.pk)
    with pytest.raises(NotPermitted):
        require_platform(linus, doing="approve")


@pytest.mark.parametrize(("username", "team", "action", "outcome"), [
    ("ada", "recsys", "change", None), ("vera", "recsys", "view", None), ("vera", "recsys", "change", NotPermitted),
    ("grace", "recsys", "view", NotFound), ("grace", "recsys", "change", NotFound),
    ("linus", "search", "change", None),
])
def test_require(request, username, team, action, outcome):
    user, tenant = request.getfixturevalue(username), request.getfixturevalue(team)
    if outcome is None:
        require(user, action, tenant.pk)
    else:
        with pytest.raises(outcome):
            require(user, action, tenant.pk)


def test_require_anonymous_and_system(recsys):
    with pytest.raises(NotPermitted):
        require(AnonymousUser(), "view", recsys.pk)
    require(None, "change", recsys.pk)  # the worker / a management command
    require_platform(None, doing="waive")


@pytest.mark.parametrize("username", ["ada", "vera", "grace"])
def test_only_platform_engineers_pass_require_platform(request, username, linus):
    require_platform(linus, doing="waive")
    with pytest.raises(NotPermitted):
        require_platform(request.getfixturevalue(username), doing="waive")
    with pytest.raises(NotPermitted):
        require_platform(AnonymousUser(), doing="waive")


# --- for_user on every scoped model ------------------------------------------------


def _scoped_models():
    return [m for m in apps.get_models() if getattr(m, "tenant_path", None) is not None]


def test_every_scoped_model_has_a_tenant_path_to_tenant_and_a_scoped_manager(db):
    models = _scoped_models()
    assert {Tenant, Model, ModelVersion, ChecklistItem, AuditEvent} <= set(models)
    for model in models:
        assert isinstance(model._default_manager.all(), TenantScopedQuerySet), model
        target = model
        if model.tenant_path != "id":
            for part in model.tenant_path.split("__"):
                target = target._meta.get_field(part).related_model
        assert target is Tenant, f"{model.__name__}.tenant_path leads to {target}"


def test_every_scoped_model_answers_for_user_queries(ada, vera, grace, linus):
    # The query compiles and runs for each role on every model other apps add too.
    for model in _scoped_models():
        for user in (ada, vera, grace, linus, AnonymousUser(), None):
            for action in ("view", "change"):
                list(model._default_manager.all().for_user(user, action)[:1])


@pytest.fixture
def world(recsys, search, ada, grace):
    """One model, version, checklist item and audit event in each team."""
    rows = {}
    for tenant, user in ((recsys, ada), (search, grace)):
        model = factories.model(tenant, f"{tenant.slug}-ranker")
        version = factories.version(model, 1)
        event = audit.record("test.event", actor=user, tenant=tenant, obj=model)
        rows[tenant.slug] = {Tenant: tenant, Model: model, ModelVersion: version,
                             ChecklistItem: version.checklist.first(), AuditEvent: event}
    return rows


SCOPED = [Tenant, Model, ModelVersion, ChecklistItem, AuditEvent]


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_other_team_sees_nothing_and_platform_sees_all(world, model, ada, vera, grace, linus):
    recsys_row, search_row = world["recsys"][model], world["search"][model]
    manager = model._default_manager

    def ids(user, action="view"):
        return set(manager.for_user(user, action).filter(pk__in=[recsys_row.pk, search_row.pk])
                   .values_list("pk", flat=True))

    append_only = model is AuditEvent  # nobody changes an audit event, platform included
    assert ids(ada) == {recsys_row.pk} and ids(ada, "change") == (set() if append_only else {recsys_row.pk})
    assert ids(grace) == {search_row.pk}
    assert ids(vera) == {recsys_row.pk} and ids(vera, "change") == set()  # viewer sees, cannot change
    assert ids(linus) == {recsys_row.pk, search_row.pk}
    assert ids(linus, "change") == (set() if append_only else {recsys_row.pk, search_row.pk})
    assert ids(AnonymousUser()) == ids(None) == set()
    assert tenant_id_of(recsys_row) == world["recsys"][Tenant].pk


def test_deactivated_member_sees_nothing(world, ada):
    ada.is_active = False
    assert not Model.objects.for_user(ada).exists()


def test_for_tenant(world, recsys):
    assert list(ChecklistItem.objects.for_tenant(recsys.pk).values_list("version__model__tenant", flat=True)) \
        == [recsys.pk] * 10


def test_own_security_events_without_team_are_visible_to_their_actor_only(world, ada, grace, vera):
    own = audit.record("token.created", actor=ada)
    assert AuditEvent.objects.for_user(ada).filter(pk=own.pk).exists()
    assert not AuditEvent.objects.for_user(grace).filter(pk=own.pk).exists()
    assert not AuditEvent.objects.for_user(vera).filter(pk=own.pk).exists()  # same team, not hers
