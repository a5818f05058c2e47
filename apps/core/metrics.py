"""The portal's own Prometheus metrics: HTTP requests and latencies, Celery task counts.

Web, worker and beat are separate processes (and gunicorn and the prefork pool fork
more); with PROMETHEUS_MULTIPROC_DIR set (make run and docker-compose set it, and clear
the folder at start) prometheus_client writes every process's samples to files there and
`/metrics` on any web process adds them up. Without it, `/metrics` shows this process only.

The variable must be in the environment before the process starts: prometheus_client
picks its storage when it is imported.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Files are named by process id. docker-compose shares one folder between the web,
    # worker and beat containers, whose pids repeat (each starts at 1): prefix the host name
    # so two containers never write the same file.
    _host = socket.gethostname()
    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: f"{_host}-{os.getpid()}")

HTTP_REQUESTS = Counter("slipway_http_requests_total", "HTTP requests served", ["method", "view", "status"])
HTTP_LATENCY = Histogram("slipway_http_request_duration_seconds", "HTTP request latency", ["method", "view"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
TASKS = Counter("slipway_celery_tasks_total", "Celery tasks finished", ["task", "state"])

# Label values come from a fixed set (the URL pattern's name, not the path), so a scanner
# requesting random URLs cannot blow up the number of series.
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class MetricsMiddleware:
    """Counts every response and times it, labelled by method, URL name and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match and match.view_name else "unmatched"
        method = request.method if request.method in KNOWN_METHODS else "other"
        HTTP_LATENCY.labels(method, view).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(method, view, str(response.status_code)).inc()
        return response


def registry_for_scrape() -> CollectorRegistry:
    """All processes' samples in multiprocess mode, else this process's default registry."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition of the portal's metrics (scraped by Prometheus)."""
    return HttpResponse(generate_latest(registry_for_scrape()), content_type=CONTENT_TYPE_LATEST)
