"""Traffic through HTTPRoute weights, per-workload behaviour, windowed stats and metrics.

A tick simulates one second. For each HTTPRoute rule, a backendRef's share is its weight over the
rule's total weight (weight/100 when the weights sum to 100). The Service it names selects the
Deployments whose pod-template labels contain its selector; each such workload receives
``rps x share`` requests per second (split evenly if one Service selects several). Fractions of
requests and errors carry over between ticks, so counts are exact and deterministic.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Any

from devcluster import kinds
from devcluster.errors import bad_request
from devcluster.metrics import Series, exposition, mixture_p99
from devcluster.pods import PodTracker
from devcluster.store import Store

DEFAULTS: dict[str, float] = {"error_rate": 0.001, "p99_ms": 80.0, "rps": 20.0, "capacity_rps": 40.0}
EPS = 1e-9


def validate_behaviour(body: Any) -> dict[str, float]:
    """Check a ``PUT /_sim/workloads/...`` body; unknown keys and out-of-range values are 400s."""
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    unknown = set(body) - set(DEFAULTS)
    if unknown:
        raise bad_request(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(DEFAULTS)}")
    clean: dict[str, float] = {}
    for key, value in body.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad_request(f"{key}: must be a number")
        if key == "error_rate" and not 0 <= value <= 1:
            raise bad_request("error_rate: must be between 0 and 1")
        if key in ("p99_ms", "capacity_rps") and value <= 0:
            raise bad_request(f"{key}: must be greater than 0")
        if key == "rps" and value < 0:
            raise bad_request("rps: must be greater than or equal to 0")
        clean[key] = float(value)
    return clean


class Ring:
    """Per-second history of one workload, bounded to ``size`` seconds (columns grow lazily)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.appended = 0
        self.second = array("q")
        self.requests = array("I")
        self.errors = array("I")
        self.fast_fails = array("I")
        self.p99 = array("f")
        self.util = array("f")

    def add(self, second: int, requests: int, errors: int, fast_fails: int, p99_ms: float, util: float) -> None:
        if len(self.second) < self.size:
            self.second.append(second)
            self.requests.append(requests)
            self.errors.append(errors)
            self.fast_fails.append(fast_fails)
            self.p99.append(p99_ms)
            self.util.append(util)
        else:
            i = self.appended % self.size
            self.second[i], self.requests[i], self.errors[i] = second, requests, errors
            self.fast_fails[i], self.p99[i], self.util[i] = fast_fails, p99_ms, util
        self.appended += 1

    def window(self, since: int) -> list[int]:
        """Indexes of rows whose second is > ``since``."""
        return [i for i in range(len(self.second)) if self.second[i] > since]


@dataclass
class Carry:
    requests: float = 0.0
    errors: float = 0.0


