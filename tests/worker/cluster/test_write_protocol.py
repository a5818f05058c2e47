"""The write protocol over real HTTP, with each response scripted: create/replace/unchanged, 409, 5xx, 429, 401.

The official client talks to a stdlib server on an ephemeral port (scripted_api.ScriptedAPI).
"""

from __future__ import annotations

import copy
import socket

import pytest

from tests.worker.cluster.conftest import route, workload
from tests.worker.cluster.scripted_api import Reply, ScriptedAPI, status
from worker.cluster import ClusterError, manifests
from worker.cluster.connection import get_cluster

DEPLOY_PATH = "/apis/apps/v1/namespaces/slipway-recsys/deployments"


@pytest.fixture
def api():
    server = ScriptedAPI().start()
    yield server
    server.stop()
    assert not server.unexpected, f"requests beyond the script: {server.unexpected}"


@pytest.fixture
def delays():
    return []


@pytest.fixture
def cluster(api, delays):
    return get_cluster({"kind": "url", "url": api.url, "token": "static-token"}, environment="staging",
                       sleep=delays.append, max_attempts=5, request_timeout=(2.0, 2.0))


def live(obj, rv="7", **status_fields):
    """What the API server would return for `obj`: identity fields, defaults, status."""
    result = copy.deepcopy(obj)
    result["metadata"] |= {"resourceVersion": rv, "uid": "u-1", "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"}
    if status_fields:
        result["status"] = status_fields
    return result


def not_found(name="ctr-ranker-v3"):
    return Reply(404, status(404, "NotFound", f'deployments.apps "{name}" not found'), method="GET")


def test_missing_object_is_created(api, cluster):
    desired = manifests.deployment(workload(), environment="staging")
    api.then(not_found(), Reply(201, live(desired, rv="1"), method="POST"))
    assert cluster._apply(desired) == "created"
    assert api.methods == ["GET", "POST"]
    assert api.seen[0].path == f"{DEPLOY_PATH}/ctr-ranker-v3"
    assert api.seen[1].body == desired  # what we built is what went over the wire, field for field
    assert api.seen[1].headers["authorization"] == "Bearer static-token"
    assert cluster.stats.last.requests == 2 and cluster.stats.outcomes == {"created": 1}


