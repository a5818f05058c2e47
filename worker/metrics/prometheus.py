"""Prometheus provider: configurable PromQL templates run through the HTTP API (`/api/v1/query`).

An environment's `metrics_config`:

    {"url": "http://prometheus:9090", "timeout_seconds": 5, "headers": {...}, "min_window_seconds": 60,
     "queries": {"requests": "...", "error_rate": "...", "p99_ms": "...", "errors": "..."}}

`min_window_seconds` raises every window to at least that: `rate()`/`increase()` need two
samples in the window, so with a 30 s scrape interval a 10 s window is always empty (no data,
the gates never trip). Set it to about 2-4 scrape intervals.

Templates (SPEC §3: request count, error rate and p99 latency per version) may use the
placeholders `{namespace}`, `{workload}` and `{window}` (whole seconds). Other braces are
PromQL's own and are left alone, so a template is written as plain PromQL
(`rate(x{job="a",namespace="{namespace}"}[{window}s])`); the `str.format` style with doubled
braces (`x{{namespace="{namespace}"}}`) is accepted too. Each template must answer one
series or a scalar (aggregate with `sum`): several series are ambiguous and refused.

`error_rate` is a ratio in [0, 1]; 0/0 (a version that got no traffic) is NaN in PromQL
and becomes None here — no data, never zero. An environment that configures `errors` (a
count) and no `error_rate` gets errors / requests instead. The defaults read the dev
cluster's metrics (`devcluster_requests_total`, `devcluster_request_duration_seconds`).

All three queries of a window are evaluated at one instant (`time=`), so the figures
describe the same window. Any failure — connection refused, timeout, HTTP error, a query
Prometheus rejects, a template that cannot be rendered, an ambiguous answer — raises
`MetricsUnavailable`, which the engine treats as inconclusive (never promote on it).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping

import requests

from worker.metrics.base import MetricsUnavailable, WindowStats

SELECTOR = 'namespace="{namespace}",workload="{workload}"'
_REQUESTS = "devcluster_requests_total{" + SELECTOR + "}[{window}s]"
_ERRORS = "devcluster_requests_total{" + SELECTOR + ',code=~"5.."}[{window}s]'
DEFAULT_QUERIES: dict[str, str] = {
    "requests": f"sum(increase({_REQUESTS}))",
    # `or vector(0)`: with traffic but no 5xx series yet the numerator would be empty (no data);
    # it is zero errors. Without traffic the denominator is 0 (NaN → None) or empty (None).
    "error_rate": f"(sum(increase({_ERRORS})) or vector(0)) / sum(increase({_REQUESTS}))",
    "p99_ms": ("1000 * histogram_quantile(0.99, sum by (le) "
               "(rate(devcluster_request_duration_seconds_bucket{" + SELECTOR + "}[{window}s])))"),
}
PLACEHOLDERS = ("namespace", "workload", "window")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
# Anything else in single braces that looks like a format field is a typo such as {model}.
_UNKNOWN_FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")

_local = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per thread: a tick asks three queries per workload."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _label_value(value: str) -> str:
    """Escape a value for a PromQL double-quoted string (names are DNS labels; be safe anyway)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"')


def render(template: str, *, namespace: str, workload: str, seconds: int) -> str:
    """Fill the placeholders of one template. Raises ValueError naming an unknown placeholder."""
    values = {"namespace": _label_value(namespace), "workload": _label_value(workload),
              "window": str(max(1, int(seconds)))}
    filled = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    unknown = _UNKNOWN_FIELD.search(filled)
    if unknown and unknown.group(1) not in values:
        raise ValueError(f"unknown placeholder {{{unknown.group(1)}}}; use " +
                         ", ".join("{" + p + "}" for p in PLACEHOLDERS))
    # str.format-style templates double PromQL's braces; PromQL itself never has "{{" or "}}".
    return filled.replace("{{", "{").replace("}}", "}")