@dataclass
class Simulator:
    store: Store
    pods: PodTracker
    retention: int = 3600
    behaviour: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    carry: dict[tuple[str, str], Carry] = field(default_factory=dict)
    rings: dict[tuple[str, str], Ring] = field(default_factory=dict)
    series: dict[tuple[str, str, str, str], Series] = field(default_factory=dict)
    gpu: dict[tuple[str, str], float] = field(default_factory=dict)
    last_tick: int = 0
    _shares: dict[tuple[str, str], float] = field(default_factory=dict)
    _shares_rv: int = -1

    def reset(self) -> None:
        self._shares_rv = -1
        for table in (self.behaviour, self.carry, self.rings, self.series, self.gpu):
            table.clear()

    # -- behaviour -----------------------------------------------------------------------------------------

    def set_behaviour(self, namespace: str, name: str, body: Any) -> dict[str, float]:
        self.behaviour.setdefault((namespace, name), {}).update(validate_behaviour(body))
        return self.get_behaviour(namespace, name)

    def get_behaviour(self, namespace: str, name: str) -> dict[str, float]:
        return {**DEFAULTS, **self.behaviour.get((namespace, name), {})}

    # -- routing -----------------------------------------------------------------------------------------

    def shares(self) -> dict[tuple[str, str], float]:
        """Each Deployment's share of its own ``rps``, summed over every route rule that reaches it.

        Depends only on stored objects, so it is cached until the resourceVersion moves.
        """
        if self._shares_rv == self.store.rv:
            return self._shares
        # Index pod-template labels per namespace so matching a Service selector is a set intersection.
        index: dict[tuple[str, str, str], set[str]] = {}
        for dep in self.store.all(kinds.DEPLOYMENTS):
            labels = ((dep["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
            for k, v in labels.items():
                index.setdefault((dep["metadata"]["namespace"], k, v), set()).add(dep["metadata"]["name"])
        by_service: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for svc in self.store.all(kinds.SERVICES):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if not selector:
                continue
            ns = svc["metadata"]["namespace"]
            names = set.intersection(*(index.get((ns, k, v), set()) for k, v in selector.items()))
            by_service[(ns, svc["metadata"]["name"])] = [(ns, n) for n in sorted(names)]
        shares: dict[tuple[str, str], float] = {}
        for route in self.store.all(kinds.HTTPROUTES):
            route_ns = route["metadata"]["namespace"]
            for rule in (route.get("spec") or {}).get("rules") or []:
                refs = [
                    r for r in rule.get("backendRefs") or []
                    if r.get("kind", "Service") == "Service" and r.get("group", "") in ("", "core")
                ]
                total = sum(int(r.get("weight", 1)) for r in refs)
                if total <= 0:
                    continue
                for ref in refs:
                    targets = by_service.get((ref.get("namespace") or route_ns, ref["name"])) or []
                    for target in targets:
                        shares[target] = shares.get(target, 0.0) + int(ref.get("weight", 1)) / total / len(targets)
        self._shares, self._shares_rv = shares, self.store.rv
        return shares

    # -- ticks -------------------------------------------------------------------------------------------

    def tick(self, second: int, ready_at: float | None = None) -> None:
        """Simulate the traffic of one second ending at ``second``.

        ``ready_at`` is when pod readiness is judged (default: ``second``). The real-time ticker
        processes a second a little after it ended, with the routing of that moment, so it judges
        readiness at that moment too: a route switched to pods that just became Ready must not
        see a second of 503s that no real cluster would serve.
        """
        shares = self.shares()
        for dep in self.store.all(kinds.DEPLOYMENTS):
            meta = dep["metadata"]
            key = (meta["namespace"], meta["name"])
            labels = meta.get("labels") or {}
            behaviour = self.get_behaviour(*key)
            _, _, ready = self.pods.counts(key[0], key[1], float(second) if ready_at is None else max(float(second), ready_at))
            carry = self.carry.setdefault(key, Carry())
            carry.requests += behaviour["rps"] * shares.get(key, 0.0)
            n = math.floor(carry.requests + EPS)
            carry.requests -= n
            served = errors = fast_fails = 0
            if n and ready == 0:
                fast_fails = errors = n  # no ready endpoint behind the Service: 503
            elif n:
                served = n
                carry.errors += n * behaviour["error_rate"]
                errors = math.floor(carry.errors + EPS)
                carry.errors -= errors
            util = min(1.0, served / ready / behaviour["capacity_rps"]) if ready else 0.0
            self.gpu[key] = util
            series_key = (key[0], key[1], str(labels.get("slipway.io/model", "")), str(labels.get("slipway.io/version", "")))
            if n or series_key in self.series:
                self.series.setdefault(series_key, Series()).observe(served, behaviour["p99_ms"] / 1000, errors, fast_fails)
            ring = self.rings.get(key)
            if ring is None:
                ring = self.rings[key] = Ring(self.retention)
            ring.add(second, n, errors, fast_fails, behaviour["p99_ms"], util)
        for gone in [k for k in self.gpu if self.store.peek(kinds.DEPLOYMENTS, *k) is None]:
            self.gpu.pop(gone, None)
        self.last_tick = second

    def run_until(self, second: int, ready_at: float | None = None) -> int:
        """Simulate every second after ``last_tick`` up to ``second``; returns how many ran."""
        ran = 0
        while self.last_tick < second:
            self.tick(self.last_tick + 1, ready_at)
            ran += 1
        return ran

    # -- reads -------------------------------------------------------------------------------------------

    def stats(self, namespace: str, workload: str, window: int) -> dict[str, Any]:
        window = max(1, min(int(window), self.retention))
        ring = self.rings.get((namespace, workload))
        requests = errors = fast_fails = 0
        groups: dict[float, int] = {}
        util_sum, seconds = 0.0, 0
        if ring is not None:
            for i in ring.window(self.last_tick - window):
                requests += ring.requests[i]
                errors += ring.errors[i]
                fast_fails += ring.fast_fails[i]
                served = ring.requests[i] - ring.fast_fails[i]
                if served:
                    p99 = round(float(ring.p99[i]), 3)
                    groups[p99] = groups.get(p99, 0) + served
                util_sum += ring.util[i]
                seconds += 1
        return {
            "namespace": namespace,
            "workload": workload,
            "window": window,
            "seconds": seconds,
            "requests": requests,
            "errors": errors,
            "error_rate": errors / requests if requests else None,
            "p99_ms": mixture_p99(groups, fast_fails),
            "gpu_utilization": round(util_sum / seconds, 6) if seconds else 0.0,
        }

    def metrics_text(self) -> str:
        ready: dict[tuple[str, str], int] = {}
        for dep in self.store.all(kinds.DEPLOYMENTS):
            ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
            ready[(ns, name)] = self.pods.counts(ns, name)[2]
            self.gpu.setdefault((ns, name), 0.0)
        return exposition(self.series, self.gpu, ready)
