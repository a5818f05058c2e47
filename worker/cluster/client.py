"""`Cluster`: declarative writes and status reads through the official `kubernetes` client.

Write protocol (the same for every object):
  read → 404: create; else, if the live object already contains the desired one: nothing
  (no write, so no generation bump); else replace with the resourceVersion just read.
  409 (a concurrent writer, or a create that lost a race) and 404 on replace → re-read and retry.
  Transient failures — 5xx except 501, 429 (honouring Retry-After), connection errors, timeouts —
  are retried per request with exponential backoff (jittered, capped); 401 triggers one
  credential refresh (EKS tokens) and a retry. Anything else raises `ClusterError`; when retries
  run out the `ClusterError` says `transient=True` so the caller can try again on a later tick.

Nothing is cached between calls: every decision is made from what the API server returns now,
so any number of workers can drive the same cluster (SPEC §10). Only counters are kept
(`stats`), bounded, for tests and benchmarks.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from worker.cluster import manifests
from worker.cluster.manifests import GatewayRef
from worker.cluster.spec import RouteSpec, TenantSpec, WorkloadSpec, WorkloadStatus, route_name

HTTPROUTES = (manifests.GATEWAY_API_GROUP, "v1", "httproutes")


class ClusterError(Exception):
    """A Kubernetes call failed for good (or ran out of retries: `transient=True`)."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "", kind: str = "",
                 namespace: str | None = None, name: str = "", transient: bool = False, attempts: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.transient = transient
        self.attempts = attempts

    def __str__(self) -> str:
        where = f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}".strip()
        code = f"{self.status} {self.reason}".strip() if self.status is not None else self.reason
        return f"{where}: {code}: {self.message}" if where else f"{code}: {self.message}"


@dataclass
class WriteRecord:
    """One logical write: how many HTTP requests it took and why."""

    kind: str
    namespace: str | None
    name: str
    outcome: str = ""  # created | updated | unchanged | deleted | absent | failed
    requests: int = 0
    retries: int = 0  # transient failures retried
    conflicts: int = 0  # 409 / vanished-object rounds


@dataclass
class WriteStats:
    """Bounded counters over every write this Cluster made (histograms, not a log)."""

    writes: int = 0
    requests: int = 0
    retries: int = 0
    conflicts: int = 0
    failures: int = 0
    requests_per_write: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    last: WriteRecord | None = None

    def record(self, rec: WriteRecord) -> None:
        self.writes += 1
        self.requests += rec.requests
        self.retries += rec.retries
        self.conflicts += rec.conflicts
        self.failures += rec.outcome == "failed"
        self.requests_per_write[rec.requests] += 1
        self.outcomes[rec.outcome] += 1
        self.last = rec


class _Conflict(Exception):
    """Internal: the object changed (or vanished) between our read and our write."""


