"""The gate decision table (SPEC §3): advance, hold, inconclusive, roll back — never promote on missing data."""

from __future__ import annotations

import math

import pytest

from apps.deployments.choices import Verdict
from worker.engine.plan import Gates, analyse, rollback_check
from worker.metrics.base import WindowStats

GATES = Gates(sla_p99_ms=200, min_requests=50, rollback_min_requests=20)


def stats(requests, errors, p99):
    rate = (errors / requests) if requests else None
    return WindowStats(requests=requests, errors=errors, error_rate=rate, p99_ms=p99)


STABLE = stats(1000, 2, 100)

CASES = [
    # name, canary, stable, provider_error, verdict, gate
    ("healthy", stats(500, 2, 120), STABLE, "", Verdict.ADVANCE, ""),
    ("error rate breach", stats(500, 30, 120), STABLE, "", Verdict.ROLLBACK, "error_rate"),
    ("error rate just above 5 %", stats(1000, 51, 120), STABLE, "", Verdict.ROLLBACK, "error_rate"),
    ("error rate exactly 5 % holds", stats(1000, 50, 120), STABLE, "", Verdict.HOLD, "error_rate"),
    ("error rate exactly 1 % holds", stats(1000, 10, 120), STABLE, "", Verdict.HOLD, "error_rate"),
    ("latency relative to stable", stats(500, 0, 201), STABLE, "", Verdict.ROLLBACK, "latency"),
    ("latency exactly 2x stable holds (above SLA)", stats(500, 0, 200), STABLE, "", Verdict.HOLD, "latency"),
    ("latency above SLA but under 2x stable", stats(500, 0, 250), stats(1000, 0, 150), "", Verdict.HOLD, "latency"),
    ("too few requests", stats(10, 0, 50), STABLE, "", Verdict.INCONCLUSIVE, "sample_size"),
    ("zero requests", stats(0, 0, None), STABLE, "", Verdict.INCONCLUSIVE, "sample_size"),
    ("provider down", None, None, "connection refused", Verdict.INCONCLUSIVE, "metrics"),
    ("NaN latency", WindowStats(500, 0, 0.0, None), STABLE, "", Verdict.INCONCLUSIVE, "metrics"),
    ("NaN error rate", WindowStats(500, None, None, 100.0), STABLE, "", Verdict.INCONCLUSIVE, "metrics"),
    ("no stable: latency against the SLA", stats(500, 0, 401), None, "", Verdict.ROLLBACK, "latency"),
    ("no stable: healthy first version", stats(500, 0, 150), None, "", Verdict.ADVANCE, ""),
]


@pytest.mark.parametrize(("name", "canary", "stable", "error", "verdict", "gate"), CASES, ids=[c[0] for c in CASES])
def test_step_analysis_decision_table(name, canary, stable, error, verdict, gate):
    decision = analyse(canary, stable, GATES, provider_error=error)
    assert (decision.verdict, decision.gate) == (verdict, gate), decision.reason
    assert decision.reason


def test_rollback_names_the_figures_that_tripped_it():
    decision = rollback_check(stats(400, 48, 90), STABLE, GATES)
    assert decision.verdict == Verdict.ROLLBACK
    assert "12.00 %" in decision.reason and "5.00 %" in decision.reason and "400 requests" in decision.reason


def test_rollback_gate_needs_a_minimum_sample():
    # 1 error in 3 requests is 33 % but proves nothing yet.
    assert rollback_check(stats(3, 1, 90), STABLE, GATES) is None


def test_rollback_uses_the_last_known_stable_p99_when_stable_has_no_traffic():
    decision = rollback_check(stats(500, 0, 250), None, GATES, stable_p99_fallback=100)
    assert decision.verdict == Verdict.ROLLBACK and "stable p99 100 ms" in decision.reason


def test_nan_figures_are_treated_as_missing():
    assert WindowStats.clean(math.nan) is None
    assert WindowStats.clean(math.inf) is None
    assert WindowStats.clean("0.5") == 0.5
    assert WindowStats.clean("garbage") is None


def test_thresholds_come_from_the_environment(production, ctr):
    from apps.deployments.models import Deployment

    production.rollback_error_rate = 0.2
    deployment = Deployment(model=ctr, environment=production, config={"sla_p99_ms": 300})
    gates = Gates.for_deployment(deployment)
    assert gates.rollback_error_rate == 0.2 and gates.sla_p99_ms == 300
    assert rollback_check(stats(1000, 100, 90), STABLE, gates) is None  # 10 % < 20 %
