"""The gates (SPEC §3) as pure functions: figures in, verdict and reason out.

Decision table for a step analysis (canary vs stable over the step window):
- provider down / no data / NaN                       → inconclusive
- canary requests ≥ rollback minimum and
    canary error rate > rollback_error_rate          → rollback (gate error_rate)
    canary p99 > ratio × stable p99                   → rollback (gate latency)
      (no stable figures, e.g. a first deployment: ratio × the SLA)
- canary requests < min_requests                      → inconclusive (too few requests)
- canary error rate < advance_max and p99 < SLA      → advance
- otherwise                                           → hold (not bad enough to roll back,
                                                        not good enough to promote)
The continuous check every tick applies only the rollback rows. Never promote on missing data.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.deployments.choices import Verdict
from worker.metrics.base import WindowStats


@dataclass(frozen=True)
class Gates:
    sla_p99_ms: float
    advance_max_error_rate: float = 0.01
    rollback_error_rate: float = 0.05
    rollback_latency_ratio: float = 2.0
    min_requests: int = 50
    rollback_min_requests: int = 20

    @classmethod
    def for_deployment(cls, deployment) -> Gates:
        env = deployment.environment
        return cls(sla_p99_ms=float(deployment.config.get("sla_p99_ms") or deployment.model.sla_p99_ms),
                   advance_max_error_rate=env.advance_max_error_rate, rollback_error_rate=env.rollback_error_rate,
                   rollback_latency_ratio=env.rollback_latency_ratio, min_requests=env.min_requests,
                   rollback_min_requests=env.rollback_min_requests)


@dataclass(frozen=True)
class Decision:
    verdict: str
    gate: str
    reason: str


def _pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def rollback_check(canary: WindowStats | None, stable: WindowStats | None, gates: Gates,
                   *, stable_p99_fallback: float | None = None) -> Decision | None:
    """The rollback rows only: a Decision to roll back, or None."""
    if canary is None or canary.requests is None or canary.requests < gates.rollback_min_requests:
        return None
    if canary.error_rate is not None and canary.error_rate > gates.rollback_error_rate:
        return Decision(Verdict.ROLLBACK, "error_rate",
                        f"canary error rate {_pct(canary.error_rate)} > {_pct(gates.rollback_error_rate)} "
                        f"over {canary.requests} requests")
    reference = stable.p99_ms if stable is not None and stable.p99_ms is not None else stable_p99_fallback
    label = "stable p99"
    if reference is None:
        reference, label = gates.sla_p99_ms, "SLA"
    if canary.p99_ms is not None and canary.p99_ms > gates.rollback_latency_ratio * reference:
        return Decision(Verdict.ROLLBACK, "latency",
                        f"canary p99 {canary.p99_ms:.0f} ms > {gates.rollback_latency_ratio:g} × {label} "
                        f"{reference:.0f} ms")
    return None


def analyse(canary: WindowStats | None, stable: WindowStats | None, gates: Gates, *, provider_error: str = "",
            stable_p99_fallback: float | None = None) -> Decision:
    """A full step analysis (end of soak)."""
    if provider_error or canary is None:
        return Decision(Verdict.INCONCLUSIVE, "metrics", f"metrics provider unavailable: {provider_error or 'no answer'}")
    breach = rollback_check(canary, stable, gates, stable_p99_fallback=stable_p99_fallback)
    if breach is not None:
        return breach
    if canary.requests is None or canary.requests < gates.min_requests:
        seen = 0 if canary.requests is None else canary.requests
        return Decision(Verdict.INCONCLUSIVE, "sample_size",
                        f"too few canary requests ({seen} < {gates.min_requests})")
    if canary.error_rate is None or canary.p99_ms is None:
        missing = "error rate" if canary.error_rate is None else "p99 latency"
        return Decision(Verdict.INCONCLUSIVE, "metrics", f"no canary {missing} in the window")
    if canary.error_rate < gates.advance_max_error_rate and canary.p99_ms < gates.sla_p99_ms:
        return Decision(Verdict.ADVANCE, "",
                        f"canary error rate {_pct(canary.error_rate)} < {_pct(gates.advance_max_error_rate)} and "
                        f"p99 {canary.p99_ms:.0f} ms < SLA {gates.sla_p99_ms:.0f} ms over {canary.requests} requests")
    if canary.error_rate >= gates.advance_max_error_rate:
        return Decision(Verdict.HOLD, "error_rate",
                        f"canary error rate {_pct(canary.error_rate)} is not below {_pct(gates.advance_max_error_rate)}")
    return Decision(Verdict.HOLD, "latency",
                    f"canary p99 {canary.p99_ms:.0f} ms is not below the SLA {gates.sla_p99_ms:.0f} ms")
