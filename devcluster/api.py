"""Routing of Kubernetes REST paths onto the store, the pod tracker and the discovery documents."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import yaml

from devcluster import errors, kinds
from devcluster.kinds import Kind
from devcluster.patches import apply_patch
from devcluster.selectors import parse_field_selector, parse_label_selector

if TYPE_CHECKING:
    from devcluster.server import DevCluster

Obj = dict[str, Any]
Response = tuple[int, Obj]

# As on a real server, these kinds answer DELETE with the deleted object, the others with a Status.
RETURNS_DELETED_OBJECT = ("Namespace", "Service", "ResourceQuota")

VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-devcluster",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        if "yaml" in content_type:
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise errors.bad_request(f"error decoding YAML: {exc}") from exc
        raise errors.bad_request("error decoding request body: invalid JSON") from None


def _success(kind: Kind, obj: Obj) -> Obj:
    details = {"name": obj["metadata"]["name"], "kind": kind.plural, "uid": obj["metadata"]["uid"]}
    if kind.group:
        details["group"] = kind.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


class KubeApi:
    """Serves one Kubernetes API request; the caller holds the cluster lock."""

    def __init__(self, cluster: DevCluster) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.pods = cluster.pods

    # -- output decoration (status computed from the clock) ------------------------------------------

    def decorate(self, kind: Kind, obj: Obj) -> Obj:
        if kind is kinds.DEPLOYMENTS:
            obj["status"] = self.pods.deployment_status(obj)
        elif kind.kind == "HorizontalPodAutoscaler":
            target = (obj.get("spec") or {}).get("scaleTargetRef") or {}
            dep = self.store.peek(kinds.DEPLOYMENTS, obj["metadata"]["namespace"], target.get("name", ""))
            if dep is not None and target.get("kind") == "Deployment":
                spec = obj["spec"]
                replicas, _, _ = self.pods.counts(dep["metadata"]["namespace"], dep["metadata"]["name"])
                desired = max(spec.get("minReplicas", 1), min(spec["maxReplicas"], int(dep["spec"].get("replicas", 1))))
                obj["status"] = {"currentReplicas": replicas, "desiredReplicas": desired}
        elif kind is kinds.HTTPROUTES:
            obj["status"] = self._route_status(obj)
        elif kind.kind == "ResourceQuota":
            hard = (obj.get("spec") or {}).get("hard")
            if hard:
                obj["status"] = {"hard": dict(hard), "used": {k: "0" for k in hard}}
        return obj

    def _route_status(self, route: Obj) -> Obj:
        """What a Gateway controller would report: Accepted, and ResolvedRefs false when a backend Service is missing."""
        meta = route["metadata"]
        spec = route.get("spec") or {}
        missing = sorted(
            {
                ref["name"]
                for rule in spec.get("rules") or []
                for ref in rule.get("backendRefs") or []
                if self.store.peek(kinds.SERVICES, ref.get("namespace") or meta["namespace"], ref["name"]) is None
            }
        )
        since = meta["creationTimestamp"]
        resolved = {
            "type": "ResolvedRefs",
            "status": "False" if missing else "True",
            "reason": "BackendNotFound" if missing else "ResolvedRefs",
            "message": f"Service(s) not found: {', '.join(missing)}" if missing else "Resolved all the Object references for the Route",
            "observedGeneration": meta.get("generation", 1),
            "lastTransitionTime": since,
        }
        accepted = {
            "type": "Accepted",
            "status": "True",
            "reason": "Accepted",
            "message": "Route is accepted",
            "observedGeneration": meta.get("generation", 1),
            "lastTransitionTime": since,
        }
        return {
            "parents": [
                {"parentRef": ref, "controllerName": "slipway.io/devcluster", "conditions": [accepted, resolved]}
                for ref in spec.get("parentRefs") or []
            ]
        }

    # -- dispatch ------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], content_type: str, raw: bytes) -> Response:
        parts = [p for p in path.split("/") if p]
        if parts == ["version"] and method == "GET":
            return 200, dict(VERSION)
        if not parts or parts[0] not in ("api", "apis"):
            raise errors.page_not_found()
        if parts[0] == "api":
            if len(parts) == 1:
                return 200, kinds.core_versions()
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) == 1:
                return 200, kinds.group_list()
            if len(parts) == 2:
                doc = kinds.group(parts[1])
                if doc is None:
                    raise errors.page_not_found()
                return 200, doc
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            doc = kinds.resource_list(group, version)
            if doc is None or method != "GET":
                raise errors.page_not_found()
            return 200, doc
        if query.get("watch") in ("true", "1"):
            raise errors.bad_request("watch is not supported by the dev cluster")
        if query.get("dryRun"):
            raise errors.bad_request("dryRun is not supported by the dev cluster")
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        kind = kinds.find(group, version, rest[0])
        if kind is None or len(rest) > 3 or (namespace is not None and not kind.namespaced):
            raise errors.page_not_found()
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if kind.namespaced and name is not None and namespace is None:
            raise errors.page_not_found()
        body = parse_body(raw, content_type) if method in ("POST", "PUT", "PATCH", "DELETE") else None
        if sub is not None:
            if kind is not kinds.DEPLOYMENTS or sub != "scale":
                raise errors.page_not_found()
            return self._scale(method, namespace or "", name or "", body, content_type)
        if kind is kinds.PODS:
            return self._pods(method, namespace, name, query)
        if name is None:
            return self._collection(method, kind, namespace, query, body)
        return self._item(method, kind, namespace or "", name, body, content_type)

    def _collection(self, method: str, kind: Kind, namespace: str | None, query: dict[str, str], body: Any) -> Response:
        if method == "GET":
            items = self.store.list(kind, namespace, query.get("labelSelector"), query.get("fieldSelector"))
            return 200, {
                "kind": f"{kind.kind}List",
                "apiVersion": kind.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": [self.decorate(kind, obj) for obj in items],
            }
        if method == "POST":
            if kind.namespaced and namespace is None:
                raise errors.method_not_allowed()
            return 201, self.decorate(kind, self.store.create(kind, namespace or "", body))
        raise errors.method_not_allowed()

    def _item(self, method: str, kind: Kind, namespace: str, name: str, body: Any, content_type: str) -> Response:
        if method == "GET":
            return 200, self.decorate(kind, self.store.get(kind, namespace, name))
        if method == "PUT":
            return 200, self.decorate(kind, self.store.replace(kind, namespace, name, body))
        if method == "PATCH":
            existed = self.store.peek(kind, namespace, name) is not None
            obj = self.store.patch(kind, namespace, name, body, content_type)
            return (200 if existed else 201), self.decorate(kind, obj)
        if method == "DELETE":
            gone = self.store.delete(kind, namespace, name, body if isinstance(body, dict) else None)
            if kind.kind in RETURNS_DELETED_OBJECT:
                if kind is kinds.NAMESPACES:
                    gone["status"] = {"phase": "Terminating"}
                    gone["metadata"]["deletionTimestamp"] = gone["metadata"]["creationTimestamp"]
                return 200, gone
            return 200, _success(kind, gone)
        raise errors.method_not_allowed()

    def _scale(self, method: str, namespace: str, name: str, body: Any, content_type: str) -> Response:
        def current() -> Obj:
            replicas = self.pods.counts(namespace, name)[0] if self.store.peek(kinds.DEPLOYMENTS, namespace, name) else 0
            return self.store.scale(namespace, name, replicas)

        if method == "GET":
            return 200, current()
        if method == "PUT":
            self.store.set_scale(namespace, name, body)
            return 200, current()
        if method == "PATCH":
            patched = apply_patch(current(), body, content_type)
            self.store.set_scale(namespace, name, patched)
            return 200, current()
        raise errors.method_not_allowed()

    def _pods(self, method: str, namespace: str | None, name: str | None, query: dict[str, str]) -> Response:
        if method != "GET":
            raise errors.method_not_allowed("pods are created by the dev cluster's simulated controllers, not by clients")
        pods = self.pods.pods(namespace)
        if name is not None:
            for pod in pods:
                if pod["metadata"]["name"] == name:
                    return 200, pod
            raise errors.not_found("", "pods", name)
        labels_match = parse_label_selector(query.get("labelSelector"))
        fields_match = parse_field_selector(query.get("fieldSelector"))
        items = [p for p in pods if labels_match(p["metadata"]["labels"]) and fields_match(p)]
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.store.rv)}, "items": items}
