"""Pure functions from specs to Kubernetes objects (plain dicts in API JSON form, quantities as strings).

Nothing here talks to a cluster. The dicts are what `client.Cluster` sends through the official
client (whose pydantic models validate them again) and what the tests validate against the
Kubernetes OpenAPI schemas (kubernetes-validate, strict) and the Gateway API CRD schema.

Conventions
- Every object carries `slipway.io/tenant`, `slipway.io/model`, `slipway.io/version`,
  `slipway.io/deployment` (where they apply), `app.kubernetes.io/managed-by=slipway`, and the
  cost-allocation labels `tenant`, `model`, `environment` — short keys meant to be activated as
  cost allocation tags with EKS split cost allocation data (AWS imports pod labels as-is).
- Spot vs on-demand: `spot_percent` 0 → a *required* node affinity on on-demand capacity;
  100 → required on spot; in between → both capacity types allowed and *preferred* node affinity
  terms weighted `spot_percent` for spot and `100 - spot_percent` for on-demand. Kubernetes has
  no per-replica ratio for one Deployment, so the mix is a scheduler preference, not a guarantee.
  Both label schemes are matched: Karpenter `karpenter.sh/capacity-type` (spot / on-demand) and
  EKS managed node groups `eks.amazonaws.com/capacityType` (SPOT / ON_DEMAND).
- GPU quota: only `requests.nvidia.com/gpu` is set — for extended resources Kubernetes forbids
  overcommit (requests = limits) and accepts only the `requests.` prefix in a ResourceQuota.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.cluster.spec import RouteSpec, TenantSpec, WorkloadSpec, route_name

MANAGED_BY = "slipway"
GPU_RESOURCE = "nvidia.com/gpu"
HTTP_PORT = 8080
SERVICE_PORT = 80
GPU_NODE_LABEL = ("slipway.io/node-group", "gpu")
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
KARPENTER_CAPACITY = "karpenter.sh/capacity-type"
EKS_CAPACITY = "eks.amazonaws.com/capacityType"
QUEUE_DEPTH_METRIC = "slipway_queue_depth"
GPU_UTIL_METRIC = "DCGM_FI_DEV_GPU_UTIL"
DEFAULT_CPU_UTILISATION = 80
QUOTA_NAME = "gpu-quota"
DENY_POLICY_NAME = "default-deny"
ALLOW_POLICY_NAME = "allow-gateway-and-dns"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"


@dataclass(frozen=True)
class GatewayRef:
    """The shared Gateway every model's HTTPRoute attaches to (its namespace may send traffic in)."""

    name: str = "slipway"
    namespace: str = "slipway-gateway"


def labels(*, tenant: str, model: str | None = None, version: int | str | None = None,
           deployment_id: int | str | None = None, environment: str = "") -> dict[str, str]:
    """The slipway.io/* identity labels plus the AWS cost-allocation labels."""
    result = {"app.kubernetes.io/managed-by": MANAGED_BY, "slipway.io/tenant": tenant, "tenant": tenant}
    if model is not None:
        result |= {"slipway.io/model": model, "model": model, "app.kubernetes.io/name": model}
    if version is not None:
        result |= {"slipway.io/version": str(version)}
    if deployment_id is not None:
        result |= {"slipway.io/deployment": str(deployment_id)}
    if environment:
        result |= {"slipway.io/environment": environment, "environment": environment}
    return result


def selector_labels(model: str, version: int | str) -> dict[str, str]:
    """Pods of one model version (immutable Deployment selector, Service selector)."""
    return {"slipway.io/model": model, "slipway.io/version": str(version)}


def _workload_labels(spec: WorkloadSpec, environment: str) -> dict[str, str]:
    return {**spec.extra_labels, **labels(tenant=spec.tenant, model=spec.model, version=spec.version,
                                          deployment_id=spec.deployment_id, environment=environment)}


# --- tenant -----------------------------------------------------------------------------------

def namespace(spec: TenantSpec, *, environment: str = "") -> dict[str, Any]:
    meta_labels = labels(tenant=spec.slug, environment=environment)
    # Model servers need no privileges; baseline is what the NVIDIA device plugin path allows.
    meta_labels["pod-security.kubernetes.io/enforce"] = "baseline"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec.namespace, "labels": meta_labels}}


