"""Requests served and GPU utilisation of one workload over one hour, from the metrics provider.

`MetricsUsage` asks the deployment's environment provider:

* Prometheus: the environment's `requests` PromQL template (the same the gates use) with a
  one-hour window, evaluated *at the end of the hour* (`time=`), so any past hour within
  Prometheus' retention meters exactly; GPU utilisation from
  `settings.SLIPWAY_COSTS_GPU_UTILIZATION_QUERY` (default: the mean of the dev cluster's
  `devcluster_gpu_utilization` gauge).
* The dev cluster: its `/_sim/stats` endpoint windows by "the last N seconds" only, so an
  hour is measured while it is recent (metering within `RECENT_SECONDS` of its end, as the
  hourly beat does); older hours are recorded as not measured (`requests = None`).

Any failure means "not measured" — never zero requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from apps.costs.choices import UsageSource

RECENT_SECONDS = 15 * 60


@dataclass(frozen=True)
class HourUsage:
    requests: int | None
    gpu_utilization: float | None
    source: str


NOT_MEASURED = HourUsage(None, None, UsageSource.UNAVAILABLE)


class UsageReader(Protocol):
    def hour(self, deployment, start: datetime, end: datetime) -> HourUsage: ...


class MetricsUsage:
    """Reads an hour's usage from each environment's metrics provider (see module docstring)."""

    def __init__(self, *, now: datetime | None = None):
        self.now = now

    def hour(self, deployment, start: datetime, end: datetime) -> HourUsage:
        environment = deployment.environment
        try:
            if environment.metrics_provider == "prometheus":
                return self._prometheus(environment, deployment, start, end)
            return self._devcluster(environment, deployment, start, end)
        except Exception:  # noqa: BLE001 — any provider failure is "not measured", never a crash of the meter
            return NOT_MEASURED

    def _prometheus(self, environment, deployment, start: datetime, end: datetime) -> HourUsage:
        from worker.metrics.prometheus import PrometheusProvider, render

        provider = PrometheusProvider(dict(environment.metrics_config or {}))
        seconds = int((end - start).total_seconds())
        namespace, workload = deployment.namespace, deployment.workload
        requests_n = provider.query(provider.render("requests", namespace=namespace, workload=workload,
                                                    seconds=seconds), at=end.timestamp())
        util_template = getattr(settings, "SLIPWAY_COSTS_GPU_UTILIZATION_QUERY", DEFAULT_GPU_UTILIZATION_QUERY)
        util = provider.query(render(util_template, namespace=namespace, workload=workload, seconds=seconds),
                              at=end.timestamp())
        return HourUsage(round(requests_n) if requests_n is not None else None,
                         min(1.0, max(0.0, util)) if util is not None else None, UsageSource.METRICS)

    def _devcluster(self, environment, deployment, start: datetime, end: datetime) -> HourUsage:
        from worker.metrics.devcluster import _session

        now = self.now or timezone.now()
        if (now - end).total_seconds() > RECENT_SECONDS or now < start:
            return NOT_MEASURED
        config = dict(environment.metrics_config or {})
        url = (config.get("url") or (environment.cluster or {}).get("url")
               or getattr(settings, "SLIPWAY_DEVCLUSTER_URL", "http://127.0.0.1:8001")).rstrip("/")
        seconds = max(1, int((min(end, now) - start).total_seconds()))
        response = _session().get(f"{url}/_sim/stats", timeout=float(config.get("timeout_seconds", 3)), params={
            "namespace": deployment.namespace, "workload": deployment.workload, "window": seconds})
        response.raise_for_status()
        body = response.json()
        requests_n = body.get("requests")
        util = body.get("gpu_utilization")
        return HourUsage(int(requests_n) if isinstance(requests_n, (int, float)) else None,
                         float(util) if isinstance(util, (int, float)) else None, UsageSource.METRICS)


DEFAULT_GPU_UTILIZATION_QUERY = (
    'avg(avg_over_time(devcluster_gpu_utilization{namespace="{namespace}",workload="{workload}"}[{window}s]))')


class FixedUsage:
    """The same figures for every hour (tests, and a fallback when nothing is measured)."""

    def __init__(self, requests: int | None, gpu_utilization: float | None = None,
                 source: str = UsageSource.SIMULATED):
        self.usage = HourUsage(requests, gpu_utilization, source)

    def hour(self, deployment, start: datetime, end: datetime) -> HourUsage:
        return self.usage
