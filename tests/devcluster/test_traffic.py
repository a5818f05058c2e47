"""Traffic through HTTPRoute weights, per-workload behaviour, /_sim/stats and /metrics."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.devcluster.conftest import GATEWAY, canary, deployment, sim


def _metrics(dc) -> dict[str, list]:
    status, text = sim(dc, "GET", "/metrics")
    assert status == 200
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def _requests_by(dc, **labels) -> dict[str, float]:
    """Request counts by code for the series matching ``labels``."""
    out: dict[str, float] = {}
    for sample in _metrics(dc)["devcluster_requests"]:
        if sample.name == "devcluster_requests_total" and all(sample.labels.get(k) == v for k, v in labels.items()):
            out[sample.labels["code"]] = out.get(sample.labels["code"], 0) + sample.value
    return out


def _histogram_p99(dc, workload: str) -> float:
    """PromQL's histogram_quantile(0.99, ...) over the exported buckets, in ms."""
    buckets = sorted(
        (float(s.labels["le"]), s.value)
        for s in _metrics(dc)["devcluster_request_duration_seconds"]
        if s.name.endswith("_bucket") and s.labels["workload"] == workload
    )
    total = buckets[-1][1]
    rank = 0.99 * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            return 1000 * (prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count))
        prev_bound, prev_count = bound, count
    raise AssertionError("no bucket reached the rank")


def test_weights_split_traffic_exactly(dc, apps, core, custom, ns):
    canary(apps, core, custom, ns, {"ranker-v1": 90, "ranker-v2": 10})
    for name in ("ranker-v1", "ranker-v2"):
        sim(dc, "PUT", f"/_sim/workloads/{ns}/{name}", {"error_rate": 0})
    dc.advance(100)
    v1 = sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v1&window=100")[1]
    v2 = sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v2&window=100")[1]
    assert (v1["requests"], v2["requests"]) == (1800, 200)  # rps 20 x 100 s, 90:10
    assert _requests_by(dc, workload="ranker-v1") == {"200": 1800}
    assert _requests_by(dc, workload="ranker-v2", model="ranker", version="2") == {"200": 200}

    # Shift to 50/50 through the route: the next 10 s split evenly.
    route = custom.get_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker")
    for ref in route["spec"]["rules"][0]["backendRefs"]:
        ref["weight"] = 50
    custom.replace_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker", route)
    dc.advance(10)
    assert sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v1&window=10")[1]["requests"] == 100
    assert sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v2&window=10")[1]["requests"] == 100


def test_workload_behaviour_shows_in_stats_and_metrics(dc, apps, core, custom, ns):
    canary(apps, core, custom, ns, {"ranker-v1": 50, "ranker-v2": 50})
    status, body = sim(dc, "PUT", f"/_sim/workloads/{ns}/ranker-v2", {"error_rate": 0.2, "p99_ms": 900, "rps": 50})
    assert status == 200 and body == {"namespace": ns, "name": "ranker-v2", "error_rate": 0.2, "p99_ms": 900.0, "rps": 50.0, "capacity_rps": 40.0}
    assert sim(dc, "GET", f"/_sim/workloads/{ns}/ranker-v1")[1]["p99_ms"] == 80.0  # defaults
    dc.advance(60)

    canary_stats = sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v2&window=60")[1]
    assert canary_stats["requests"] == 1500 and canary_stats["errors"] == 300
    assert canary_stats["error_rate"] == pytest.approx(0.2)
    assert canary_stats["p99_ms"] == pytest.approx(900)
    assert 0 < canary_stats["gpu_utilization"] <= 1
    stable = sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v1&window=60")[1]
    assert stable["requests"] == 600 and stable["errors"] == 0  # 0.001 x 600 is still below one whole error
    assert stable["p99_ms"] == pytest.approx(80)

    assert _requests_by(dc, workload="ranker-v2") == {"200": 1200, "500": 300}
    # histogram_quantile over the exported buckets lands within a bucket of the configured p99
    assert _histogram_p99(dc, "ranker-v2") == pytest.approx(900, rel=0.12)
    assert _histogram_p99(dc, "ranker-v1") == pytest.approx(80, rel=0.12)
    families = _metrics(dc)
    gpu = {s.labels["workload"]: s.value for s in families["devcluster_gpu_utilization"]}
    assert gpu["ranker-v2"] > gpu["ranker-v1"] > 0
    assert {s.labels["workload"]: s.value for s in families["devcluster_ready_replicas"]} == {"ranker-v1": 2, "ranker-v2": 2}

    # Over a window that mixes two behaviours, p99 lies between them.
    sim(dc, "PUT", f"/_sim/workloads/{ns}/ranker-v2", {"p99_ms": 100, "error_rate": 0})
    dc.advance(60)
    mixed = sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v2&window=120")[1]
    assert 100 < mixed["p99_ms"] < 900 and mixed["requests"] == 3000 and mixed["errors"] == 300
    assert sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v2&window=60")[1]["error_rate"] == 0