def resource_quota(spec: TenantSpec, *, environment: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA_NAME, "namespace": spec.namespace,
                     "labels": labels(tenant=spec.slug, environment=environment)},
        "spec": {"hard": {f"requests.{GPU_RESOURCE}": str(spec.gpu_quota)}},
    }


def default_deny_policy(spec: TenantSpec, *, environment: str = "") -> dict[str, Any]:
    """Deny all ingress and egress of every pod in the namespace unless another policy allows it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": DENY_POLICY_NAME, "namespace": spec.namespace,
                     "labels": labels(tenant=spec.slug, environment=environment)},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def allow_gateway_policy(spec: TenantSpec, *, gateway: GatewayRef = GatewayRef(), environment: str = "",
                         extra_ingress_namespaces: tuple[str, ...] = ()) -> dict[str, Any]:
    """Allow HTTP from the gateway's namespace (and e.g. monitoring) and DNS to kube-dns; nothing else."""
    sources = [gateway.namespace, *extra_ingress_namespaces]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": ALLOW_POLICY_NAME, "namespace": spec.namespace,
                     "labels": labels(tenant=spec.slug, environment=environment)},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                         for ns in sources],
                "ports": [{"protocol": "TCP", "port": HTTP_PORT}],
            }],
            "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        },
    }


