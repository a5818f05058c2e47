"""The adapter against the dev cluster (a real HTTP API server with Kubernetes semantics), through the official client.

Full tenant + workload + route, read back, idempotent re-apply (no generation bump), scale, status until ready,
delete; then 30 % injected API errors and 30 % conflicts: every write still succeeds within the retry cap.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest

from devcluster.server import DevCluster
from tests.worker.cluster.conftest import route, tenant, workload
from worker.cluster import ClusterError, RouteSpec, get_cluster, manifests
from worker.cluster.client import contains

NS = "slipway-recsys"


@pytest.fixture
def dev():
    cluster = DevCluster(port=0, ready_delay_seconds=0, traffic="manual").start()
    yield cluster
    cluster.stop()


def admin(dev, method, path, body=None):
    request = urllib.request.Request(dev.url + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def raw_get(dev, path):
    """Read an object straight from the server, bypassing the adapter."""
    with urllib.request.urlopen(dev.url + path, timeout=5) as response:
        return json.loads(response.read())


PLURALS = {"Namespace": "namespaces", "ResourceQuota": "resourcequotas", "NetworkPolicy": "networkpolicies",
           "Deployment": "deployments", "Service": "services", "HorizontalPodAutoscaler": "horizontalpodautoscalers",
           "HTTPRoute": "httproutes"}


def object_path(obj):
    prefix = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
    ns = obj["metadata"].get("namespace")
    return f"{prefix}{f'/namespaces/{ns}' if ns else ''}/{PLURALS[obj['kind']]}/{obj['metadata']['name']}"


def deployment_path(name):
    return f"/apis/apps/v1/namespaces/{NS}/deployments/{name}"


@pytest.fixture
def cluster(dev):
    return get_cluster({"kind": "url", "url": dev.url}, environment="staging", sleep=lambda s: None)


def wait_rolled_out(cluster, name, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        status = cluster.workload_status(NS, name)
        if status.rolled_out or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_full_apply_reads_back_what_was_built(dev, cluster):
    assert cluster.ping()
    t, w2, w3 = tenant(gpu_quota=16), workload(version=2, name="ctr-ranker-v2"), workload()
    assert set(cluster.ensure_tenant(t).values()) == {"created"}
    assert set(cluster.apply_workload(w2).values()) == {"created"}
    assert set(cluster.apply_workload(w3).values()) == {"created"}
    assert cluster.set_route(route(("ctr-ranker-v2", 100), ("ctr-ranker-v3", 0))) == "created"

    built = (manifests.tenant_objects(t, gateway=cluster.gateway, environment="staging")
             + manifests.workload_objects(w3, environment="staging")
             + [manifests.http_route(route(("ctr-ranker-v2", 100), ("ctr-ranker-v3", 0)), environment="staging")])
    for obj in built:
        live = raw_get(dev, object_path(obj))
        assert contains(live, obj), f"{obj['kind']} {obj['metadata']['name']} was altered in transit"

    dep = raw_get(dev, deployment_path("ctr-ranker-v3"))
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert cluster.get_route_weights(NS, "ctr-ranker") == {"ctr-ranker-v2": 100, "ctr-ranker-v3": 0}
    assert cluster.get_route_weights(NS, "no-such-model") is None


def test_reapply_is_idempotent_and_does_not_bump_generation(dev, cluster):
    cluster.ensure_tenant(tenant())
    cluster.apply_workload(workload())
    cluster.set_route(route(("ctr-ranker-v3", 100)))
    before = raw_get(dev, deployment_path("ctr-ranker-v3"))["metadata"]
    requests_before = cluster.stats.requests

    assert set(cluster.ensure_tenant(tenant()).values()) == {"unchanged"}
    assert set(cluster.apply_workload(workload()).values()) == {"unchanged"}
    assert cluster.set_route(route(("ctr-ranker-v3", 100))) == "unchanged"
    after = raw_get(dev, deployment_path("ctr-ranker-v3"))["metadata"]
    assert (after["generation"], after["resourceVersion"]) == (before["generation"], before["resourceVersion"])
    assert cluster.stats.requests - requests_before == 8  # one read per object, no writes

    # A real change is written once and bumps the generation once.
    changed = workload(image="registry.local/slipway/pyfunc-server:2.18")
    assert cluster.apply_workload(changed)["Deployment/ctr-ranker-v3"] == "updated"
    assert raw_get(dev, deployment_path("ctr-ranker-v3"))["metadata"]["generation"] == before["generation"] + 1
    assert cluster.apply_workload(changed)["Deployment/ctr-ranker-v3"] == "unchanged"


def test_scale_status_and_reapply_keeps_the_scaled_replicas(dev, cluster):
    cluster.ensure_tenant(tenant())
    cluster.apply_workload(workload(replicas=2))
    status = wait_rolled_out(cluster, "ctr-ranker-v3")
    assert status.rolled_out and (status.desired, status.ready, status.available) == (2, 2, 2)

    assert cluster.scale_workload(NS, "ctr-ranker-v3", 4) == "updated"
    assert cluster.scale_workload(NS, "ctr-ranker-v3", 4) == "unchanged"
    status = wait_rolled_out(cluster, "ctr-ranker-v3")
    assert (status.desired, status.ready, status.observed_generation_current) == (4, 4, True)

    # The engine re-applies every tick; that must not undo the scale (or the HPA's decisions).
    assert cluster.apply_workload(workload(replicas=2))["Deployment/ctr-ranker-v3"] == "unchanged"
    assert cluster.workload_status(NS, "ctr-ranker-v3").desired == 4

    assert cluster.scale_workload(NS, "ctr-ranker-v3", 0) == "updated"
    status = wait_rolled_out(cluster, "ctr-ranker-v3")
    assert (status.desired, status.ready) == (0, 0)


def test_route_weights_move_and_bad_splits_are_refused(dev, cluster):
    cluster.ensure_tenant(tenant())
    for weights in ((100, 0), (90, 10), (50, 50), (0, 100)):
        cluster.set_route(route(("ctr-ranker-v2", weights[0]), ("ctr-ranker-v3", weights[1])))
        assert cluster.get_route_weights(NS, "ctr-ranker") == {"ctr-ranker-v2": weights[0], "ctr-ranker-v3": weights[1]}
    with pytest.raises(ValueError):
        cluster.set_route(RouteSpec(NS, "recsys", "ctr-ranker", (("ctr-ranker-v2", 60), ("ctr-ranker-v3", 60))))
    assert cluster.get_route_weights(NS, "ctr-ranker") == {"ctr-ranker-v2": 0, "ctr-ranker-v3": 100}
    assert cluster.delete_route(NS, "ctr-ranker") is True
    assert cluster.get_route_weights(NS, "ctr-ranker") is None


def test_delete_workload(dev, cluster):
    cluster.ensure_tenant(tenant())
    cluster.apply_workload(workload())
    assert cluster.delete_workload(NS, "ctr-ranker-v3") is True
    assert not cluster.workload_status(NS, "ctr-ranker-v3").exists
    assert cluster.delete_workload(NS, "ctr-ranker-v3") is False


def test_cluster_errors_carry_the_status(dev, cluster):
    # Writing into a namespace that does not exist: a 404 from the server, not a retry loop.
    with pytest.raises(ClusterError) as info:
        cluster.apply_workload(workload(namespace="slipway-nobody"))
    assert info.value.status == 404 and not info.value.transient
    admin(dev, "PUT", "/_sim/auth", {"tokens": ["right"]})
    wrong = get_cluster({"kind": "url", "url": dev.url, "token": "wrong"}, sleep=lambda s: None)
    with pytest.raises(ClusterError) as info:
        wrong.ping()
    assert info.value.status == 401
    assert get_cluster({"kind": "url", "url": dev.url, "token": "right"}).ping()


def test_every_write_succeeds_with_30_percent_errors_and_conflicts(dev, capsys):
    cluster = get_cluster({"kind": "url", "url": dev.url}, environment="production", sleep=lambda s: None)
    admin(dev, "PUT", "/_sim/faults", {"api_error_rate": 0.3, "conflict_rate": 0.3, "api_latency_ms": 0, "seed": 1})

    cluster.ensure_tenant(tenant())
    versions = range(1, 9)
    for v in versions:
        cluster.apply_workload(workload(version=v, name=f"ctr-ranker-v{v}", replicas=1))
    splits = [(100 - w, w) for w in (0, 5, 10, 25, 50, 75, 100)]
    for v in versions[1:]:
        for stable, canary in splits:
            cluster.set_route(route((f"ctr-ranker-v{v - 1}", stable), (f"ctr-ranker-v{v}", canary)))
        cluster.scale_workload(NS, f"ctr-ranker-v{v}", 3)
        cluster.scale_workload(NS, f"ctr-ranker-v{v - 1}", 0)
        cluster.apply_workload(workload(version=v, name=f"ctr-ranker-v{v}", image=f"registry.local/srv:{v}"))

    injected = admin(dev, "GET", "/_sim/faults")["injected"]
    admin(dev, "PUT", "/_sim/faults", {})  # faults off to check the end state
    stats = cluster.stats
    assert stats.failures == 0
    assert injected["errors"] > 50 and injected["conflicts"] > 20
    assert stats.retries > 0 and stats.conflicts > 0
    assert cluster.get_route_weights(NS, "ctr-ranker") == {"ctr-ranker-v7": 0, "ctr-ranker-v8": 100}
    assert cluster.workload_status(NS, "ctr-ranker-v8").desired == 3
    assert all(cluster.workload_status(NS, f"ctr-ranker-v{v}").desired == 0 for v in range(1, 8))
    image = raw_get(dev, deployment_path("ctr-ranker-v8"))["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.local/srv:8"

    with capsys.disabled():
        print(f"\n[k8s adapter under 30% errors + 30% conflicts] writes={stats.writes} requests={stats.requests} "
              f"retries={stats.retries} conflicts={stats.conflicts} failures={stats.failures} "
              f"injected={injected}\n  requests per write: {dict(sorted(stats.requests_per_write.items()))}"
              f"\n  outcomes: {dict(stats.outcomes)}")


def test_concurrent_writers_on_one_route_all_succeed_and_weights_stay_whole(dev):
    setup = get_cluster({"kind": "url", "url": dev.url}, sleep=lambda s: None)
    setup.ensure_tenant(tenant())
    admin(dev, "PUT", "/_sim/faults", {"api_error_rate": 0.1, "conflict_rate": 0.1, "seed": 7})
    errors: list[BaseException] = []
    last: dict[int, tuple[int, int]] = {}

    def writer(i: int) -> None:
        # Each worker has its own Cluster, as separate Celery processes would.
        # Default retry settings: the jittered backoff is what breaks the lock-step of racing writers.
        mine = get_cluster({"kind": "url", "url": dev.url})
        try:
            for step in range(5):
                canary = (i * 10 + step) % 101
                mine.set_route(route(("ctr-ranker-v2", 100 - canary), ("ctr-ranker-v3", canary)))
                last[i] = (100 - canary, canary)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    admin(dev, "PUT", "/_sim/faults", {})
    assert errors == []
    weights = setup.get_route_weights(NS, "ctr-ranker")
    assert sum(weights.values()) == 100
    assert set(weights) == {"ctr-ranker-v2", "ctr-ranker-v3"}
    assert (weights["ctr-ranker-v2"], weights["ctr-ranker-v3"]) in set(last.values())
