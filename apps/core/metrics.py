"""The portal's own Prometheus metrics: HTTP requests and latencies, Celery task counts.

Web, worker and beat are separate processes; with PROMETHEUS_MULTIPROC_DIR set (make run
and docker-compose set it) prometheus_client aggregates their samples, so `/metrics` on
any web process shows all of them.
"""

from __future__ import annotations

import os
import time

from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter("slipway_http_requests_total", "HTTP requests served", ["method", "view", "status"])
HTTP_LATENCY = Histogram("slipway_http_request_duration_seconds", "HTTP request latency", ["method", "view"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
TASKS = Counter("slipway_celery_tasks_total", "Celery tasks finished", ["task", "state"])


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match and match.view_name else "unmatched"
        HTTP_LATENCY.labels(request.method, view).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


def metrics_view(request):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
