"""Prometheus provider: configurable PromQL templates run through the HTTP API (`/api/v1/query`).

Templates are Python format strings with {namespace}, {workload} and {window} (seconds);
defaults match the dev cluster's metric names. An environment overrides any of them in
`metrics_config["queries"]`.
"""

from __future__ import annotations

import requests

from worker.metrics.base import MetricsUnavailable, WindowStats

SELECTOR = 'namespace="{namespace}",workload="{workload}"'
DEFAULT_QUERIES = {
    "requests": "sum(increase(devcluster_requests_total{{" + SELECTOR + "}}[{window}s]))",
    "errors": "sum(increase(devcluster_requests_total{{" + SELECTOR + ',code=~"5.."}}[{window}s]))',
    "p99_ms": ("1000 * histogram_quantile(0.99, sum by (le) "
               "(rate(devcluster_request_duration_seconds_bucket{{" + SELECTOR + "}}[{window}s])))"),
}


class PrometheusProvider:
    def __init__(self, config: dict):
        self.url = str(config.get("url", "http://127.0.0.1:9090")).rstrip("/")
        self.timeout = float(config.get("timeout_seconds", 5))
        self.queries = {**DEFAULT_QUERIES, **(config.get("queries") or {})}

    def render(self, name: str, *, namespace: str, workload: str, seconds: int) -> str:
        return self.queries[name].format(namespace=namespace, workload=workload, window=int(seconds))

    def query(self, promql: str) -> float | None:
        try:
            response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=self.timeout)
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise MetricsUnavailable(f"Prometheus at {self.url}: {type(exc).__name__}: {str(exc)[:200]}") from exc
        if response.status_code != 200 or body.get("status") != "success":
            raise MetricsUnavailable(f"Prometheus refused the query ({response.status_code}): "
                                     f"{str(body.get('error', ''))[:200]}")
        result = body.get("data", {}).get("result", [])
        if not result:
            return None  # no series: no data
        return WindowStats.clean(result[0]["value"][1])

    def window(self, *, namespace: str, workload: str, seconds: int) -> WindowStats:
        values = {name: self.query(self.render(name, namespace=namespace, workload=workload, seconds=seconds))
                  for name in ("requests", "errors", "p99_ms")}
        requests_n, errors = values["requests"], values["errors"]
        if requests_n is not None and errors is None:
            errors = 0.0  # no 5xx series in the window
        total = round(requests_n) if requests_n is not None else None
        bad = round(errors) if errors is not None else None
        rate = (bad / total) if total and bad is not None else None
        return WindowStats(requests=total, errors=bad, error_rate=rate, p99_ms=values["p99_ms"])
