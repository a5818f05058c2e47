"""Local mode: make a canary misbehave through the dev cluster's admin API (SPEC §3 "Local default").

Only when the deployment's environment targets the dev cluster (a plain URL cluster at
settings.SLIPWAY_DEVCLUSTER_URL, or any URL cluster while DEBUG is on), only for people who
may change the deployment, and audited like every other change. It changes the simulated
traffic of the workload, nothing in Slipway's database: the engine's gates then see the
breach and roll back on their own, which is the point of the demo.
"""

from __future__ import annotations

import requests
from django.conf import settings

from apps.core import audit
from apps.core.access import require
from apps.core.errors import NotPermitted, ServiceUnavailable, ValidationFailed
from apps.deployments.choices import ACTIVE
from apps.deployments.models import Deployment, Environment

# What each button asks the dev cluster for (README: PUT /_sim/workloads/{namespace}/{name}).
BEHAVIOURS: dict[str, tuple[str, dict]] = {
    "errors": ("error rate 20 %", {"error_rate": 0.2}),
    "latency": ("p99 900 ms", {"p99_ms": 900}),
    "reset": ("healthy again (error rate 0.1 %, p99 80 ms)", {"error_rate": 0.001, "p99_ms": 80}),
}
# Misbehaving makes sense while there is a canary to judge.
MISBEHAVE_STATUSES = set(ACTIVE)
TIMEOUT_SECONDS = 5


def cluster_url(environment: Environment) -> str | None:
    cluster = environment.cluster or {}
    if cluster.get("kind", "url") != "url":
        return None
    url = str(cluster.get("url") or "").rstrip("/")
    return url or None


def is_local(environment: Environment) -> bool:
    """Whether `environment` runs on the dev cluster (so the admin API exists)."""
    url = cluster_url(environment)
    if url is None:
        return False
    return bool(settings.DEBUG) or url == str(getattr(settings, "SLIPWAY_DEVCLUSTER_URL", "")).rstrip("/")


def can_misbehave(user, deployment: Deployment) -> bool:
    """Whether the rollout page offers the control to `user` (the service decides for real)."""
    return (deployment.status in MISBEHAVE_STATUSES and is_local(deployment.environment)
            and getattr(user, "is_authenticated", False) and user.can("change", deployment.tenant_id))


def misbehave(deployment: Deployment, *, behaviour: str, actor) -> dict:
    """Tell the dev cluster to make the deployment's workload behave as `behaviour`.

    Returns the workload's behaviour as the dev cluster reports it.
    """
    require(actor, "change", deployment.tenant_id, what="deployment")
    if behaviour not in BEHAVIOURS:
        raise ValidationFailed([("behaviour", "invalid_choice",
                                 f"behaviour must be one of {', '.join(BEHAVIOURS)}.")])
    environment = deployment.environment
    if not is_local(environment):
        raise NotPermitted(f"{environment.name} does not run on the local dev cluster; "
                           "this control exists only in local mode.")
    if deployment.status not in MISBEHAVE_STATUSES:
        raise NotPermitted(f"Deployment #{deployment.pk} is {deployment.status}; there is no canary to misbehave.")
    label, body = BEHAVIOURS[behaviour]
    namespace, workload = deployment.namespace, deployment.workload
    url = f"{cluster_url(environment)}/_sim/workloads/{namespace}/{workload}"
    try:
        response = requests.put(url, json=body, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        result = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ServiceUnavailable(f"The dev cluster did not take the change: {type(exc).__name__}.") from exc
    from apps.deployments.services import _event

    _event(deployment, actor, "note", deployment.status, deployment.status,
           f"{actor} made {workload} misbehave in the dev cluster: {label}.")
    audit.record("deployment.misbehave", actor=actor, tenant=deployment.tenant_id, obj=deployment,
                 after={"namespace": namespace, "workload": workload, "behaviour": behaviour, **body})
    return result if isinstance(result, dict) else {}

