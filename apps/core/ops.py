"""Operational endpoints: /healthz (process up) and /readyz (dependencies reachable)."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.SLIPWAY_PROBE_TIMEOUT_SECONDS)


def _check_mlflow() -> None:
    from apps.registry.mlflow_client import ping

    ping()


CHECKS = {"database": _check_database, "broker": _check_broker, "mlflow": _check_mlflow}


def readyz(request):
    """Each dependency with ok/error and how long it took; 503 when any is down."""
    results = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"status": "ok"}
        except Exception as exc:  # a probe must report, never raise
            healthy = False
            results[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": results},
                        status=200 if healthy else 503)