def validate_queries(queries: Mapping[str, str]) -> list[tuple[str, str]]:
    """Check an environment's templates before saving: [(key, problem)], empty when fine."""
    problems: list[tuple[str, str]] = []
    allowed = {"requests", "error_rate", "errors", "p99_ms"}
    for key, template in (queries or {}).items():
        if key not in allowed:
            problems.append((key, f"unknown query; allowed: {', '.join(sorted(allowed))}"))
        elif not isinstance(template, str) or not template.strip():
            problems.append((key, "must be a non-empty PromQL string"))
        else:
            try:
                render(template, namespace="ns", workload="wl", seconds=60)
            except ValueError as exc:
                problems.append((key, str(exc)))
    return problems


class PrometheusProvider:
    """Canary/stable figures from a Prometheus server (or anything speaking its query API)."""

    def __init__(self, config: Mapping):
        self.url = str(config.get("url") or "http://127.0.0.1:9090").rstrip("/")
        self.timeout = float(config.get("timeout_seconds", 5))
        self.headers = dict(config.get("headers") or {})
        self.min_window = max(1, int(config.get("min_window_seconds") or 1))
        custom = dict(config.get("queries") or {})
        self.queries = {**DEFAULT_QUERIES, **custom}
        # A count of errors configured without a ratio: derive the ratio from it.
        self.errors_as_count = "errors" in custom and "error_rate" not in custom

    def render(self, name: str, *, namespace: str, workload: str, seconds: int) -> str:
        try:
            return render(self.queries[name], namespace=namespace, workload=workload, seconds=seconds)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MetricsUnavailable(f"PromQL template '{name}' is unusable: {exc}") from exc

    def query(self, promql: str, *, at: float | None = None) -> float | None:
        """One instant query → its single value (None: no series, NaN or ±Inf)."""
        data = {"query": promql, "timeout": f"{max(self.timeout, 0.1):g}s"}
        if at is not None:
            data["time"] = f"{at:.3f}"
        try:
            # POST form: long templates stay out of URLs (and proxies' URL limits).
            response = _session().post(f"{self.url}/api/v1/query", data=data, headers=self.headers,
                                       timeout=self.timeout)
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise MetricsUnavailable(f"Prometheus at {self.url}: {type(exc).__name__}: {str(exc)[:200]}") from exc
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", "") if isinstance(body, dict) else ""
            raise MetricsUnavailable(f"Prometheus refused the query ({response.status_code}): {str(error)[:200]} "
                                     f"— {promql[:300]}")
        payload = body.get("data") or {}
        kind, result = payload.get("resultType"), payload.get("result")
        if kind == "scalar":
            return WindowStats.clean(result[1]) if isinstance(result, list) and len(result) == 2 else None
        if kind != "vector" or not isinstance(result, list):
            raise MetricsUnavailable(f"Prometheus answered a {kind} for {promql[:300]}; a template must answer "
                                     "an instant vector or a scalar")
        if not result:
            return None  # no series: no data
        if len(result) > 1:
            # Picking one would be a guess; summing could double count. Refuse: inconclusive.
            raise MetricsUnavailable(f"{len(result)} series for {promql[:300]}; a template must aggregate to "
                                     "one series (e.g. sum(...))")
        try:
            return WindowStats.clean(result[0]["value"][1])
        except (KeyError, IndexError, TypeError) as exc:
            raise MetricsUnavailable(f"malformed Prometheus sample for {promql[:300]}") from exc

    def window(self, *, namespace: str, workload: str, seconds: int) -> WindowStats:
        at = time.time()
        seconds = max(int(seconds), self.min_window)
        names = ("requests", "errors" if self.errors_as_count else "error_rate", "p99_ms")
        values = {name: self.query(self.render(name, namespace=namespace, workload=workload, seconds=seconds), at=at)
                  for name in names}
        total = round(values["requests"]) if values["requests"] is not None else None
        if self.errors_as_count:
            errors = values["errors"]
            if total and errors is None:
                errors = 0.0  # traffic but no 5xx series in the window
            bad = round(errors) if errors is not None else None
            rate = min(1.0, bad / total) if total and bad is not None else None
        else:
            rate = values["error_rate"]
            if rate is not None and not 0.0 <= rate <= 1.0:
                raise MetricsUnavailable(f"error_rate template answered {rate}, not a ratio in [0, 1]")
            if not total:
                rate = None  # no requests: a ratio over nothing is no data
            bad = round(rate * total) if rate is not None and total is not None else None
        return WindowStats(requests=total, errors=bad, error_rate=rate, p99_ms=values["p99_ms"])
