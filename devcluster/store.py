"""Objects, resourceVersions and the API server's write rules (create / replace / patch / delete).

Everything here runs under the DevCluster's single lock; callers get deep copies, never live objects.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devcluster import errors, kinds
from devcluster.kinds import Kind
from devcluster.patches import apply_patch
from devcluster.selectors import label_selector_string, parse_field_selector, parse_label_selector
from devcluster.validation import validate

Obj = dict[str, Any]
Listener = Callable[[Kind, str, str, "Obj | None", "Obj | None"], None]

# Metadata only the server writes; a client's values are ignored on create and carried over on update.
SERVER_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "selfLink", "managedFields")
BOOT_NAMESPACES = ("default", "kube-system")


def timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _suffix(seed: str, length: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    return "".join(alphabet[(digest >> (5 * i)) % len(alphabet)] for i in range(length))


class Store:
    """An in-memory API server store with a single global resourceVersion counter."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.listeners: list[Listener] = []
        self.reset()

    def reset(self) -> None:
        self.rv = 0
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {k.key: {} for k in kinds.KINDS}
        self._ips = itertools.count(10)
        self._names = itertools.count(1)
        for name in BOOT_NAMESPACES:
            self.create(kinds.NAMESPACES, "", {"metadata": {"name": name}})

    # -- reads ---------------------------------------------------------------------------------------------

    def _table(self, kind: Kind) -> dict[tuple[str, str], Obj]:
        return self.objects[kind.key]

    def _existing(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = self._table(kind).get((namespace if kind.namespaced else "", name))
        if obj is None:
            raise errors.not_found(kind.group, kind.plural, name)
        return obj

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        return copy.deepcopy(self._existing(kind, namespace, name))

    def peek(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        """The live object or None, for the simulator (read-only use)."""
        return self._table(kind).get((namespace if kind.namespaced else "", name))

    def all(self, kind: Kind) -> list[Obj]:
        """Live objects of a kind, for the simulator (read-only use)."""
        return list(self._table(kind).values())

    def list(self, kind: Kind, namespace: str | None, label_selector: str | None = None, field_selector: str | None = None) -> list[Obj]:
        labels_match = parse_label_selector(label_selector)
        fields_match = parse_field_selector(field_selector)
        items = [
            copy.deepcopy(obj)
            for (ns, _), obj in sorted(self._table(kind).items())
            if (namespace is None or not kind.namespaced or ns == namespace)
            and labels_match(obj["metadata"].get("labels") or {})
            and fields_match(obj)
        ]
        return items

    def namespace_exists(self, namespace: str) -> bool:
        return ("", namespace) in self._table(kinds.NAMESPACES)

    # -- writes --------------------------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _notify(self, kind: Kind, namespace: str, name: str, old: Obj | None, new: Obj | None) -> None:
        for listener in self.listeners:
            listener(kind, namespace, name, old, new)

    def _check_type(self, kind: Kind, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of the request must be a {kind.kind} object")
        api_version, body_kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != kind.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({kind.api_version})"
            )
        if body_kind and body_kind != kind.kind:
            raise errors.bad_request(f"the kind in the data ({body_kind}) does not match the expected kind ({kind.kind})")
        if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
            raise errors.bad_request("metadata must be an object")
        return body

    def _defaults(self, kind: Kind, obj: Obj, old: Obj | None) -> None:
        """Apply the API server's defaulting for the fields clients commonly compare on."""
        spec = obj.get("spec")
        if kind.kind == "Namespace":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            obj["status"] = {"phase": "Active"}
        elif kind.kind == "Deployment" and isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        elif kind.kind == "Service" and isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
            if not spec.get("clusterIP"):
                if old is not None and old["spec"].get("clusterIP"):
                    spec["clusterIP"] = old["spec"]["clusterIP"]
                else:
                    n = next(self._ips)
                    spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
            if spec["clusterIP"] != "None":
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
            for port in spec.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
                    port.setdefault("targetPort", port.get("port"))
            spec.setdefault("sessionAffinity", "None")
            obj.setdefault("status", {"loadBalancer": {}})
        elif kind.kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
            spec.setdefault("minReplicas", 1)

    def create(self, kind: Kind, namespace: str, body: Any) -> Obj:
        body = copy.deepcopy(self._check_type(kind, body))
        meta = body.get("metadata") or {}
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{_suffix(str(next(self._names)))}"
        name = meta.get("name") or ""
        if kind.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            if not self.namespace_exists(namespace):
                raise errors.not_found("", "namespaces", namespace)
        else:
            namespace = ""
        for field in SERVER_META:
            meta.pop(field, None)
        meta.pop("namespace", None)
        obj: Obj = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta}
        obj.update({k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata", "status")})
        self._defaults(kind, obj, None)
        causes = validate(kind, obj)
        if causes:
            raise errors.invalid(kind.kind, kind.group, name, causes)
        if (namespace, name) in self._table(kind):
            raise errors.already_exists(kind.group, kind.plural, name)
        now = self.clock()
        ordered_meta: Obj = {"name": name}
        if kind.namespaced:
            ordered_meta["namespace"] = namespace
        ordered_meta.update(
            uid=str(uuid.uuid4()),
            resourceVersion=self._next_rv(),
            generation=1,
            creationTimestamp=timestamp(now),
        )
        ordered_meta.update({k: v for k, v in meta.items() if k not in ordered_meta})
        obj["metadata"] = ordered_meta
        self._table(kind)[(namespace, name)] = obj
        self._notify(kind, namespace, name, None, obj)
        return copy.deepcopy(obj)

    def _update(self, kind: Kind, namespace: str, name: str, body: Any, *, require_rv: bool) -> Obj:
        old = self._existing(kind, namespace, name)
        body = copy.deepcopy(self._check_type(kind, body))
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if kind.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        sent_rv = meta.get("resourceVersion")
        if sent_rv and str(sent_rv) != old["metadata"]["resourceVersion"]:
            raise errors.conflict(kind.group, kind.plural, name)
        if not sent_rv and require_rv and kind.custom:
            raise errors.invalid(kind.kind, kind.group, name, [("metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")])
        new_meta: Obj = {k: old["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp") if k in old["metadata"]}
        new_meta.update({k: v for k, v in meta.items() if k not in SERVER_META and k not in ("name", "namespace")})
        new: Obj = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": new_meta}
        new.update({k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata", "status")})
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])  # status is a subresource: updates here never change it
        self._defaults(kind, new, old)
        causes = validate(kind, new)
        if kind.kind == "Deployment" and isinstance(new.get("spec"), dict) and new["spec"].get("selector") != old["spec"].get("selector"):
            causes.append(("spec.selector", f"Invalid value: {new['spec'].get('selector')!r}: field is immutable"))
        if kind.kind == "Service" and isinstance(new.get("spec"), dict) and new["spec"].get("clusterIP") != old["spec"].get("clusterIP"):
            causes.append(("spec.clusterIP", "Invalid value: field is immutable"))
        if causes:
            raise errors.invalid(kind.kind, kind.group, name, causes)
        if new == old:
            return copy.deepcopy(old)  # a no-op write does not bump the resourceVersion, as on a real server
        if new.get("spec") != old.get("spec"):
            new_meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        new_meta["resourceVersion"] = self._next_rv()
        self._table(kind)[(namespace if kind.namespaced else "", name)] = new
        self._notify(kind, namespace, name, old, new)
        return copy.deepcopy(new)

    def replace(self, kind: Kind, namespace: str, name: str, body: Any) -> Obj:
        return self._update(kind, namespace, name, body, require_rv=True)

    def patch(self, kind: Kind, namespace: str, name: str, body: Any, content_type: str) -> Obj:
        media = content_type.split(";", 1)[0].strip().lower()
        existing = self._table(kind).get((namespace if kind.namespaced else "", name))
        if existing is None:
            if media.startswith("application/apply-patch"):
                if isinstance(body, dict):
                    body.setdefault("metadata", {}).setdefault("name", name)
                return self.create(kind, namespace, body)
            raise errors.not_found(kind.group, kind.plural, name)
        patched = apply_patch(existing, body, content_type)
        return self._update(kind, namespace, name, patched, require_rv=False)

    def delete(self, kind: Kind, namespace: str, name: str, options: Obj | None = None) -> Obj:
        old = self._existing(kind, namespace, name)
        pre = (options or {}).get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise errors.conflict(kind.group, kind.plural, name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {old['metadata']['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise errors.conflict(
                kind.group, kind.plural, name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: {old['metadata']['resourceVersion']}",
            )
        key = (namespace if kind.namespaced else "", name)
        if kind is kinds.NAMESPACES:
            # Namespace deletion cascades at once (a real server drains it while "Terminating").
            for other in kinds.KINDS:
                if other.namespaced:
                    for obj_key in [k for k in self._table(other) if k[0] == name]:
                        gone = self._table(other).pop(obj_key)
                        self._notify(other, name, obj_key[1], gone, None)
        del self._table(kind)[key]
        self.rv += 1
        self._notify(kind, namespace, name, old, None)
        return copy.deepcopy(old)

    # -- the deployments/scale subresource -------------------------------------------------------------

    def scale(self, namespace: str, name: str, status_replicas: int) -> Obj:
        dep = self._existing(kinds.DEPLOYMENTS, namespace, name)
        meta = dep["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
            "spec": {"replicas": dep["spec"].get("replicas", 1)},
            "status": {"replicas": status_replicas, "selector": label_selector_string(dep["spec"].get("selector"))},
        }

    def set_scale(self, namespace: str, name: str, scale: Any) -> Obj:
        if not isinstance(scale, dict) or not isinstance(scale.get("spec"), dict):
            raise errors.bad_request("the body of the request must be a Scale object")
        replicas = scale["spec"].get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", "autoscaling", name, [("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")])
        dep = self.get(kinds.DEPLOYMENTS, namespace, name)
        sent_rv = (scale.get("metadata") or {}).get("resourceVersion")
        if sent_rv and str(sent_rv) != dep["metadata"]["resourceVersion"]:
            raise errors.conflict(kinds.DEPLOYMENTS.group, kinds.DEPLOYMENTS.plural, name)
        dep["spec"]["replicas"] = replicas
        dep["metadata"].pop("resourceVersion", None)
        return self._update(kinds.DEPLOYMENTS, namespace, name, dep, require_rv=False)
