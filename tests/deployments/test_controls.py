"""Rollout controls: who may pause, resume, promote, abort and roll back, and what each records."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.core.errors import ConcurrentTransition, Conflict, InvalidTransition, NotPermitted
from apps.deployments import services
from apps.deployments.choices import DeploymentStatus, Phase
from apps.deployments.models import Deployment, Rollout
from tests import factories
from tests.deployments.conftest import SMALL, make_version

S = DeploymentStatus


@pytest.fixture
def running(ada, v1, staging):
    deployment = services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    Deployment.objects.filter(pk=deployment.pk).update(status=S.PROGRESSING)
    Rollout.objects.filter(deployment=deployment).update(phase=Phase.STEP, step_index=1, canary_weight=25)
    deployment.refresh_from_db()
    return deployment


def test_platform_engineer_pauses_and_resumes(linus, running):
    generation = running.rollout.generation
    services.pause(running, actor=linus, reason="investigating")
    running.refresh_from_db()
    assert running.status == S.PAUSED
    assert Rollout.objects.get(deployment=running).generation == generation + 1
    services.resume(running, actor=linus)
    running.refresh_from_db()
    assert running.status == S.PROGRESSING


def test_data_scientist_cannot_pause_or_promote(ada, running):
    with pytest.raises(NotPermitted):
        services.pause(running, actor=ada)
    with pytest.raises(NotPermitted):
        services.promote(running, actor=ada)


def test_promote_sets_the_flag_once(linus, running):
    services.promote(running, actor=linus)
    assert Rollout.objects.get(deployment=running).promote_requested
    with pytest.raises(InvalidTransition):
        services.promote(running, actor=linus)


def test_data_scientist_aborts_own_team_rollout(ada, running, reconcile_spy, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.abort(running, actor=ada, reason="wrong features")
    assert reconcile_spy == [running.rollout.pk]  # converged at once, not at the next beat
    running.refresh_from_db()
    rollout = Rollout.objects.get(deployment=running)
    assert running.status == S.ROLLED_BACK
    assert rollout.phase == Phase.ROLLING_BACK and not rollout.cluster_synced
    assert "wrong features" in running.status_reason


def test_viewer_cannot_abort(vera, running):
    with pytest.raises(NotPermitted):
        services.abort(running, actor=vera)


def test_other_team_cannot_abort(grace, running):
    from apps.core.errors import NotFound

    with pytest.raises(NotFound):
        services.abort(running, actor=grace)


def test_abort_of_a_finished_deployment_is_refused(ada, running):
    services.abort(running, actor=ada)
    with pytest.raises(InvalidTransition):
        services.abort(running, actor=ada)


def test_rollback_of_live_restores_the_previous_version(ada, ctr, v1, v2, staging):
    old = services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    Deployment.objects.filter(pk=old.pk).update(status=S.SUPERSEDED)
    new = services.request_deployment(v2, environment="staging", config=SMALL, actor=ada)
    Deployment.objects.filter(pk=new.pk).update(status=S.LIVE, previous=old)
    new.refresh_from_db()
    services.rollback(new, actor=ada, reason="conversion dropped")
    new.refresh_from_db()
    old.refresh_from_db()
    assert (new.status, old.status) == (S.ROLLED_BACK, S.LIVE)
    assert Rollout.objects.get(deployment=new).phase == Phase.RESTORING
    assert services.live_version(ctr, "staging") == v1


def test_rollback_without_a_previous_version_is_a_conflict(ada, v1, staging):
    only = services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    Deployment.objects.filter(pk=only.pk).update(status=S.LIVE)
    only.refresh_from_db()
    with pytest.raises(Conflict) as caught:
        services.rollback(only, actor=ada)
    assert caught.value.code == "no_previous_version"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", ["approve", "reject", "abort", "promote", "pause"])
def test_concurrent_controls_exactly_one_wins(recsys, ctr, reconcile_spy, operation):
    """20 threads fire the same control at one deployment at once: one wins, the rest get 409, no other error."""
    requester = factories.user("ada2", tenant=recsys)
    actors = [factories.user(f"pe{i}", is_platform=True) for i in range(20)]
    version = make_version(ctr, 9)
    deployment = services.request_deployment(version, environment="production",
                                             config={**SMALL, "soak_seconds": 300}, actor=requester)
    if operation in ("abort", "promote", "pause"):
        Deployment.objects.filter(pk=deployment.pk).update(status=S.PROGRESSING)
        Rollout.objects.filter(deployment=deployment).update(phase=Phase.STEP, step_index=0, canary_weight=5)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()
    call = getattr(services, operation)
    kwargs = {"comment": "decided"} if operation in ("approve", "reject") else {}

    def act(index: int) -> None:
        try:
            fresh = Deployment.objects.get(pk=deployment.pk)
            barrier.wait(timeout=10)
            call(fresh, actor=actors[index], **kwargs)
            result = "won"
        except (InvalidTransition, ConcurrentTransition, Conflict):
            result = "409"
        except Exception as exc:  # anything else is a bug: record it
            result = f"error {type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=act, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert set(outcomes) <= {"409", "won"}, outcomes
    assert outcomes.count("won") == 1, outcomes
    assert len(outcomes) == 20
