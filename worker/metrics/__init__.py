"""Metrics providers: canary and stable figures over a window, per workload.

`get_provider(environment)` returns the environment's provider. `window()` answers
`WindowStats` or raises `MetricsUnavailable` (the engine treats that as inconclusive and
never promotes on it).
"""

from __future__ import annotations

from worker.metrics.base import MetricsProvider, MetricsUnavailable, WindowStats


def get_provider(environment) -> MetricsProvider:
    kind = environment.metrics_provider
    config = dict(environment.metrics_config or {})
    if kind == "prometheus":
        from worker.metrics.prometheus import PrometheusProvider

        return PrometheusProvider(config)
    from worker.metrics.devcluster import DevClusterProvider

    url = config.get("url") or (environment.cluster or {}).get("url") or "http://127.0.0.1:8001"
    return DevClusterProvider(url, timeout=float(config.get("timeout_seconds", 3)))


__all__ = ["MetricsProvider", "MetricsUnavailable", "WindowStats", "get_provider"]