def test_unchanged_object_is_not_written(api, cluster):
    desired = manifests.deployment(workload(), environment="staging")
    current = live(desired)
    current["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log"  # a default
    current["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"  # the controller's own
    api.then(Reply(200, current, method="GET"))
    assert cluster._apply(desired) == "unchanged"
    assert api.methods == ["GET"]


def test_changed_object_is_replaced_with_the_read_resource_version_keeping_replicas_and_foreign_labels(api, cluster):
    desired = manifests.deployment(workload(image="registry.local/slipway/pyfunc-server:2.18"), environment="staging")
    current = live(manifests.deployment(workload(), environment="staging"), rv="41")
    current["spec"]["replicas"] = 5  # the HPA scaled it out
    current["metadata"]["labels"]["owner.example.com/team"] = "ml"
    api.then(Reply(200, current, method="GET"), Reply(200, live(desired, rv="42"), method="PUT"))
    assert cluster._apply(desired) == "updated"
    sent = api.seen[1].body
    assert sent["metadata"]["resourceVersion"] == "41"
    assert sent["spec"]["replicas"] == 5
    assert sent["metadata"]["labels"]["owner.example.com/team"] == "ml"
    assert sent["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2.18")


def test_conflict_rereads_and_retries_with_the_new_resource_version(api, cluster, delays):
    desired = manifests.http_route(route(("ctr-ranker-v2", 50), ("ctr-ranker-v3", 50)), environment="staging")
    old = live(manifests.http_route(route(), environment="staging"), rv="10")
    newer = live(manifests.http_route(route(), environment="staging"), rv="11")
    api.then(Reply(200, old, method="GET"),
             Reply(409, status(409, "Conflict", "the object has been modified"), method="PUT"),
             Reply(200, newer, method="GET"),
             Reply(200, live(desired, rv="12"), method="PUT"))
    assert cluster._apply(desired) == "updated"
    assert api.methods == ["GET", "PUT", "GET", "PUT"]
    assert [s.body["metadata"]["resourceVersion"] for s in api.seen if s.method == "PUT"] == ["10", "11"]
    assert api.seen[1].path == "/apis/gateway.networking.k8s.io/v1/namespaces/slipway-recsys/httproutes/ctr-ranker"
    rec = cluster.stats.last
    assert (rec.requests, rec.conflicts, rec.retries) == (4, 1, 0)
    assert len(delays) == 1


def test_create_race_lost_rereads_and_finds_it_done(api, cluster):
    desired = manifests.service(workload(), environment="staging")
    theirs = live(desired)
    theirs["spec"] |= {"clusterIP": "10.0.0.12", "clusterIPs": ["10.0.0.12"], "sessionAffinity": "None"}
    api.then(Reply(404, status(404, "NotFound"), method="GET"),
             Reply(409, status(409, "AlreadyExists", 'services "ctr-ranker-v3" already exists'), method="POST"),
             Reply(200, theirs, method="GET"))
    assert cluster._apply(desired) == "unchanged"


def test_service_replace_keeps_the_allocated_cluster_ip(api, cluster):
    desired = manifests.service(workload(), environment="staging")
    current = live(desired)
    current["spec"] |= {"clusterIP": "10.0.0.12", "clusterIPs": ["10.0.0.12"]}
    current["spec"]["ports"][0]["port"] = 8080
    api.then(Reply(200, current, method="GET"), Reply(200, current, method="PUT"))
    assert cluster._apply(desired) == "updated"
    assert api.seen[1].body["spec"]["clusterIP"] == "10.0.0.12"
    assert api.seen[1].body["spec"]["ports"][0]["port"] == 80


def test_object_deleted_between_read_and_replace_is_created(api, cluster):
    desired = manifests.hpa(workload(), environment="staging")
    stale = live(manifests.hpa(workload(max_replicas=3), environment="staging"))
    api.then(Reply(200, stale, method="GET"), Reply(404, status(404, "NotFound"), method="PUT"),
             Reply(404, status(404, "NotFound"), method="GET"), Reply(201, live(desired), method="POST"))
    assert cluster._apply(desired) == "created"


@pytest.mark.parametrize("code,reason", [(500, "InternalError"), (502, "BadGateway"), (503, "ServiceUnavailable"),
                                         (504, "Timeout")])
def test_server_errors_are_retried_with_exponential_backoff(api, cluster, delays, code, reason):
    desired = manifests.deployment(workload(), environment="staging")
    api.then(Reply(code, status(code, reason), method="GET"), Reply(code, status(code, reason), method="GET"),
             Reply(200, live(desired), method="GET"))
    assert cluster._apply(desired) == "unchanged"
    assert cluster.stats.last.retries == 2 and cluster.stats.last.requests == 3
    # Equal jitter: each delay lies in [step/2, step], steps doubling from backoff_base.
    base = cluster.backoff_base
    assert base / 2 <= delays[0] <= base and base <= delays[1] <= 2 * base


def test_too_many_requests_honours_retry_after(api, cluster, delays):
    desired = manifests.deployment(workload(), environment="staging")
    api.then(Reply(429, status(429, "TooManyRequests", details={"retryAfterSeconds": 3}),
                   headers={"Retry-After": "3"}, method="GET"),
             Reply(200, live(desired), method="GET"))
    assert cluster._apply(desired) == "unchanged"
    assert delays == [3.0]


def test_retry_after_is_capped(api, cluster, delays):
    desired = manifests.deployment(workload(), environment="staging")
    api.then(Reply(429, status(429, "TooManyRequests"), headers={"Retry-After": "3600"}, method="GET"),
             Reply(200, live(desired), method="GET"))
    cluster._apply(desired)
    assert delays == [cluster.retry_after_cap]


def test_retries_stop_at_the_cap_with_a_transient_cluster_error(api, cluster, delays):
    desired = manifests.deployment(workload(), environment="staging")
    api.then(*[Reply(503, status(503, "ServiceUnavailable", "etcd leader changed"), method="GET")] * 5)
    with pytest.raises(ClusterError) as info:
        cluster._apply(desired)
    err = info.value
    assert (err.status, err.reason, err.transient, err.attempts) == (503, "ServiceUnavailable", True, 5)
    assert err.message == "etcd leader changed" and err.name == "ctr-ranker-v3" and err.kind == "Deployment"
    assert len(api.seen) == 5 and len(delays) == 4
    for i, delay in enumerate(delays):
        step = min(cluster.backoff_cap, cluster.backoff_base * 2**i)
        assert step / 2 <= delay <= step
    assert cluster.stats.failures == 1 and cluster.stats.outcomes["failed"] == 1


@pytest.mark.parametrize("code,reason", [(400, "BadRequest"), (403, "Forbidden"), (422, "Invalid"), (501, "NotImplemented")])
def test_non_transient_errors_raise_at_once_with_the_status_details(api, cluster, delays, code, reason):
    desired = manifests.deployment(workload(), environment="staging")
    api.then(not_found(), Reply(code, status(code, reason, f"{reason}: spec.template is wrong"), method="POST"))
    with pytest.raises(ClusterError) as info:
        cluster._apply(desired)
    assert (info.value.status, info.value.reason, info.value.transient) == (code, reason, False)
    assert "spec.template is wrong" in str(info.value)
    assert delays == [] and len(api.seen) == 2


def test_create_into_a_missing_namespace_is_an_error_not_a_retry(api, cluster):
    desired = manifests.deployment(workload(), environment="staging")
    api.then(not_found(), Reply(404, status(404, "NotFound", 'namespaces "slipway-recsys" not found'), method="POST"))
    with pytest.raises(ClusterError) as info:
        cluster._apply(desired)
    assert info.value.status == 404 and "namespaces" in info.value.message


def test_slow_answers_time_out_and_are_retried(api, delays):
    cluster = get_cluster({"kind": "url", "url": api.url}, sleep=delays.append, request_timeout=(1.0, 0.3))
    desired = manifests.deployment(workload())
    api.then(Reply(200, live(desired), delay=1.0, method="GET"), Reply(200, live(desired), method="GET"))
    assert cluster._apply(desired) == "unchanged"
    assert cluster.stats.last.retries == 1


def test_connection_refused_is_transient_and_capped(delays):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cluster = get_cluster({"kind": "url", "url": f"http://127.0.0.1:{port}"}, sleep=delays.append, max_attempts=3)
    with pytest.raises(ClusterError) as info:
        cluster.ping()
    assert (info.value.reason, info.value.transient, info.value.status) == ("ConnectionError", True, None)
    assert len(delays) == 2


def test_unauthorized_refreshes_credentials_once_then_retries(api, delays):
    tokens = iter(["second"])

    def refresh():
        cfg.api_key["BearerToken"] = next(tokens)
        return True

    cluster = get_cluster({"kind": "url", "url": api.url, "token": "first"}, sleep=delays.append)
    cfg = cluster.api_client.configuration
    cluster._refresh_credentials = refresh
    api.then(Reply(401, status(401, "Unauthorized"), method="GET"), Reply(200, {"kind": "APIVersions"}, method="GET"))
    assert cluster.ping() is True
    assert [s.headers["authorization"] for s in api.seen] == ["Bearer first", "Bearer second"]
    assert delays == []  # a refresh is not a backoff


def test_unauthorized_twice_is_an_error(api, delays):
    cluster = get_cluster({"kind": "url", "url": api.url, "token": "first"}, sleep=delays.append)
    calls = []
    cluster._refresh_credentials = lambda: calls.append(1) or True
    api.then(*[Reply(401, status(401, "Unauthorized"), method="GET")] * 2)
    with pytest.raises(ClusterError) as info:
        cluster.ping()
    assert info.value.status == 401 and calls == [1]


def test_unauthorized_without_refreshable_credentials_is_an_error(api, cluster):
    api.then(Reply(401, status(401, "Unauthorized"), method="GET"))
    with pytest.raises(ClusterError) as info:
        cluster.ping()
    assert info.value.status == 401 and len(api.seen) == 1


def test_workload_status_reads_the_deployment(api, cluster):
    obj = live(manifests.deployment(workload(replicas=3)), updatedReplicas=3, readyReplicas=2, availableReplicas=2,
               observedGeneration=1)
    api.then(Reply(200, obj, method="GET"), not_found("gone"))
    got = cluster.workload_status("slipway-recsys", "ctr-ranker-v3")
    assert (got.exists, got.desired, got.updated, got.ready, got.available, got.observed_generation_current) == (
        True, 3, 3, 2, 2, True)
    assert not got.rolled_out
    missing = cluster.workload_status("slipway-recsys", "gone")
    assert not missing.exists and missing.desired == 0


def test_scale_uses_the_scale_subresource(api, cluster):
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale",
             "metadata": {"name": "ctr-ranker-v3", "namespace": "slipway-recsys", "resourceVersion": "9"},
             "spec": {"replicas": 2}, "status": {"replicas": 2}}
    api.then(Reply(200, scale, method="GET"), Reply(200, scale | {"spec": {"replicas": 0}}, method="PUT"),
             Reply(404, status(404, "NotFound"), method="GET"), Reply(404, status(404, "NotFound"), method="GET"))
    assert cluster.scale_workload("slipway-recsys", "ctr-ranker-v3", 0) == "updated"
    assert api.seen[1].path == f"{DEPLOY_PATH}/ctr-ranker-v3/scale"
    assert api.seen[1].body["spec"] == {"replicas": 0} and api.seen[1].body["metadata"]["resourceVersion"] == "9"
    assert cluster.scale_workload("slipway-recsys", "gone", 0) == "absent"
    with pytest.raises(ClusterError) as info:
        cluster.scale_workload("slipway-recsys", "gone", 2)
    assert info.value.status == 404


def test_delete_workload_is_idempotent(api, cluster):
    api.then(Reply(200, status(200, "Success") | {"status": "Success"}, method="DELETE"),
             Reply(404, status(404, "NotFound"), method="DELETE"),
             Reply(200, {"kind": "Deployment"}, method="DELETE"))
    assert cluster.delete_workload("slipway-recsys", "ctr-ranker-v3") is True
    assert [s.path.split("/")[-2] for s in api.seen] == ["horizontalpodautoscalers", "services", "deployments"]
    api.then(*[Reply(404, status(404, "NotFound"), method="DELETE")] * 3)
    assert cluster.delete_workload("slipway-recsys", "ctr-ranker-v3") is False
