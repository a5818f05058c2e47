"""The reconciler against the dev cluster through the real kubernetes client (SPEC §3).

Every tick runs twice (see conftest.Harness.tick) and route weights are checked to sum to 100
after each run.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.deployments import services
from apps.deployments.choices import DeploymentStatus, Phase, Verdict
from apps.deployments.models import Analysis, Deployment, Rollout, RolloutEvent
from tests import factories
from tests.deployments.conftest import SMALL, make_version

S = DeploymentStatus
FAST = {**SMALL, "soak_seconds": 60}


@pytest.fixture
def ctr(recsys):
    return factories.model(recsys, "ctr-ranker")


def deploy(version, actor, env="staging", **config):
    return services.request_deployment(version, environment=env, config={**FAST, **config}, actor=actor)


def go_live(harness, version, actor) -> Deployment:
    deployment = deploy(version, actor)
    harness.run_until(deployment, {S.LIVE})
    return deployment


def test_first_deployment_goes_to_100_percent_after_a_smoke_analysis(harness, ctr, ada, staging):
    v1 = make_version(ctr, 1)
    deployment = deploy(v1, ada)
    assert harness.tick(deployment) == ["started", "starting"] or deployment.status == S.PROGRESSING
    harness.run_until(deployment, {S.LIVE})
    assert harness.weights(deployment) == {"ctr-ranker-v1": 100}
    assert harness.replicas(deployment) == 1
    smoke = Analysis.objects.filter(rollout__deployment=deployment, kind="smoke").get()
    assert smoke.verdict == Verdict.ADVANCE and smoke.canary_requests >= 50
    assert harness.aliases == [("ctr-ranker", "staging", 1)]
    assert deployment.live_since is not None


def test_canary_walks_the_steps_then_guards_then_goes_live(harness, ctr, ada, staging):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    old = go_live(harness, v1, ada)
    new = deploy(v2, ada)
    seen_weights = []
    for _ in range(100):
        harness.advance(10)
        harness.tick(new)
        rollout = Rollout.objects.get(deployment=new)
        if not seen_weights or seen_weights[-1] != rollout.canary_weight:
            seen_weights.append(rollout.canary_weight)
        if new.status == S.LIVE:
            break
    old.refresh_from_db()
    assert seen_weights == [0, 5, 25, 50, 100]
    assert (new.status, old.status) == (S.LIVE, S.SUPERSEDED)
    assert harness.weights(new) == {"ctr-ranker-v1": 0, "ctr-ranker-v2": 100}
    assert harness.replicas(old) == 0
    steps = Analysis.objects.filter(rollout__deployment=new, kind="step").order_by("created_at")
    assert [a.verdict for a in steps] == [Verdict.ADVANCE] * 3
    assert all(a.canary_requests and a.stable_requests for a in steps)
    assert services.live_version(ctr, "staging") == v2


def test_guard_window_keeps_old_version_warm_and_still_rolls_back(harness, ctr, ada, staging):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    old = go_live(harness, v1, ada)
    new = deploy(v2, ada, steps=[100])
    for _ in range(20):
        harness.advance(10)
        harness.tick(new)
        if Rollout.objects.get(deployment=new).phase == Phase.GUARD:
            break
    assert harness.replicas(old) == 1  # warm
    harness.behave(new, error_rate=0.3)
    harness.advance(20)
    harness.tick(new)
    assert new.status == S.ROLLED_BACK
    assert harness.weights(new) == {"ctr-ranker-v1": 100, "ctr-ranker-v2": 0}
    assert "error_rate" in new.status_reason


@pytest.mark.parametrize(("behaviour", "gate"), [
    ({"error_rate": 0.2}, "error_rate"),
    ({"p99_ms": 900}, "latency"),
])
def test_breach_rolls_back_within_one_tick_naming_gate_and_figures(harness, ctr, ada, staging, behaviour, gate):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    go_live(harness, v1, ada)
    new = deploy(v2, ada, steps=[25, 50, 100])
    while Rollout.objects.get(deployment=new).phase != Phase.STEP:
        harness.advance(10)
        harness.tick(new)
    harness.behave(new, **behaviour)
    harness.advance(10)  # the breach becomes visible...
    harness.tick(new, twice=False)  # ...and one tick later traffic is back on stable
    assert new.status == S.ROLLED_BACK
    assert harness.weights(new) == {"ctr-ranker-v1": 100, "ctr-ranker-v2": 0}
    assert harness.replicas(new) == 0
    breach = Analysis.objects.filter(rollout__deployment=new, verdict=Verdict.ROLLBACK).get()
    assert breach.gate == gate
    assert f"gate {gate}" in new.status_reason and "canary" in new.status_reason
    harness.tick(new)  # idempotent afterwards
    assert Analysis.objects.filter(rollout__deployment=new, verdict=Verdict.ROLLBACK).count() == 1


def test_too_few_requests_never_promote_and_pause_after_three(harness, ctr, ada, staging):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    go_live(harness, v1, ada)
    new = deploy(v2, ada)
    while Rollout.objects.get(deployment=new).phase != Phase.STEP:
        harness.advance(10)
        harness.tick(new)
    harness.behave(new, rps=0.5)  # 5 % of 0.5 rps: far below 50 requests per 60 s window
    harness.run_until(new, {S.PAUSED}, step_seconds=20, max_ticks=50)
    rollout = Rollout.objects.get(deployment=new)
    assert rollout.step_index == 0 and rollout.canary_weight == 5
    verdicts = list(Analysis.objects.filter(rollout__deployment=new, kind="step").values_list("verdict", flat=True))
    assert verdicts == [Verdict.INCONCLUSIVE] * 3
    assert "3 inconclusive" in new.status_reason


def test_metrics_provider_down_is_inconclusive_never_promoted(harness, ctr, ada, staging):
    from worker.metrics.devcluster import DevClusterProvider

    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    go_live(harness, v1, ada)
    new = deploy(v2, ada)
    while Rollout.objects.get(deployment=new).phase != Phase.STEP:
        harness.advance(10)
        harness.tick(new)
    harness.engine.metrics_factory = lambda env: DevClusterProvider("http://127.0.0.1:9", timeout=0.5)
    harness.run_until(new, {S.PAUSED}, step_seconds=30, max_ticks=30)
    assert Rollout.objects.get(deployment=new).canary_weight == 5
    assert not Analysis.objects.filter(rollout__deployment=new, kind="step", verdict=Verdict.ADVANCE).exists()


@pytest.mark.parametrize("abort_at", [0, 1, 2, 3])
def test_abort_at_every_step_puts_traffic_back_on_stable_within_one_tick(harness, ctr, ada, staging, abort_at):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    go_live(harness, v1, ada)
    new = deploy(v2, ada)
    while True:
        rollout = Rollout.objects.get(deployment=new)
        if rollout.step_index >= abort_at and rollout.phase in (Phase.STEP, Phase.GUARD):
            break
        harness.advance(10)
        harness.tick(new)
    services.abort(new, actor=ada, reason="manual test")
    harness.tick(new, twice=False)
    assert harness.weights(new) == {"ctr-ranker-v1": 100, "ctr-ranker-v2": 0}
    assert harness.replicas(new) == 0
    assert Rollout.objects.get(deployment=new).cluster_synced


def test_rollback_of_live_restores_the_previous_version(harness, ctr, ada, staging):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    old = go_live(harness, v1, ada)
    new = go_live(harness, v2, ada)
    assert harness.replicas(old) == 0
    services.rollback(new, actor=ada, reason="bad conversions")
    harness.run_until(new, {S.ROLLED_BACK}, step_seconds=1, max_ticks=10)
    old.refresh_from_db()
    assert old.status == S.LIVE
    assert harness.weights(new) == {"ctr-ranker-v1": 100, "ctr-ranker-v2": 0}
    assert harness.replicas(new) == 0 and harness.replicas(old) == 1
    assert harness.aliases[-1] == ("ctr-ranker", "staging", 1)


def test_pause_holds_the_step_and_resume_continues(harness, ctr, ada, linus, staging):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    go_live(harness, v1, ada)
    new = deploy(v2, ada)
    while Rollout.objects.get(deployment=new).phase != Phase.STEP:
        harness.advance(10)
        harness.tick(new)
    services.pause(new, actor=linus)
    for _ in range(10):
        harness.advance(30)
        harness.tick(new)
    assert Rollout.objects.get(deployment=new).step_index == 0
    services.resume(new, actor=linus)
    harness.run_until(new, {S.LIVE})


def test_promote_skips_the_soak(harness, ctr, ada, linus, staging):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    go_live(harness, v1, ada)
    new = deploy(v2, ada, soak_seconds=3600)
    while Rollout.objects.get(deployment=new).phase != Phase.STEP:
        harness.advance(10)
        harness.tick(new)
    services.promote(new, actor=linus)
    harness.advance(1)
    harness.tick(new)
    rollout = Rollout.objects.get(deployment=new)
    assert (rollout.step_index, rollout.canary_weight) == (1, 25)  # one step, not two


def test_rolling_strategy_replaces_in_batches_that_fit(harness, ctr, ada, staging, recsys):
    recsys.gpu_quota = 3
    recsys.save()
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    old = deploy(v1, ada, min_replicas=2, max_replicas=2)
    harness.run_until(old, {S.LIVE})
    new = deploy(v2, ada, min_replicas=2, max_replicas=2, strategy="rolling")
    peak = 0
    for _ in range(200):
        harness.advance(10)
        harness.tick(new)
        peak = max(peak, harness.replicas(new) + harness.replicas(old))
        if new.status == S.LIVE:
            break
    assert new.status == S.LIVE
    assert peak <= 3  # never more GPUs than the quota
    assert harness.replicas(old) == 0 and harness.replicas(new) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_reconciles_never_apply_a_step_twice(harness, recsys, ada):
    ctr = factories.model(recsys, "ctr-ranker")
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    go_live(harness, v1, ada)
    new = deploy(v2, ada)
    rollout_id = Rollout.objects.get(deployment=new).pk
    from worker.engine.reconcile import Engine, reconcile

    for _ in range(40):
        harness.advance(10)
        outcomes: list[str] = []

        def run(owner, outcomes=outcomes):
            engine = Engine(clock=harness.clock, cluster_factory=harness.engine.cluster_factory,
                            metrics_factory=harness.engine.metrics_factory, owner=owner,
                            set_alias=harness.engine.set_alias)
            try:
                outcomes.append(reconcile(rollout_id, engine))
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        harness.check_weights(new)
        new.refresh_from_db()
        if new.status == S.LIVE:
            break
    assert new.status == S.LIVE
    traffic = list(RolloutEvent.objects.filter(deployment=new, kind="traffic").values_list("canary_weight", flat=True))
    assert traffic == [5, 25, 50, 100], traffic  # each step applied exactly once


def test_flaky_cluster_api_still_finishes_correctly(harness, ctr, ada, staging):
    v1, v2 = make_version(ctr, 1), make_version(ctr, 2)
    go_live(harness, v1, ada)
    harness.faults(api_error_rate=0.3, conflict_rate=0.3, api_latency_ms=0, seed=7)
    new = deploy(v2, ada)
    harness.run_until(new, {S.LIVE}, max_ticks=300)
    harness.faults(api_error_rate=0, conflict_rate=0, api_latency_ms=0)
    assert harness.weights(new) == {"ctr-ranker-v1": 0, "ctr-ranker-v2": 100}
    traffic = list(RolloutEvent.objects.filter(deployment=new, kind="traffic").values_list("canary_weight", flat=True))
    assert traffic == [5, 25, 50, 100]


def test_live_deployment_missing_from_the_cluster_is_materialised(harness, ctr, ada, staging):
    """A fresh cluster (or a restored database): live rows are re-created declaratively."""
    v1 = make_version(ctr, 1)
    deployment = deploy(v1, ada)
    Deployment.objects.filter(pk=deployment.pk).update(status=S.LIVE)
    Rollout.objects.filter(deployment=deployment).update(phase=Phase.DONE, cluster_synced=False)
    assert harness.weights(deployment) is None
    from worker.engine.reconcile import due_rollout_ids

    assert Rollout.objects.get(deployment=deployment).pk in due_rollout_ids(now=harness.clock())
    harness.run_until(deployment, {S.LIVE})
    assert harness.weights(deployment) == {"ctr-ranker-v1": 100}
    assert harness.replicas(deployment) == 1
    assert Rollout.objects.get(deployment=deployment).pk not in due_rollout_ids(now=harness.clock())
