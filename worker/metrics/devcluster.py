"""The dev cluster's built-in stats endpoint (`GET /_sim/stats`), the embedded default.

The dev cluster windows by *simulated* time, so tests and the demo can move its clock
(`advance`) and get exact counts; Prometheus scraping the same cluster sees real time.
"""

from __future__ import annotations

import threading

import requests

from worker.metrics.base import MetricsUnavailable, WindowStats

_local = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per thread: a tick asks for canary and stable figures.

    `trust_env` off: the dev cluster is local, and reading the proxy variables on every
    request cost ~0.7 ms of CPU per call (benchmarks/reconcile.py profile).
    """
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.trust_env = False
    return session


class DevClusterProvider:
    def __init__(self, url: str, *, timeout: float = 3.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def window(self, *, namespace: str, workload: str, seconds: int) -> WindowStats:
        try:
            response = _session().get(f"{self.url}/_sim/stats", timeout=self.timeout,
                                      params={"namespace": namespace, "workload": workload,
                                              "window": max(1, int(seconds))})
            response.raise_for_status()
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError(f"expected a JSON object, got {type(body).__name__}")
        except (requests.RequestException, ValueError) as exc:
            raise MetricsUnavailable(f"dev cluster stats at {self.url}: {type(exc).__name__}: "
                                     f"{str(exc)[:200]}") from exc
        requests_n = WindowStats.clean(body.get("requests"))
        errors = WindowStats.clean(body.get("errors"))
        return WindowStats(
            requests=int(requests_n) if requests_n is not None else None,
            errors=int(errors) if errors is not None else None,
            error_rate=WindowStats.clean(body.get("error_rate")),
            p99_ms=WindowStats.clean(body.get("p99_ms")),
        )
