"""Abort a canary at every step index: traffic is back on stable within one tick.

SPEC §3: rollback during canary (automatic or manual abort) sends all traffic to stable and
scales the canary to zero. A real worker and beat drive four canaries of the plan [20, 50, 100];
each is aborted (through the service, as the API and UI do) when it reaches its index: −1
(created, no traffic yet), 0 (20 %), 1 (50 %) and 2 (100 %, the guard window).
"""

from __future__ import annotations

import math
import time

import pytest

from apps.deployments import services
from apps.deployments.choices import Phase
from apps.deployments.models import Environment, Rollout
from tests.chaos.conftest import TICK_SECONDS, assert_steps_once_in_order, figures
from tests.chaos.conftest import S as Status

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TARGETS = [-1, 0, 1, 2]
# One tick for beat to enqueue the reconcile if the immediate one met a tick in flight, plus the
# time a 2-core machine needs to run it.
WITHIN_SECONDS = TICK_SECONDS + 1.5


def test_abort_at_every_step_index_puts_traffic_back_on_stable_within_a_tick(fleet, children):
    fleet.add(len(TARGETS), "abort")
    children.worker()
    children.beat()
    firsts = fleet.deploy(fleet.v1)
    _wait(lambda: all(s == Status.LIVE for s in _statuses(firsts).values()), children, "v1 live", 60)
    Environment.objects.update(guard_window_seconds=6)  # room to catch index 2 inside the guard window

    canaries = fleet.deploy(fleet.v2, soak_seconds=3)
    aborted: dict[int, tuple[float, int]] = {}  # canary index → (monotonic time of the abort, weight then)
    restored: dict[int, float] = {}  # → seconds until the route sent 100 % to stable
    converged: dict[int, float] = {}  # → seconds until the rollback was recorded converged (canary at zero)
    deadline = time.monotonic() + 90
    while len(converged) < len(TARGETS) and time.monotonic() < deadline:
        rows = {r.deployment_id: r for r in Rollout.objects.filter(deployment__in=canaries).select_related("deployment")}
        for i, (deployment, target) in enumerate(zip(canaries, TARGETS, strict=True)):
            rollout = rows[deployment.pk]
            if i not in aborted and rollout.deployment.status == Status.PROGRESSING and rollout.step_index == target \
                    and (target >= 0 or rollout.phase in (Phase.STARTING, Phase.WAITING_READY)):
                # when the canary reaches its step index, ada aborts it
                services.abort(deployment, actor=fleet.actor, reason=f"chaos: abort at step index {target}")
                aborted[i] = (time.monotonic(), rollout.canary_weight)
            elif rollout.step_index > target and i not in aborted:
                pytest.fail(f"canary {i} passed step index {target} before the test could abort it")
        if aborted:
            routes = fleet.dc.routes()
            for i, (at, _) in aborted.items():
                model = fleet.models[i].name
                weights = routes.get(f"{fleet.namespace}/{model}")
                # (aborted before its first tick, the route may still name the stable backend alone)
                if i not in restored and weights is not None and weights.get(f"{model}-v1") == 100 and \
                        weights.get(f"{model}-v2", 0) == 0:
                    restored[i] = time.monotonic() - at
            synced = dict(Rollout.objects.filter(deployment__in=canaries).values_list("deployment_id", "cluster_synced"))
            for i, (at, _) in aborted.items():
                if i not in converged and synced[canaries[i].pk]:
                    converged[i] = time.monotonic() - at
        children.check_alive(*children.alive_expected)
        time.sleep(0.05)
    assert len(converged) == len(TARGETS), f"aborted {sorted(aborted)}, converged {converged}\n{children.output()}"

    # then every canary is rolled back with stable at 100 % and the canary scaled to zero, each step once
    replicas = fleet.dc.replicas()
    print(f"\n[abort] plan {canaries[0].rollout.steps}, tick {TICK_SECONDS} s: abort → 100 % on stable")
    for i, deployment in enumerate(canaries):
        deployment.refresh_from_db()
        assert deployment.status == Status.ROLLED_BACK
        assert "chaos: abort at step index" in deployment.status_reason
        seen = assert_steps_once_in_order(deployment, deployment.rollout.steps)
        assert len(seen) == TARGETS[i] + 1, f"canary {i} aborted at index {TARGETS[i]} but applied {seen}"
        # (aborted before its first tick created it, the canary Deployment may not exist at all)
        assert replicas.get(f"{fleet.namespace}/{fleet.models[i].name}-v2", 0) == 0
        seconds = restored[i]
        print(f"[abort] step index {TARGETS[i]:>2} (canary at {aborted[i][1]:>3} %): stable again after "
              f"{seconds:.2f} s = {seconds / TICK_SECONDS:.2f} tick(s) (≤ {math.ceil(seconds / TICK_SECONDS)}); "
              f"rollback converged (canary at zero) after {converged[i]:.2f} s")
    print(f"[abort] abort → stable: {figures(list(restored.values()))}; abort → converged: "
          f"{figures(list(converged.values()))}")
    assert max(restored.values()) <= WITHIN_SECONDS, restored


def _statuses(deployments) -> dict[int, str]:
    from apps.deployments.models import Deployment

    return dict(Deployment.objects.filter(pk__in=[d.pk for d in deployments]).values_list("pk", "status"))


def _wait(condition, children, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        children.check_alive(*children.alive_expected)
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n{children.output()}")
