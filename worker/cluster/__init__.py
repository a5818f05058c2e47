"""Kubernetes adapter: specs → manifests → declarative writes through the official client; EKS auth.

Import what the engine needs from here:
    from worker.cluster import get_cluster, Cluster, ClusterError, TenantSpec, WorkloadSpec, RouteSpec
"""

from worker.cluster.client import Cluster, ClusterError, WriteStats
from worker.cluster.connection import DEFAULT_CLUSTER, EksTokenSource, connect, get_cluster
from worker.cluster.manifests import GatewayRef
from worker.cluster.spec import (
    RouteSpec,
    TenantSpec,
    WorkloadSpec,
    WorkloadStatus,
    namespace_for,
    route_name,
    workload_name,
)

__all__ = [
    "DEFAULT_CLUSTER", "Cluster", "ClusterError", "EksTokenSource", "GatewayRef", "RouteSpec", "TenantSpec",
    "WorkloadSpec", "WorkloadStatus", "WriteStats", "connect", "get_cluster", "namespace_for", "route_name",
    "workload_name",
]
