"""The platform-wide runbooks every installation starts with (data migration 0002)."""

GPU_NODE_POOL_EXHAUSTED = """## Symptoms

- Rollouts stay in **Waiting for pods**; pods of new versions are `Pending` with
  `0/N nodes are available: Insufficient nvidia.com/gpu`.
- The cluster autoscaler logs `max node group size reached` for the GPU node group.

## Diagnose

```sh
kubectl get pods -A --field-selector=status.phase=Pending -l app.kubernetes.io/managed-by=slipway
kubectl describe nodes -l nvidia.com/gpu.present=true | grep -A5 "Allocated resources"
aws eks describe-nodegroup --cluster-name $CLUSTER --nodegroup-name gpu --query 'nodegroup.scalingConfig'
```

Check whether spot capacity was reclaimed (`karpenter`/ASG events) or the on-demand limit was hit.

## Fix

1. Pause rollouts that are not urgent (rollout page → **Pause**); they hold no extra GPUs while paused.
2. Raise the node group's `maxSize`, or add an instance type to the spot pool (diversify: g5, g6, g4dn).
3. If spot was reclaimed, lower affected deployments' `spot_percent` temporarily.
4. Tell the teams waiting: their rollouts resume on their own once pods are scheduled.
"""

METRICS_PROVIDER_DOWN = """## Symptoms

- Rollouts pause after 3 **inconclusive** analyses: "metrics provider unavailable".
- Cost pages show "not measured" for recent hours.

## Diagnose

```sh
curl -s $PROMETHEUS_URL/-/ready
curl -s "$PROMETHEUS_URL/api/v1/query?query=up" | jq '.data.result | length'
```

## Fix

1. Restore Prometheus (or the dev cluster locally); nothing is promoted while it is down.
2. Resume paused rollouts from their pages; each re-analyses before advancing.
3. Backfill cost hours that were not measured: `python manage.py meter_costs --start ... --end ...`.
"""

RUNBOOKS = [
    ("gpu-node-pool-exhausted", "GPU node pool exhausted", GPU_NODE_POOL_EXHAUSTED),
    ("metrics-provider-down", "Metrics provider down", METRICS_PROVIDER_DOWN),
]