def _status_body(exc: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(exc: ApiException) -> float | None:
    value = (exc.headers or {}).get("Retry-After") if exc.headers is not None else None
    if value is None:
        value = (_status_body(exc).get("details") or {}).get("retryAfterSeconds")
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP-date Retry-After: fall back to our own backoff


def _is_transient(status: int | None) -> bool:
    return status == 429 or (status is not None and 500 <= status <= 599 and status != 501)


def contains(live: Any, want: Any) -> bool:
    """Whether `live` already holds every field of `want` (server defaults and extra fields allowed).

    Lists must match element by element (order is meaningful in Kubernetes lists we write).
    """
    if isinstance(want, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(live, list) and len(live) == len(want) and all(map(contains, live, want))
    return live == want


def _dig(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _merge_for_replace(desired: dict[str, Any], live: dict[str, Any],
                       preserve: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """The body of a replace: desired state on top of the live identity, keeping what others own.

    Labels and annotations are merged (controllers add their own, e.g. the Deployment revision);
    `preserve` paths (replicas owned by the HPA/scale, allocated cluster IPs) keep their live value.
    """
    body = copy.deepcopy(desired)
    live_meta = live.get("metadata") or {}
    meta = body.setdefault("metadata", {})
    meta["resourceVersion"] = live_meta.get("resourceVersion")
    for key in ("labels", "annotations"):
        merged = {**(live_meta.get(key) or {}), **(meta.get(key) or {})}
        if merged:
            meta[key] = merged
    for path in preserve:
        value = _dig(live, path)
        if value is not None:
            target = body
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
    return body


class _Resource:
    """Read/create/replace/delete of one object kind through the typed (or custom-objects) API."""

    _TYPED: dict[str, tuple[type, str]] = {
        "Namespace": (k8s.CoreV1Api, "namespace"),
        "ResourceQuota": (k8s.CoreV1Api, "namespaced_resource_quota"),
        "Service": (k8s.CoreV1Api, "namespaced_service"),
        "NetworkPolicy": (k8s.NetworkingV1Api, "namespaced_network_policy"),
        "Deployment": (k8s.AppsV1Api, "namespaced_deployment"),
        "HorizontalPodAutoscaler": (k8s.AutoscalingV2Api, "namespaced_horizontal_pod_autoscaler"),
    }

    def __init__(self, api_client: k8s.ApiClient, kind: str, namespace: str | None, name: str,
                 timeout: tuple[float, float]) -> None:
        self.kind, self.namespace, self.name = kind, namespace, name
        self._opts = {"_preload_content": False, "_request_timeout": timeout}
        if kind == "HTTPRoute":
            self._api: Any = k8s.CustomObjectsApi(api_client)
            self._typed = None
        else:
            api_class, self._typed = self._TYPED[kind]
            self._api = api_class(api_client)

    def _scope(self) -> tuple[str, ...]:
        return () if self.namespace is None else (self.namespace,)

    @staticmethod
    def _json(response: Any) -> dict[str, Any]:
        data = response.data
        return json.loads(data) if data else {}

    def read(self) -> dict[str, Any]:
        if self._typed is None:
            return self._json(self._api.get_namespaced_custom_object(*HTTPROUTES[:2], self.namespace, HTTPROUTES[2],
                                                                     self.name, **self._opts))
        return self._json(getattr(self._api, f"read_{self._typed}")(self.name, *self._scope(), **self._opts))

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._typed is None:
            return self._json(self._api.create_namespaced_custom_object(*HTTPROUTES[:2], self.namespace,
                                                                        HTTPROUTES[2], body, **self._opts))
        return self._json(getattr(self._api, f"create_{self._typed}")(*self._scope(), body, **self._opts))

    def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._typed is None:
            return self._json(self._api.replace_namespaced_custom_object(*HTTPROUTES[:2], self.namespace,
                                                                         HTTPROUTES[2], self.name, body, **self._opts))
        return self._json(getattr(self._api, f"replace_{self._typed}")(self.name, *self._scope(), body, **self._opts))

    def delete(self) -> dict[str, Any]:
        if self._typed is None:
            return self._json(self._api.delete_namespaced_custom_object(*HTTPROUTES[:2], self.namespace,
                                                                        HTTPROUTES[2], self.name, **self._opts))
        return self._json(getattr(self._api, f"delete_{self._typed}")(
            self.name, *self._scope(), propagation_policy="Background", **self._opts))

    # The scale subresource: how `kubectl scale` changes replicas without touching the spec.
    def read_scale(self) -> dict[str, Any]:
        return self._json(self._api.read_namespaced_deployment_scale(self.name, self.namespace, **self._opts))

    def replace_scale(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json(self._api.replace_namespaced_deployment_scale(self.name, self.namespace, body, **self._opts))


# Fields another actor owns after creation: never overwrite them on re-apply.
_PRESERVE: dict[str, tuple[tuple[str, ...], ...]] = {
    "Deployment": (("spec", "replicas"),),  # the HPA and scale_workload own replicas once it exists
    "Service": (("spec", "clusterIP"), ("spec", "clusterIPs")),  # allocated by the API server, immutable
}


class Cluster:
    """One Kubernetes cluster, addressed through an `ApiClient` (see `connection.get_cluster`).

    Public calls are idempotent and safe to repeat or run concurrently from several workers.
    """

    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        refresh_credentials: Callable[[], bool] | None = None,
        gateway: GatewayRef | None = None,
        environment: str = "",
        extra_ingress_namespaces: tuple[str, ...] = (),
        # client-go's ceiling: at most 10 tries per request. Under 30 % injected API errors a cap of 5
        # failed a full apply in more than a third of seeded runs; 10 failed none of 60 (see tests).
        max_attempts: int = 10,
        backoff_base: float = 0.02,
        backoff_cap: float = 1.0,
        retry_after_cap: float = 30.0,
        request_timeout: tuple[float, float] = (5.0, 30.0),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be ≥ 1")
        self.api_client = api_client
        self.gateway = gateway or GatewayRef()
        self.environment = environment
        self.extra_ingress_namespaces = tuple(extra_ingress_namespaces)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.request_timeout = request_timeout
        self.stats = WriteStats()
        self._refresh_credentials = refresh_credentials
        self._sleep = sleep
        self._rng = rng or random.Random()

    # --- public API ---------------------------------------------------------------------------

    def ping(self) -> bool:
        """True when the API server answers (GET /api); raises ClusterError otherwise."""
        rec = WriteRecord("APIVersions", None, "")
        self._request(lambda: _Resource._json(k8s.CoreApi(self.api_client).get_api_versions(
            _preload_content=False, _request_timeout=self.request_timeout)), rec)
        return True

    def ensure_tenant(self, spec: TenantSpec) -> dict[str, str]:
        """Namespace, GPU ResourceQuota, default-deny and allow-gateway/DNS NetworkPolicies."""
        objects = manifests.tenant_objects(spec, gateway=self.gateway, environment=self.environment,
                                           extra_ingress_namespaces=self.extra_ingress_namespaces)
        return self._apply_all(objects)

    def apply_workload(self, spec: WorkloadSpec) -> dict[str, str]:
        """Deployment, Service and HPA of one model version.

        `spec.replicas` applies at creation; afterwards replicas belong to `scale_workload` and the HPA.
        """
        return self._apply_all(manifests.workload_objects(spec, environment=self.environment))

    def scale_workload(self, namespace: str, name: str, replicas: int) -> str:
        """Set the Deployment's replicas through its scale subresource ("updated" or "unchanged").

        A missing Deployment is a ClusterError (404) — except when scaling to 0, which answers "absent".

        At 0 replicas the HPA stands aside (Kubernetes disables autoscaling for a target scaled to 0).
        """
        if replicas < 0:
            raise ValueError("replicas must be ≥ 0")
        res = self._resource("Deployment", namespace, name)
        rec = WriteRecord("Deployment/scale", namespace, name)

        def attempt() -> str:
            try:
                scale = self._request(res.read_scale, rec, passthrough=(404,))
            except ApiException as exc:
                if replicas == 0:
                    return "absent"  # nothing runs, which is what scaling to zero wants
                raise self._error(exc, rec, transient=False) from exc
            if (scale.get("spec") or {}).get("replicas", 0) == replicas:
                return "unchanged"
            body = {"apiVersion": "autoscaling/v1", "kind": "Scale",
                    "metadata": {"name": name, "namespace": namespace,
                                 "resourceVersion": (scale.get("metadata") or {}).get("resourceVersion")},
                    "spec": {"replicas": replicas}}
            self._request_write(lambda: res.replace_scale(body), rec, on_missing_conflict=True)
            return "updated"

        return self._with_conflict_retries(attempt, rec)

    def workload_status(self, namespace: str, name: str) -> WorkloadStatus:
        """The Deployment's rollout status; `WorkloadStatus.missing()` when it does not exist."""
        rec = WriteRecord("Deployment", namespace, name)
        live = self._read(self._resource("Deployment", namespace, name), rec)
        if live is None:
            return WorkloadStatus.missing()
        status = live.get("status") or {}
        generation = (live.get("metadata") or {}).get("generation")
        observed = status.get("observedGeneration")
        return WorkloadStatus(
            exists=True,
            desired=int((live.get("spec") or {}).get("replicas", 1)),
            updated=int(status.get("updatedReplicas") or 0),
            ready=int(status.get("readyReplicas") or 0),
            available=int(status.get("availableReplicas") or 0),
            observed_generation_current=generation is not None and observed is not None and observed >= generation,
        )

    def set_route(self, spec: RouteSpec) -> str:
        """Apply the model's HTTPRoute with the spec's weights (which sum to 100 by construction)."""
        return self._apply(manifests.http_route(spec, gateway=self.gateway, environment=self.environment))

    def get_route_weights(self, namespace: str, model: str) -> dict[str, int] | None:
        """Service name → weight of the model's live HTTPRoute; None when there is no route."""
        rec = WriteRecord("HTTPRoute", namespace, route_name(model))
        live = self._read(self._resource("HTTPRoute", namespace, route_name(model)), rec)
        return None if live is None else manifests.route_weights(live)

    def delete_route(self, namespace: str, model: str) -> bool:
        """Delete the model's HTTPRoute; False when it was already gone."""
        return self._delete(self._resource("HTTPRoute", namespace, route_name(model)))

    def delete_workload(self, namespace: str, name: str) -> bool:
        """Delete HPA, Service and Deployment (HPA first so it cannot scale a dying target).

        Idempotent: True when anything was deleted, False when all were already gone.
        """
        deleted = False
        for kind in ("HorizontalPodAutoscaler", "Service", "Deployment"):
            deleted |= self._delete(self._resource(kind, namespace, name))
        return deleted

    # --- write protocol -----------------------------------------------------------------------

    def _resource(self, kind: str, namespace: str | None, name: str) -> _Resource:
        return _Resource(self.api_client, kind, namespace, name, self.request_timeout)

    def _apply_all(self, objects: list[dict[str, Any]]) -> dict[str, str]:
        return {f"{obj['kind']}/{obj['metadata']['name']}": self._apply(obj) for obj in objects}

    def _apply(self, desired: dict[str, Any]) -> str:
        meta = desired["metadata"]
        res = self._resource(desired["kind"], meta.get("namespace"), meta["name"])
        rec = WriteRecord(res.kind, res.namespace, res.name)
        preserve = _PRESERVE.get(res.kind, ())

        def attempt() -> str:
            live = self._read(res, rec)
            if live is None:
                # 409 AlreadyExists here means another worker created it first: re-read and compare.
                self._request_write(lambda: res.create(desired), rec, on_missing_conflict=False)
                return "created"
            body = _merge_for_replace(desired, live, preserve)
            if contains(live, body):
                return "unchanged"
            # 404 here means it was deleted since our read: re-read (and create).
            self._request_write(lambda: res.replace(body), rec, on_missing_conflict=True)
            return "updated"

        return self._with_conflict_retries(attempt, rec)

    def _with_conflict_retries(self, attempt: Callable[[], str], rec: WriteRecord) -> str:
        try:
            for round_ in range(1, self.max_attempts + 1):
                try:
                    rec.outcome = attempt()
                    return rec.outcome
                except _Conflict:
                    rec.conflicts += 1
                    if round_ < self.max_attempts:
                        # Jittered backoff breaks lock-step between two writers racing on one object.
                        self._sleep(self._backoff(round_))
            rec.outcome = "failed"
            raise ClusterError(f"still conflicting after {self.max_attempts} attempts", status=409, reason="Conflict",
                               kind=rec.kind, namespace=rec.namespace, name=rec.name, transient=True,
                               attempts=rec.requests)
        except BaseException:
            rec.outcome = "failed"
            raise
        finally:
            self.stats.record(rec)

    def _read(self, res: _Resource, rec: WriteRecord) -> dict[str, Any] | None:
        try:
            return self._request(res.read, rec, passthrough=(404,))
        except ApiException:  # only 404 passes through
            return None

    def _request_write(self, call: Callable[[], Any], rec: WriteRecord, *, on_missing_conflict: bool) -> Any:
        passthrough = (409, 404) if on_missing_conflict else (409,)
        try:
            return self._request(call, rec, passthrough=passthrough)
        except ApiException as exc:
            raise _Conflict() from exc

    def _delete(self, res: _Resource) -> bool:
        rec = WriteRecord(res.kind, res.namespace, res.name)
        try:
            try:
                self._request(res.delete, rec, passthrough=(404,))
                rec.outcome = "deleted"
            except ApiException:
                rec.outcome = "absent"
            return rec.outcome == "deleted"
        except ClusterError:
            rec.outcome = "failed"
            raise
        finally:
            self.stats.record(rec)

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return delay * (0.5 + self._rng.random() / 2)  # "equal jitter": never less than half the step

    def _request(self, call: Callable[[], Any], rec: WriteRecord, *, passthrough: tuple[int, ...] = ()) -> Any:
        """One HTTP request, retried while the failure is transient. Returns the decoded JSON body.

        ApiExceptions whose status is in `passthrough` are re-raised for the caller to interpret.
        """
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            rec.requests += 1
            try:
                return call()
            except ApiException as exc:
                if exc.status in passthrough:
                    raise
                if exc.status == 401 and not refreshed and self._refresh_credentials is not None:
                    refreshed = True
                    if self._refresh_credentials():
                        rec.retries += 1
                        attempt -= 1  # a token refresh is not a failed attempt
                        continue
                if not _is_transient(exc.status) or attempt >= self.max_attempts:
                    raise self._error(exc, rec, transient=_is_transient(exc.status)) from exc
                rec.retries += 1
                delay = self._backoff(attempt)
                retry_after = _retry_after(exc)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.retry_after_cap))
                self._sleep(delay)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                # Connection refused/reset, DNS, read timeouts: nothing reached (or came back from) the server.
                if attempt >= self.max_attempts:
                    raise ClusterError(f"{type(exc).__name__}: {exc}", reason="ConnectionError", kind=rec.kind,
                                       namespace=rec.namespace, name=rec.name, transient=True,
                                       attempts=rec.requests) from exc
                rec.retries += 1
                self._sleep(self._backoff(attempt))

    @staticmethod
    def _error(exc: ApiException, rec: WriteRecord, *, transient: bool) -> ClusterError:
        body = _status_body(exc)
        return ClusterError(
            str(body.get("message") or exc.reason or "request failed"),
            status=exc.status or None,
            reason=str(body.get("reason") or exc.reason or ""),
            kind=rec.kind, namespace=rec.namespace, name=rec.name, transient=transient, attempts=rec.requests,
        )
