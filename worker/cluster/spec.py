"""What the engine asks of the cluster: plain, frozen value objects and the naming rules.

The engine builds these from the database; `manifests` turns them into Kubernetes objects and
`client.Cluster` applies them. They validate themselves on construction (ValueError) so a bad
plan never reaches the API server half-applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# RFC 1035 label: Services (and therefore workloads) need it; namespaces accept it too.
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# RFC 1123 label: namespaces, HTTPRoute names.
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Kubernetes label values: at most 63 characters, alphanumeric at both ends.
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[munkMGTPE]|m)?$")

NAMESPACE_PREFIX = "slipway-"


def namespace_for(tenant_slug: str) -> str:
    """The namespace of a tenant: `slipway-<slug>`."""
    return f"{NAMESPACE_PREFIX}{tenant_slug}"


def workload_name(model: str, version: int | str) -> str:
    """The Deployment/Service/HPA name of one model version: `<model>-v<version>`."""
    return f"{model}-v{version}"


def route_name(model: str) -> str:
    """The HTTPRoute name of a model (one route per model splits traffic between its versions)."""
    return model


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_label_value(name: str, value: str) -> None:
    _require(len(value) <= 63 and bool(_LABEL_VALUE.match(value)),
             f"{name} {value!r} is not a valid Kubernetes label value (≤ 63 characters, alphanumeric at both ends)")


def _check_dns_label(name: str, value: str, pattern: re.Pattern[str] = _DNS1123_LABEL) -> None:
    _require(bool(pattern.match(value)),
             f"{name} {value!r} must be a DNS label: 1-63 lowercase letters, digits and '-', alphanumeric at both ends")


@dataclass(frozen=True)
class TenantSpec:
    """A tenant's namespace with its GPU quota (whole GPUs, requests = limits for extended resources)."""

    slug: str
    namespace: str
    gpu_quota: int

    def __post_init__(self) -> None:
        _check_label_value("tenant", self.slug)
        _check_dns_label("namespace", self.namespace)
        _require(isinstance(self.gpu_quota, int) and self.gpu_quota >= 0, "gpu_quota must be an integer ≥ 0")


@dataclass(frozen=True)
class WorkloadSpec:
    """One model version served in a tenant's namespace: Deployment + Service + HPA.

    `replicas` is used when the Deployment is created; afterwards `Cluster.scale_workload`
    and the HPA own `spec.replicas` (re-applying never fights them).
    `spot_percent`: 0 = on-demand only, 100 = spot only, in between = both allowed, with the
    scheduler preferring spot by that weight (see manifests.capacity_affinity).
    """

    tenant: str
    namespace: str
    model: str
    version: int | str
    deployment_id: int | str
    name: str
    image: str
    model_uri: str
    replicas: int
    min_replicas: int
    max_replicas: int
    gpus_per_replica: int
    instance_type: str
    gpu_node: bool
    spot_percent: int
    cpu: str
    memory: str
    queue_depth_target: int | None = None
    gpu_util_target: int | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_label_value("tenant", self.tenant)
        _check_dns_label("namespace", self.namespace)
        _check_dns_label("name", self.name, _DNS_LABEL)
        _check_label_value("model", self.model)
        _check_label_value("version", str(self.version))
        _check_label_value("deployment_id", str(self.deployment_id))
        _check_label_value("instance_type", self.instance_type)
        _require(bool(self.image), "image is required")
        _require(self.replicas >= 0, "replicas must be ≥ 0")
        _require(1 <= self.min_replicas <= self.max_replicas,
                 f"need 1 ≤ min_replicas ≤ max_replicas, got {self.min_replicas} and {self.max_replicas}")
        _require(self.gpus_per_replica >= 0, "gpus_per_replica must be ≥ 0")
        _require(0 <= self.spot_percent <= 100, f"spot_percent must be between 0 and 100, got {self.spot_percent}")
        for name in ("cpu", "memory"):
            value = getattr(self, name)
            _require(isinstance(value, str) and bool(_QUANTITY.match(value)),
                     f"{name} must be a Kubernetes quantity string such as '2' or '8Gi', got {value!r}")
        for name in ("queue_depth_target", "gpu_util_target"):
            value = getattr(self, name)
            _require(value is None or (isinstance(value, int) and value > 0), f"{name} must be a positive integer")
        _require(self.gpu_util_target is None or self.gpu_util_target <= 100, "gpu_util_target is a percentage ≤ 100")
        for key, value in self.extra_labels.items():
            _check_label_value(f"label {key}", value)


@dataclass(frozen=True)
class RouteSpec:
    """The traffic split of one model: (service name, weight) pairs whose weights sum to 100."""

    namespace: str
    tenant: str
    model: str
    backends: tuple[tuple[str, int], ...]
    deployment_id: int | str | None = None  # the deployment now driving the split (a label only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "backends", tuple((name, weight) for name, weight in self.backends))
        _check_dns_label("namespace", self.namespace)
        _check_label_value("tenant", self.tenant)
        _check_dns_label("model", self.model)
        _require(len(self.backends) > 0, "a route needs at least one backend")
        names = [name for name, _ in self.backends]
        _require(len(set(names)) == len(names), f"duplicate backends in {names}")
        for name, weight in self.backends:
            _check_dns_label("backend", name, _DNS_LABEL)
            _require(isinstance(weight, int) and 0 <= weight <= 100, f"weight of {name} must be an integer 0-100")
        total = sum(weight for _, weight in self.backends)
        _require(total == 100, f"route weights must sum to 100, got {total}")

    @property
    def weights(self) -> dict[str, int]:
        return dict(self.backends)


@dataclass(frozen=True)
class WorkloadStatus:
    """What the Deployment controller reports for one workload (all zeros when it does not exist)."""

    exists: bool
    desired: int
    updated: int
    ready: int
    available: int
    observed_generation_current: bool

    @property
    def rolled_out(self) -> bool:
        """Every desired replica runs the current template and is available (kubectl rollout status)."""
        return (self.exists and self.observed_generation_current and self.updated >= self.desired
                and self.available >= self.desired and self.ready >= self.desired)

    @classmethod
    def missing(cls) -> WorkloadStatus:
        return cls(exists=False, desired=0, updated=0, ready=0, available=0, observed_generation_current=False)
