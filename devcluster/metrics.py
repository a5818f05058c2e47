"""Latency shape, histogram buckets and the Prometheus text exposition of the simulated traffic.

Latency follows one fixed log-normal shape scaled so its 99th percentile is the workload's ``p99_ms``.
Counts stay deterministic: each histogram bucket accumulates its exact expected share of every
tick's requests as a float, and is exported rounded down (capped by the integer request count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist

SIGMA = 0.5
Z99 = NormalDist().inv_cdf(0.99)
# A backend without ready pods answers 503 at once.
FAST_FAIL_SECONDS = 0.001
EPS = 1e-6

# Fine enough to resolve a p99 anywhere from 10 ms to 10 s within one bucket of ~10-25 %.
BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.06, 0.07, 0.08, 0.09,
    0.1, 0.11, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0,
)

_NORMAL = NormalDist()


def latency_cdf(seconds: float, p99_seconds: float) -> float:
    """Fraction of requests at or below ``seconds`` for a workload whose p99 is ``p99_seconds``."""
    if seconds <= 0:
        return 0.0
    return _NORMAL.cdf(math.log(seconds / p99_seconds) / SIGMA + Z99)


@lru_cache(maxsize=1024)
def bucket_fractions(p99_seconds: float) -> tuple[float, ...]:
    """The share of requests at or below each bucket bound, for one p99 (cached: ticks reuse it)."""
    return tuple(latency_cdf(bound, p99_seconds) for bound in BUCKETS)


def latency_mean(p99_seconds: float) -> float:
    return p99_seconds * math.exp(SIGMA * SIGMA / 2 - SIGMA * Z99)


def mixture_p99(groups: dict[float, int], fast_fails: int) -> float | None:
    """The 99th percentile (ms) of requests spread over several ``p99_ms`` values plus instant 503s."""
    total = sum(groups.values()) + fast_fails
    if total == 0:
        return None
    if fast_fails == 0 and len(groups) == 1:
        return next(iter(groups))
    target = 0.99 * total

    def below(ms: float) -> float:
        count = fast_fails if ms >= FAST_FAIL_SECONDS * 1000 else 0
        return count + sum(n * latency_cdf(ms / 1000, p99 / 1000) for p99, n in groups.items())

    if below(FAST_FAIL_SECONDS * 1000) >= target:
        return FAST_FAIL_SECONDS * 1000
    lo, hi = FAST_FAIL_SECONDS * 1000, max(groups) * 100
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if below(mid) >= target:
            hi = mid
        else:
            lo = mid
    return round(hi, 3)


@dataclass
class Series:
    """Counters and histogram for one ``(namespace, workload, model, version)``."""

    codes: dict[str, int] = field(default_factory=dict)
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(BUCKETS))
    count: int = 0
    total_seconds: float = 0.0

    def observe(self, served: int, p99_seconds: float, errors: int, fast_fails: int) -> None:
        if served:
            self.codes["200"] = self.codes.get("200", 0) + served - errors
            if errors:
                self.codes["500"] = self.codes.get("500", 0) + errors
            self.buckets = [b + served * f for b, f in zip(self.buckets, bucket_fractions(p99_seconds), strict=True)]
            self.total_seconds += served * latency_mean(p99_seconds)
        if fast_fails:
            self.codes["503"] = self.codes.get("503", 0) + fast_fails
            self.buckets = [b + (fast_fails if bound >= FAST_FAIL_SECONDS else 0) for b, bound in zip(self.buckets, BUCKETS, strict=True)]
            self.total_seconds += fast_fails * FAST_FAIL_SECONDS
        self.count += served + fast_fails


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else f"{value:.1f}"


def exposition(
    series: dict[tuple[str, str, str, str], Series],
    gpu: dict[tuple[str, str], float],
    ready: dict[tuple[str, str], int],
) -> str:
    """Render the Prometheus text format (version 0.0.4)."""
    out = [
        "# HELP devcluster_requests_total Requests answered by a simulated workload, by HTTP status code.",
        "# TYPE devcluster_requests_total counter",
    ]
    keys = sorted(series)
    for key in keys:
        base = list(zip(("namespace", "workload", "model", "version"), key, strict=True))
        for code, n in sorted(series[key].codes.items()):
            out.append(f"devcluster_requests_total{_labels(base + [('code', code)])} {_number(n)}")
    out += [
        "# HELP devcluster_request_duration_seconds Latency of requests answered by a simulated workload.",
        "# TYPE devcluster_request_duration_seconds histogram",
    ]
    for key in keys:
        s = series[key]
        base = list(zip(("namespace", "workload", "model", "version"), key, strict=True))
        for bound, ideal in zip(BUCKETS, s.buckets, strict=True):
            n = min(s.count, math.floor(ideal + EPS))
            out.append(f"devcluster_request_duration_seconds_bucket{_labels(base + [('le', repr(bound))])} {_number(n)}")
        out.append(f"devcluster_request_duration_seconds_bucket{_labels(base + [('le', '+Inf')])} {_number(s.count)}")
        out.append(f"devcluster_request_duration_seconds_sum{_labels(base)} {_number(round(s.total_seconds, 6))}")
        out.append(f"devcluster_request_duration_seconds_count{_labels(base)} {_number(s.count)}")
    out += [
        "# HELP devcluster_gpu_utilization GPU utilisation of a workload's ready replicas in the last simulated second (0-1).",
        "# TYPE devcluster_gpu_utilization gauge",
    ]
    for (ns, workload), value in sorted(gpu.items()):
        out.append(f"devcluster_gpu_utilization{_labels([('namespace', ns), ('workload', workload)])} {_number(round(value, 6))}")
    out += [
        "# HELP devcluster_ready_replicas Ready pods of a workload (Deployment).",
        "# TYPE devcluster_ready_replicas gauge",
    ]
    for (ns, workload), value in sorted(ready.items()):
        out.append(f"devcluster_ready_replicas{_labels([('namespace', ns), ('workload', workload)])} {_number(value)}")
    return "\n".join(out) + "\n"