def test_backend_without_ready_pods_answers_503(dc, apps, core, custom, ns):
    sim(dc, "PUT", "/_sim/config", {"ready_delay_seconds": 30})
    canary(apps, core, custom, ns, {"ranker-v1": 100})
    dc.advance(10)
    stats = sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=ranker-v1&window=10")[1]
    assert stats["requests"] == 200 and stats["error_rate"] == 1.0 and stats["gpu_utilization"] == 0
    assert _requests_by(dc, workload="ranker-v1") == {"503": 200}
    dc.advance(30)  # pods ready at 30 s: from then on 200s
    assert _requests_by(dc, workload="ranker-v1")["200"] > 0


def test_no_traffic_means_null_figures(dc, apps, ns):
    apps.create_namespaced_deployment(ns, deployment("lonely"))
    dc.advance(5)
    stats = sim(dc, "GET", f"/_sim/stats?namespace={ns}&workload=lonely&window=60")[1]
    assert stats["requests"] == 0 and stats["error_rate"] is None and stats["p99_ms"] is None


def test_admin_api_refuses_bad_input(dc):
    assert sim(dc, "PUT", "/_sim/workloads/a/b", {"error_rate": 2})[0] == 400
    assert "error_rate" in sim(dc, "PUT", "/_sim/workloads/a/b", {"error_rate": 2})[1]["error"]
    assert sim(dc, "PUT", "/_sim/workloads/a/b", {"rpm": 2})[0] == 400
    assert sim(dc, "PUT", "/_sim/faults", {"api_error_rate": "lots"})[0] == 400
    assert sim(dc, "POST", "/_sim/advance", {"seconds": -1})[0] == 400
    assert sim(dc, "GET", "/_sim/stats?namespace=a")[0] == 400
    assert sim(dc, "GET", "/_sim/stats?namespace=a&workload=b&window=x")[0] == 400
    assert sim(dc, "PUT", "/_sim/config", {"ready_delay_seconds": -1})[0] == 400
    assert sim(dc, "PUT", "/_sim/auth", {"tokens": "t1"})[0] == 400
    assert sim(dc, "GET", "/_sim/nothing")[0] == 404


def test_advance_over_http_and_state_dump(dc, apps, core, custom, ns):
    canary(apps, core, custom, ns, {"ranker-v1": 100})
    before = sim(dc, "GET", "/_sim/clock")[1]
    status, body = sim(dc, "POST", "/_sim/advance", {"seconds": 30})
    assert status == 200 and body["ticks"] == 30 and body["now"] >= before["now"] + 30
    state = sim(dc, "GET", "/_sim/state")[1]
    assert [d["metadata"]["name"] for d in state["objects"]["deployments.apps"]] == ["ranker-v1"]
    assert len(state["objects"]["pods"]) == 2
    assert state["counters"][f"{ns}/ranker-v1/ranker/1"]["count"] == 600
    assert sim(dc, "POST", "/_sim/reset")[0] == 200
    state = sim(dc, "GET", "/_sim/state")[1]
    assert state["objects"]["deployments.apps"] == [] and state["counters"] == {}
    assert [n["metadata"]["name"] for n in state["objects"]["namespaces"]] == ["default", "kube-system"]


def test_history_is_bounded_by_the_retention():
    from kubernetes import client

    from devcluster.server import DevCluster
    from tests.devcluster.conftest import NS

    with DevCluster(port=0, ready_delay_seconds=0, traffic="manual", stats_retention_seconds=50) as small:
        api = client.ApiClient(client.Configuration(host=small.url))
        core, apps, custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
        core.create_namespace({"metadata": {"name": NS}})
        canary(apps, core, custom, NS, {"ranker-v1": 100})
        small.advance(120)
        assert len(small.sim.rings[(NS, "ranker-v1")].second) == 50
        stats = sim(small, "GET", f"/_sim/stats?namespace={NS}&workload=ranker-v1&window=100")[1]
        assert stats["window"] == 50 and stats["seconds"] == 50 and stats["requests"] == 1000
        api.close()


def test_metrics_pass_promtool(dc, apps, core, custom, ns):
    """Debian's promtool (shipped with the prometheus package the metrics tests use) accepts the exposition."""
    canary(apps, core, custom, ns, {"ranker-v1": 90, "ranker-v2": 10})
    sim(dc, "PUT", f"/_sim/workloads/{ns}/ranker-v2", {"error_rate": 0.5})
    dc.advance(20)
    text = sim(dc, "GET", "/metrics")[1]
    result = subprocess.run(["/usr/bin/promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
