"""The state machine: every move in TRANSITIONS succeeds, every other one is refused (STYLE §3)."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.core.errors import ConcurrentTransition, InvalidTransition
from apps.deployments import services
from apps.deployments.choices import TRANSITIONS, DeploymentStatus
from apps.deployments.models import Deployment, RolloutEvent
from tests.deployments.conftest import SMALL

ALL = [(a, b) for a in DeploymentStatus.values for b in DeploymentStatus.values]


@pytest.mark.parametrize(("start", "to"), ALL, ids=[f"{a}->{b}" for a, b in ALL])
def test_transition_table(ada, v1, staging, start, to):
    deployment = services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    Deployment.objects.filter(pk=deployment.pk).update(status=start)
    deployment.refresh_from_db()
    allowed = to in TRANSITIONS[start]
    with transaction.atomic():
        if allowed:
            services.transition(deployment, to, actor=ada, reason="table test")
        else:
            with pytest.raises(InvalidTransition):
                services.transition(deployment, to, actor=ada, reason="table test")
    deployment.refresh_from_db()
    assert deployment.status == (to if allowed else start)
    if allowed:
        event = RolloutEvent.objects.filter(deployment=deployment, kind="transition").last()
        assert (event.from_status, event.to_status) == (start, to)


def test_compare_and_set_refuses_a_stale_read(ada, v1, staging):
    deployment = services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    stale = Deployment.objects.get(pk=deployment.pk)
    Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.PROGRESSING)
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        services.transition(stale, DeploymentStatus.PROGRESSING, actor=ada, reason="stale")
