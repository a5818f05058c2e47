"""Per-kind validation: the subset of the API server's checks that catch a wrong manifest early.

Each validator returns ``(field, message)`` pairs; the store turns them into a 422 ``Invalid`` Status.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from devcluster.kinds import Kind
from devcluster.selectors import matches_label_selector

Causes = list[tuple[str, str]]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
# Kinds whose names must be DNS-1123 labels (they become DNS names or label values).
_LABEL_NAMED = {"Namespace", "Service"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_name(kind: Kind, name: Any) -> Causes:
    if not isinstance(name, str) or not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    if kind.kind in _LABEL_NAMED:
        if len(name) > 63 or not _DNS_LABEL.match(name):
            return [("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', and must start and end with an alphanumeric character')]
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        return [("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character')]
    return []


def validate_labels(labels: Any, field: str) -> Causes:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [(field, "Invalid value: must be a map of string to string")]
    causes: Causes = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or len(name) > 63 or not _LABEL_NAME.match(name):
            causes.append((field, f'Invalid value: "{key}": name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\''))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append((f"{field}", f'Invalid value: "{value}": a valid label must be an empty string or consist of alphanumeric characters, \'-\', \'_\' or \'.\' (at most 63)'))
    return causes


def validate_metadata(kind: Kind, meta: dict[str, Any]) -> Causes:
    causes = validate_name(kind, meta.get("name"))
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    annotations = meta.get("annotations")
    if annotations is not None and (
        not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values())
    ):
        causes.append(("metadata.annotations", "Invalid value: must be a map of string to string"))
    return causes


def _pod_spec(spec: Any, field: str) -> Causes:
    if not isinstance(spec, dict):
        return [(field, "Required value")]
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{field}.containers", "Required value")]
    causes: Causes = []
    for i, c in enumerate(containers):
        if not isinstance(c, dict) or not c.get("name"):
            causes.append((f"{field}.containers[{i}].name", "Required value"))
        elif not c.get("image"):
            causes.append((f"{field}.containers[{i}].image", "Required value"))
    return causes


def _deployment(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    causes: Causes = []
    replicas = spec.get("replicas", 1)
    if not _is_int(replicas) or replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template")
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(("spec.selector", "Required value"))
    if not isinstance(template, dict):
        return causes + [("spec.template", "Required value")]
    labels = (template.get("metadata") or {}).get("labels") or {}
    causes += validate_labels(labels, "spec.template.metadata.labels")
    if isinstance(selector, dict) and not matches_label_selector(selector, labels):
        causes.append(("spec.template.metadata.labels", f"Invalid value: {labels!r}: `selector` does not match template `labels`"))
    causes += _pod_spec(template.get("spec"), "spec.template.spec")
    return causes


def _service(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    causes: Causes = []
    ports = spec.get("ports")
    if spec.get("clusterIP") != "None" and (not isinstance(ports, list) or not ports):
        causes.append(("spec.ports", "Required value"))
    for i, port in enumerate(ports or []):
        number = port.get("port") if isinstance(port, dict) else None
        if not _is_int(number) or not 1 <= number <= 65535:
            causes.append((f"spec.ports[{i}].port", f"Invalid value: {number!r}: must be between 1 and 65535, inclusive"))
    selector = spec.get("selector")
    if selector is not None:
        causes += validate_labels(selector, "spec.selector")
    return causes


def _hpa(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    causes: Causes = []
    target = spec.get("scaleTargetRef")
    if not isinstance(target, dict) or not target.get("kind") or not target.get("name"):
        causes.append(("spec.scaleTargetRef", "Required value: kind and name are required"))
    max_r, min_r = spec.get("maxReplicas"), spec.get("minReplicas", 1)
    if not _is_int(max_r) or max_r < 1:
        causes.append(("spec.maxReplicas", f"Invalid value: {max_r!r}: must be greater than or equal to 1"))
    if not _is_int(min_r) or min_r < 0:
        causes.append(("spec.minReplicas", f"Invalid value: {min_r!r}: must be greater than or equal to 0"))
    elif _is_int(max_r) and min_r > max_r:
        causes.append(("spec.maxReplicas", f"Invalid value: {max_r}: must be greater than or equal to `minReplicas`"))
    for i, metric in enumerate(spec.get("metrics") or []):
        if not isinstance(metric, dict) or metric.get("type") not in ("Resource", "Pods", "Object", "External", "ContainerResource"):
            causes.append((f"spec.metrics[{i}].type", "Unsupported value: must be one of Resource, Pods, Object, External, ContainerResource"))
    return causes


def _network_policy(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("podSelector", {}), dict):
        return [("spec.podSelector", "Required value")]
    causes: Causes = []
    for i, ptype in enumerate(spec.get("policyTypes") or []):
        if ptype not in ("Ingress", "Egress"):
            causes.append((f"spec.policyTypes[{i}]", f'Unsupported value: "{ptype}": supported values: "Ingress", "Egress"'))
    return causes


def _resource_quota(obj: dict[str, Any]) -> Causes:
    hard = (obj.get("spec") or {}).get("hard")
    if hard is not None and (not isinstance(hard, dict) or not all(isinstance(v, (str, int)) for v in hard.values())):
        return [("spec.hard", "Invalid value: must be a map of resource name to quantity")]
    return []


def _httproute(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec", "Required value")]
    causes: Causes = []
    rules = spec.get("rules", [])
    if not isinstance(rules, list) or len(rules) > 16:
        return [("spec.rules", "Invalid value: must be a list of at most 16 rules")]
    for i, rule in enumerate(rules):
        refs = rule.get("backendRefs", []) if isinstance(rule, dict) else None
        if not isinstance(refs, list) or len(refs) > 16:
            causes.append((f"spec.rules[{i}].backendRefs", "Invalid value: must be a list of at most 16 backendRefs"))
            continue
        for j, ref in enumerate(refs):
            field = f"spec.rules[{i}].backendRefs[{j}]"
            if not isinstance(ref, dict) or not ref.get("name"):
                causes.append((f"{field}.name", "Required value"))
                continue
            weight = ref.get("weight", 1)
            if not _is_int(weight) or not 0 <= weight <= 1000000:
                causes.append((f"{field}.weight", f"Invalid value: {weight!r}: must be between 0 and 1000000"))
            port = ref.get("port")
            if port is not None and (not _is_int(port) or not 1 <= port <= 65535):
                causes.append((f"{field}.port", f"Invalid value: {port!r}: must be between 1 and 65535"))
    return causes


def _namespace(obj: dict[str, Any]) -> Causes:
    return []


def _pod(obj: dict[str, Any]) -> Causes:
    return []


VALIDATORS: dict[str, Callable[[dict[str, Any]], Causes]] = {
    "Deployment": _deployment,
    "Service": _service,
    "HorizontalPodAutoscaler": _hpa,
    "NetworkPolicy": _network_policy,
    "ResourceQuota": _resource_quota,
    "HTTPRoute": _httproute,
    "Namespace": _namespace,
    "Pod": _pod,
}


def validate(kind: Kind, obj: dict[str, Any]) -> Causes:
    return validate_metadata(kind, obj.get("metadata") or {}) + VALIDATORS[kind.kind](obj)
