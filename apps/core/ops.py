"""Operational endpoints: /healthz (process up) and /readyz (dependencies reachable).

/readyz answers within about SLIPWAY_PROBE_TIMEOUT_SECONDS whatever the dependencies do:
the broker and MLflow probes run in parallel daemon threads with one deadline, so a
server that accepts a connection and then says nothing cannot hang the probe (or the
load balancer asking it).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """The process is up and serving requests; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_filesystem_broker(options: dict) -> None:
    """The embedded broker is a folder: it is up when its folders exist and are writable."""
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = options.get(key)
        if not folder:
            continue
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"broker folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"broker folder {folder} is not writable")


def _check_redis_broker(url: str, timeout: float) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                  retry_on_timeout=False)
    try:
        client.ping()
    finally:
        client.close()


def _check_other_broker(url: str, timeout: float) -> None:
    from kombu import Connection

    with Connection(url, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)


def _check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    timeout = settings.SLIPWAY_PROBE_TIMEOUT_SECONDS
    scheme = urlsplit(url).scheme
    if scheme == "filesystem":
        _check_filesystem_broker(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {})
    elif scheme in ("redis", "rediss"):
        _check_redis_broker(url, timeout)
    else:
        _check_other_broker(url, timeout)


def _check_mlflow() -> None:
    from apps.registry.mlflow_client import ping

    ping()


def _cluster_configs() -> list:
    """The distinct cluster connections the environments use (read on the request's thread)."""
    import json

    from apps.deployments.models import Environment

    configs = {json.dumps(c, sort_keys=True): c for c in Environment.objects.values_list("cluster", flat=True)}
    return list(configs.values()) or [None]


def _check_cluster(configs: list | None = None) -> None:
    """Every distinct cluster the environments deploy to answers the Kubernetes API."""
    from worker.cluster import get_cluster

    timeout = float(settings.SLIPWAY_PROBE_TIMEOUT_SECONDS)
    for config in configs if configs is not None else [None]:
        get_cluster(config, max_attempts=1, request_timeout=(timeout, timeout)).ping()


CHECKS: dict[str, Callable[[], None]] = {"database": _check_database, "broker": _check_broker,
                                         "mlflow": _check_mlflow, "cluster": _check_cluster}
# Checks that talk over the network run in threads under one deadline; the database check
# stays on the request's thread (and its connection) — Django connections are per thread.
THREADED = ("broker", "mlflow", "cluster")


class _Probe(threading.Thread):
    def __init__(self, check: Callable[[], None]):
        super().__init__(daemon=True)
        self.check = check
        self.error: BaseException | None = None
        self.elapsed: float | None = None

    def run(self) -> None:
        started = time.perf_counter()
        try:
            self.check()
        except BaseException as exc:  # reported by readyz, never raised
            self.error = exc
        finally:
            self.elapsed = time.perf_counter() - started


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def readyz(request):
    """Each dependency with ok/error and how long it took; 503 naming the failed ones."""
    timeout = float(settings.SLIPWAY_PROBE_TIMEOUT_SECONDS)
    started = time.perf_counter()
    try:
        clusters = _cluster_configs()
    except Exception:  # the database check below reports a broken database
        clusters = [None]
    checks = {**CHECKS, "cluster": lambda: _check_cluster(clusters)}
    probes = {name: _Probe(checks[name]) for name in THREADED if name in checks}
    for probe in probes.values():
        probe.start()

    results: dict[str, dict] = {}
    for name, check in checks.items():
        if name in probes:
            continue
        t0 = time.perf_counter()
        try:
            check()
            results[name] = {"status": "ok"}
        except Exception as exc:  # a probe must report, never raise
            results[name] = {"status": "error", "error": _describe(exc)}
        results[name]["ms"] = round((time.perf_counter() - t0) * 1000, 1)

    deadline = started + timeout
    for name, probe in probes.items():
        probe.join(max(0.0, deadline - time.perf_counter()))
        if probe.is_alive():
            results[name] = {"status": "error", "error": f"no answer within {timeout:g} s",
                             "ms": round((time.perf_counter() - started) * 1000, 1)}
        elif probe.error is not None:
            results[name] = {"status": "error", "error": _describe(probe.error),
                             "ms": round((probe.elapsed or 0) * 1000, 1)}
        else:
            results[name] = {"status": "ok", "ms": round((probe.elapsed or 0) * 1000, 1)}

    failed = [name for name, result in results.items() if result["status"] != "ok"]
    body = {"status": "unavailable" if failed else "ok", "failed": failed,
            "checks": {name: results[name] for name in CHECKS}}
    return JsonResponse(body, status=503 if failed else 200)

