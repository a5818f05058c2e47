"""Which window of metrics the every-tick rollback gates read (SPEC §3: "roll back at once").

The step window grows with the step (up to the soak); a breach that begins late in a step or
in the guard window is diluted by the older, healthy traffic in it. The engine also checks
the last tick's traffic alone, so the breach rolls back the first tick it shows in the
metrics (benchmarks/reconcile.py measured 2 ticks before, and a guard-window breach that
went live). Engine harness of tests/worker/engine (dev cluster, real kubernetes client,
every tick run twice).
"""

from __future__ import annotations

import pytest

from apps.deployments import services
from apps.deployments.choices import DeploymentStatus, Phase, Verdict
from apps.deployments.models import Analysis, Rollout
from tests import factories
from tests.deployments.conftest import SMALL, make_version

S = DeploymentStatus


@pytest.fixture
def model(recsys):
    return factories.model(recsys, "late-ranker")


def deploy(version, actor, **config):
    return services.request_deployment(version, environment="staging",
                                       config={**SMALL, "soak_seconds": 60, **config}, actor=actor)


def into(harness, deployment, phase: str, step_index: int | None = None) -> None:
    for _ in range(40):
        rollout = Rollout.objects.get(deployment=deployment)
        if rollout.phase == phase and (step_index is None or rollout.step_index == step_index):
            return
        harness.advance(10)
        harness.tick(deployment)
    raise AssertionError(f"never reached {phase}")


def healthy_ticks(harness, deployment, count: int) -> None:
    for _ in range(count):
        harness.advance(10)
        harness.tick(deployment)
    assert deployment.status == S.PROGRESSING


def test_a_breach_late_in_a_step_rolls_back_the_tick_it_shows(harness, model, ada, staging):
    harness.run_until(deploy(make_version(model, 1), ada), {S.LIVE})
    new = deploy(make_version(model, 2), ada, steps=[25, 50, 100])
    into(harness, new, Phase.STEP, 0)
    healthy_ticks(harness, new, 4)  # 40 s into a 60 s soak: the step window holds 40 s of good traffic
    harness.behave(new, error_rate=0.07, rps=100)
    harness.advance(10)  # 10 s of 7 % errors: 1.75 % over the 50 s step window, 7 % over the last tick
    harness.tick(new)
    assert new.status == S.ROLLED_BACK
    assert harness.weights(new) == {"late-ranker-v1": 100, "late-ranker-v2": 0}
    breach = Analysis.objects.get(rollout__deployment=new, verdict=Verdict.ROLLBACK)
    assert (breach.gate, breach.window_seconds) == ("error_rate", 10)
    assert breach.canary_error_rate == pytest.approx(0.07, abs=0.005)


def test_a_breach_late_in_the_guard_window_never_goes_live(harness, model, ada, staging):
    harness.run_until(deploy(make_version(model, 1), ada), {S.LIVE})
    new = deploy(make_version(model, 2), ada, steps=[100])
    into(harness, new, Phase.GUARD)
    healthy_ticks(harness, new, 10)  # 100 s into the 120 s guard window
    harness.behave(new, error_rate=0.07)
    harness.advance(10)
    harness.tick(new)
    assert new.status == S.ROLLED_BACK
    assert harness.weights(new) == {"late-ranker-v1": 100, "late-ranker-v2": 0}
    assert "gate error_rate" in new.status_reason


def test_the_last_tick_alone_needs_an_advance_sized_sample(harness, model, ada, staging):
    """Fewer than min_requests in the last tick: its figures are too noisy to roll back on alone."""
    harness.run_until(deploy(make_version(model, 1), ada), {S.LIVE})
    new = deploy(make_version(model, 2), ada, steps=[25, 50, 100])
    into(harness, new, Phase.STEP, 0)
    healthy_ticks(harness, new, 4)
    harness.behave(new, error_rate=0.07, rps=12)  # 25 % of 12 rps: 30 requests a tick < 50
    harness.advance(10)
    harness.tick(new)
    assert new.status == S.PROGRESSING


def test_a_sustained_error_rate_under_the_rollback_line_is_held_not_rolled_back(harness, model, ada, staging):
    harness.run_until(deploy(make_version(model, 1), ada), {S.LIVE})
    new = deploy(make_version(model, 2), ada, steps=[25, 50, 100])
    harness.behave(new, error_rate=0.03, rps=100)
    into(harness, new, Phase.STEP, 0)
    healthy_ticks(harness, new, 5)  # 3 % over every window: above the 1 % advance line, under the 5 % rollback
    assert not Analysis.objects.filter(rollout__deployment=new, verdict=Verdict.ROLLBACK).exists()
    harness.advance(10)
    harness.tick(new)
    held = Analysis.objects.filter(rollout__deployment=new, kind="step").latest("created_at")
    assert (held.verdict, held.gate) == (Verdict.HOLD, "error_rate")
