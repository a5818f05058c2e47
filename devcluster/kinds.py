"""The resource kinds the dev cluster serves, and the discovery documents that describe them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update")
    # Custom resources insist on metadata.resourceVersion for an update; built-in kinds allow unconditional ones.
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "namespaces", "Namespace", False, "namespace", ("ns",)),
    Kind("", "v1", "resourcequotas", "ResourceQuota", True, "resourcequota", ("quota",)),
    Kind("", "v1", "services", "Service", True, "service", ("svc",)),
    Kind("", "v1", "pods", "Pod", True, "pod", ("po",), verbs=("get", "list")),
    Kind("apps", "v1", "deployments", "Deployment", True, "deployment", ("deploy",)),
    Kind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, "networkpolicy", ("netpol",)),
    Kind("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, "horizontalpodautoscaler", ("hpa",)),
    Kind("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", True, "httproute", (), custom=True),
)

BY_PATH: dict[tuple[str, str, str], Kind] = {(k.group, k.version, k.plural): k for k in KINDS}
NAMESPACES = BY_PATH[("", "v1", "namespaces")]
PODS = BY_PATH[("", "v1", "pods")]
DEPLOYMENTS = BY_PATH[("apps", "v1", "deployments")]
SERVICES = BY_PATH[("", "v1", "services")]
HTTPROUTES = BY_PATH[("gateway.networking.k8s.io", "v1", "httproutes")]

# Served alongside the main kinds so the discovery documents stay truthful.
_SUBRESOURCES = {
    ("apps", "v1"): [("deployments/scale", "Scale", "autoscaling", "v1", ("get", "patch", "update"))],
}


def find(group: str, version: str, plural: str) -> Kind | None:
    return BY_PATH.get((group, version, plural))


def groups() -> list[str]:
    seen: list[str] = []
    for k in KINDS:
        if k.group and k.group not in seen:
            seen.append(k.group)
    return seen


def core_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_doc(group: str) -> dict[str, Any]:
    versions = sorted({k.version for k in KINDS if k.group == group})
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_doc(g) for g in groups()]}


def group(group_name: str) -> dict[str, Any] | None:
    return _group_doc(group_name) if group_name in groups() else None


def resource_list(group_name: str, version: str) -> dict[str, Any] | None:
    kinds = [k for k in KINDS if k.group == group_name and k.version == version]
    if not kinds:
        return None
    resources: list[dict[str, Any]] = []
    for k in kinds:
        resources.append(
            {
                "name": k.plural,
                "singularName": k.singular,
                "namespaced": k.namespaced,
                "kind": k.kind,
                "verbs": list(k.verbs),
                "shortNames": list(k.short_names),
            }
        )
    for name, kind, sub_group, sub_version, verbs in _SUBRESOURCES.get((group_name, version), []):
        resources.append(
            {
                "name": name,
                "singularName": "",
                "namespaced": True,
                "group": sub_group,
                "version": sub_version,
                "kind": kind,
                "verbs": list(verbs),
            }
        )
    group_version = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
