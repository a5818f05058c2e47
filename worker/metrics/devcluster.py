"""The dev cluster's built-in stats endpoint (`GET /_sim/stats`), the embedded default."""

from __future__ import annotations

import requests

from worker.metrics.base import MetricsUnavailable, WindowStats


class DevClusterProvider:
    def __init__(self, url: str, *, timeout: float = 3.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def window(self, *, namespace: str, workload: str, seconds: int) -> WindowStats:
        try:
            response = requests.get(f"{self.url}/_sim/stats", timeout=self.timeout,
                                    params={"namespace": namespace, "workload": workload, "window": max(1, seconds)})
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise MetricsUnavailable(f"dev cluster stats: {type(exc).__name__}: {str(exc)[:200]}") from exc
        requests_n = WindowStats.clean(body.get("requests"))
        errors = WindowStats.clean(body.get("errors"))
        return WindowStats(
            requests=int(requests_n) if requests_n is not None else None,
            errors=int(errors) if errors is not None else None,
            error_rate=WindowStats.clean(body.get("error_rate")),
            p99_ms=WindowStats.clean(body.get("p99_ms")),
        )