def tenant_objects(spec: TenantSpec, *, gateway: GatewayRef = GatewayRef(), environment: str = "",
                   extra_ingress_namespaces: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Namespace first (the rest live in it)."""
    return [
        namespace(spec, environment=environment),
        resource_quota(spec, environment=environment),
        default_deny_policy(spec, environment=environment),
        allow_gateway_policy(spec, gateway=gateway, environment=environment,
                             extra_ingress_namespaces=extra_ingress_namespaces),
    ]


# --- workload ---------------------------------------------------------------------------------

def _capacity_term(spot: bool) -> list[dict[str, Any]]:
    return [
        {"matchExpressions": [{"key": KARPENTER_CAPACITY, "operator": "In", "values": ["spot" if spot else "on-demand"]}]},
        {"matchExpressions": [{"key": EKS_CAPACITY, "operator": "In", "values": ["SPOT" if spot else "ON_DEMAND"]}]},
    ]


def capacity_affinity(spot_percent: int) -> dict[str, Any]:
    """Node affinity for the spot / on-demand mix (see the module docstring)."""
    if spot_percent <= 0 or spot_percent >= 100:
        # nodeSelectorTerms are ORed: a Karpenter node or a managed-node-group node of that capacity.
        return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": _capacity_term(spot_percent >= 100)}}
    spot_terms, on_demand_terms = _capacity_term(True), _capacity_term(False)
    return {"preferredDuringSchedulingIgnoredDuringExecution": [
        *({"weight": spot_percent, "preference": term} for term in spot_terms),
        *({"weight": 100 - spot_percent, "preference": term} for term in on_demand_terms),
    ]}


def capacity_label(spot_percent: int) -> str:
    return "on-demand" if spot_percent <= 0 else "spot" if spot_percent >= 100 else "mixed"


def deployment(spec: WorkloadSpec, *, environment: str = "") -> dict[str, Any]:
    meta_labels = _workload_labels(spec, environment)
    pod_labels = {**meta_labels, "slipway.io/capacity": capacity_label(spec.spot_percent)}
    resources: dict[str, dict[str, str]] = {
        "requests": {"cpu": spec.cpu, "memory": spec.memory},
        "limits": {"cpu": spec.cpu, "memory": spec.memory},
    }
    if spec.gpus_per_replica > 0:
        # Extended resources cannot be overcommitted: requests must equal limits.
        resources["requests"][GPU_RESOURCE] = str(spec.gpus_per_replica)
        resources["limits"][GPU_RESOURCE] = str(spec.gpus_per_replica)
    node_selector = {"node.kubernetes.io/instance-type": spec.instance_type}
    tolerations = []
    if spec.gpu_node:
        node_selector[GPU_NODE_LABEL[0]] = GPU_NODE_LABEL[1]
        tolerations.append(dict(GPU_TOLERATION))
    probe_action = {"httpGet": {"path": "/ping", "port": "http", "scheme": "HTTP"}}
    pod_spec: dict[str, Any] = {
        "containers": [{
            "name": "model",
            "image": spec.image,
            "env": [
                {"name": "MODEL_URI", "value": spec.model_uri},
                {"name": "SLIPWAY_MODEL", "value": spec.model},
                {"name": "SLIPWAY_VERSION", "value": str(spec.version)},
            ],
            "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
            "resources": resources,
            "readinessProbe": {**probe_action, "initialDelaySeconds": 5, "periodSeconds": 5,
                               "timeoutSeconds": 2, "failureThreshold": 3},
            # Loading a large model can take minutes: liveness starts late so it never kills a slow loader.
            "livenessProbe": {**probe_action, "initialDelaySeconds": 120, "periodSeconds": 20,
                              "timeoutSeconds": 5, "failureThreshold": 3},
        }],
        "nodeSelector": node_selector,
        "affinity": {"nodeAffinity": capacity_affinity(spec.spot_percent)},
        "terminationGracePeriodSeconds": 30,
    }
    if tolerations:
        pod_spec["tolerations"] = tolerations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": meta_labels,
                     "annotations": {"slipway.io/spot-percent": str(spec.spot_percent),
                                     "slipway.io/model-uri": spec.model_uri}},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector_labels(spec.model, spec.version)},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        },
    }


def service(spec: WorkloadSpec, *, environment: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": _workload_labels(spec, environment)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec.model, spec.version),
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def hpa_metrics(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """Pods metrics (served by a custom-metrics adapter) for queue depth and GPU utilisation.

    With neither target set the HPA scales on CPU utilisation, the Kubernetes default, made explicit.
    """
    metrics: list[dict[str, Any]] = []
    if spec.queue_depth_target is not None:
        metrics.append({"type": "Pods", "pods": {
            "metric": {"name": QUEUE_DEPTH_METRIC},
            "target": {"type": "AverageValue", "averageValue": str(spec.queue_depth_target)}}})
    if spec.gpu_util_target is not None:
        metrics.append({"type": "Pods", "pods": {
            "metric": {"name": GPU_UTIL_METRIC},
            "target": {"type": "AverageValue", "averageValue": str(spec.gpu_util_target)}}})
    if not metrics:
        metrics.append({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILISATION}}})
    return metrics


def hpa(spec: WorkloadSpec, *, environment: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": _workload_labels(spec, environment)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": hpa_metrics(spec),
            # GPU pods are slow to start and expensive to churn: scale down only after 5 calm minutes.
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def workload_objects(spec: WorkloadSpec, *, environment: str = "") -> list[dict[str, Any]]:
    return [deployment(spec, environment=environment), service(spec, environment=environment),
            hpa(spec, environment=environment)]


# --- route ------------------------------------------------------------------------------------

def route_path(tenant: str, model: str) -> str:
    return f"/{tenant}/{model}"


def http_route(spec: RouteSpec, *, gateway: GatewayRef = GatewayRef(), environment: str = "") -> dict[str, Any]:
    """One rule: requests under /<tenant>/<model> are split across the version Services by weight."""
    return {
        "apiVersion": f"{GATEWAY_API_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": route_name(spec.model), "namespace": spec.namespace,
                     "labels": labels(tenant=spec.tenant, model=spec.model, deployment_id=spec.deployment_id,
                                      environment=environment)},
        "spec": {
            "parentRefs": [{"group": GATEWAY_API_GROUP, "kind": "Gateway", "name": gateway.name,
                            "namespace": gateway.namespace}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": route_path(spec.tenant, spec.model)}}],
                "filters": [{"type": "URLRewrite",
                             "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
                "backendRefs": [{"group": "", "kind": "Service", "name": name, "port": SERVICE_PORT, "weight": weight}
                                for name, weight in spec.backends],
            }],
        },
    }


def route_weights(route: dict[str, Any]) -> dict[str, int]:
    """Backend name → weight of a live HTTPRoute (Gateway API default weight is 1)."""
    weights: dict[str, int] = {}
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            weights[ref["name"]] = weights.get(ref["name"], 0) + int(ref.get("weight", 1))
    return weights
