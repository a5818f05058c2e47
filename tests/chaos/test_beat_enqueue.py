"""Beat enqueues a rollout's reconcile only when none is waiting (worker/engine/reconcile.enqueue_due).

Found by the fault suite: beat used to enqueue every active rollout every tick whether or not its
previous message had been consumed, so the queue grew without bound while workers were down or
behind (326 messages for 20 rollouts after a few worker kills) and a restarted worker spent its
first seconds on stale duplicates.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.deployments import services
from apps.deployments.models import Rollout
from tests.chaos.conftest import CONFIG
from tests.deployments.conftest import make_version
from tests.factories import model as make_model
from worker.engine.reconcile import Engine, enqueue_due, reconcile

pytestmark = [pytest.mark.chaos]


@pytest.fixture
def rollout_id(db, recsys, ada, monkeypatch):
    from worker import tasks

    monkeypatch.setattr(tasks.reconcile_rollout, "delay", lambda _id: None)  # the request's own enqueue
    deployment = services.request_deployment(make_version(make_model(recsys, "beat"), 1), environment="staging",
                                             config={**CONFIG, "soak_seconds": 60}, actor=ada)
    return deployment.rollout.pk


def test_a_queued_rollout_is_not_enqueued_again_until_claimed_or_presumed_lost(rollout_id, settings):
    settings.SLIPWAY_LEASE_SECONDS = 30
    sent: list[int] = []
    now = timezone.now()
    assert enqueue_due(now=now, send=sent.append) == 1
    # beat ticks again while the message waits in the queue: nothing more is sent
    assert enqueue_due(now=now + timedelta(seconds=10), send=sent.append) == 0
    # a worker claims it (here: the tick fails to reach a cluster, which does not matter), it is due again
    reconcile(rollout_id, Engine(owner="w1", cluster_factory=lambda env: None, lease_seconds=30))
    assert enqueue_due(now=now + timedelta(seconds=11), send=sent.append) == 1
    # a message nobody claims within a lease length is presumed lost and sent again
    assert enqueue_due(now=now + timedelta(seconds=40), send=sent.append) == 0
    assert enqueue_due(now=now + timedelta(seconds=42), send=sent.append) == 1
    assert sent == [rollout_id] * 3


def test_a_broker_that_refuses_the_message_leaves_the_rollout_due(rollout_id):
    def down(_id):
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        enqueue_due(now=timezone.now(), send=down)
    assert Rollout.objects.get(pk=rollout_id).next_reconcile_at is None
    assert enqueue_due(now=timezone.now(), send=lambda _id: None) == 1
