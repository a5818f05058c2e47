"""Approvals: platform engineers only, never the requester, bound to digest and config, expiring."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import InvalidTransition, NotPermitted, ValidationFailed
from apps.core.models import AuditEvent
from apps.deployments import services
from apps.deployments.choices import DeploymentStatus
from apps.deployments.models import Approval
from tests import factories
from tests.deployments.conftest import SMALL

PROD = {**SMALL, "soak_seconds": 300}


@pytest.fixture
def request_(ada, v1, production):
    return services.request_deployment(v1, environment=production, config=PROD, actor=ada)


def test_platform_engineer_approves(linus, request_):
    approval = services.approve(request_, actor=linus, comment="looks good")
    request_.refresh_from_db()
    assert request_.status == DeploymentStatus.QUEUED
    assert approval.artifact_digest == request_.version.artifact_digest
    assert approval.config_hash == request_.config_hash
    assert approval.expires_at > timezone.now() + timedelta(hours=71)
    assert AuditEvent.objects.filter(action="approval.approved").count() == 1


def test_data_scientist_cannot_approve(ada, request_):
    other = factories.user("hopper", tenant=request_.tenant)
    with pytest.raises(NotPermitted):
        services.approve(request_, actor=other)


def test_requester_cannot_approve_even_as_platform_engineer(linus, v1, production):
    linus_request = services.request_deployment(v1, environment=production, config=PROD, actor=linus)
    with pytest.raises(NotPermitted) as caught:
        services.approve(linus_request, actor=linus)
    assert caught.value.code == "self_approval"
    with pytest.raises(NotPermitted):
        services.reject(linus_request, actor=linus, comment="no")
    linus_request.refresh_from_db()
    assert linus_request.status == DeploymentStatus.PENDING_APPROVAL
    assert not Approval.objects.exists()


def test_reject_needs_a_comment(linus, request_):
    with pytest.raises(ValidationFailed) as caught:
        services.reject(request_, actor=linus, comment="  ")
    assert caught.value.field == "comment"
    services.reject(request_, actor=linus, comment="needs a bias review first")
    request_.refresh_from_db()
    assert request_.status == DeploymentStatus.REJECTED
    assert "bias review" in request_.status_reason


def test_an_approval_cannot_be_given_twice(linus, request_):
    services.approve(request_, actor=linus)
    second = factories.user("margaret", is_platform=True)
    with pytest.raises(InvalidTransition):
        services.approve(request_, actor=second)
    assert Approval.objects.count() == 1


def test_pending_request_expires_after_the_ttl(request_):
    assert services.expire_approvals(now=timezone.now() + timedelta(hours=71)) == 0
    assert services.expire_approvals(now=timezone.now() + timedelta(hours=73)) == 1
    request_.refresh_from_db()
    assert request_.status == DeploymentStatus.EXPIRED


def test_unstarted_approval_expires(linus, request_):
    services.approve(request_, actor=linus)
    assert services.expire_approvals(now=timezone.now() + timedelta(hours=73)) == 1
    request_.refresh_from_db()
    assert request_.status == DeploymentStatus.EXPIRED


def test_approval_is_void_for_a_changed_configuration(linus, request_):
    approval = services.approve(request_, actor=linus)
    request_.refresh_from_db()
    assert approval.is_valid_for(request_)
    request_.config_hash = "0" * 64
    assert not approval.is_valid_for(request_)
