"""Injected API faults (errors, latency, conflicts) and bearer-token auth, through the official client."""

from __future__ import annotations

import time

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from tests.devcluster.conftest import deployment, sim


def test_error_rate_is_roughly_as_set_with_a_seed(dc, core, ns):
    assert sim(dc, "PUT", "/_sim/faults", {"api_error_rate": 0.3, "seed": 1})[0] == 200
    codes = []
    for _ in range(200):
        try:
            core.read_namespace(ns)
            codes.append(200)
        except ApiException as exc:
            codes.append(exc.status)
            assert '"kind": "Status"' in exc.body
            assert exc.reason in ("Internal Server Error", "Service Unavailable")
    failures = [c for c in codes if c != 200]
    assert set(failures) == {500, 503}
    assert 40 <= len(failures) <= 80  # 30 % of 200, give or take
    # /_sim and /metrics are never faulted
    assert all(sim(dc, "GET", "/metrics")[0] == 200 for _ in range(20))
    faults = sim(dc, "GET", "/_sim/faults")[1]
    assert faults["api_error_rate"] == 0.3 and faults["injected"]["errors"] == len(failures)

    # The same seed gives the same sequence.
    sim(dc, "PUT", "/_sim/faults", {"api_error_rate": 0.3, "seed": 1})
    again = []
    for _ in range(200):
        try:
            core.read_namespace(ns)
            again.append(200)
        except ApiException as exc:
            again.append(exc.status)
    assert [c == 200 for c in again] == [c == 200 for c in codes]


def test_latency_is_added(dc, core, ns):
    sim(dc, "PUT", "/_sim/faults", {"api_latency_ms": 200})
    started = time.monotonic()
    core.read_namespace(ns)
    assert time.monotonic() - started >= 0.2
    sim(dc, "PUT", "/_sim/faults", {})
    started = time.monotonic()
    core.read_namespace(ns)
    assert time.monotonic() - started < 0.2


def test_conflicts_hit_updates_only(dc, apps, ns):
    apps.create_namespaced_deployment(ns, deployment("ranker-v1"))
    sim(dc, "PUT", "/_sim/faults", {"conflict_rate": 0.5, "seed": 7})
    conflicts = 0
    for i in range(40):
        try:
            apps.patch_namespaced_deployment("ranker-v1", ns, {"metadata": {"annotations": {"i": str(i)}}})
        except ApiException as exc:
            assert exc.status == 409 and '"reason": "Conflict"' in exc.body
            conflicts += 1
        apps.read_namespaced_deployment("ranker-v1", ns)  # reads never conflict
    assert 10 <= conflicts <= 30
    # Creates are not updates: they never see an injected conflict.
    for i in range(10):
        apps.create_namespaced_deployment(ns, deployment(f"other-{i}"))


def test_a_retry_loop_converges_under_faults(dc, apps, ns):
    """Read-modify-write retried on 409/5xx reaches the desired state despite 30 % errors and conflicts."""
    apps.create_namespaced_deployment(ns, deployment("ranker-v1", replicas=1))
    sim(dc, "PUT", "/_sim/faults", {"api_error_rate": 0.3, "conflict_rate": 0.3, "seed": 3})
    for replicas in range(2, 12):
        for _attempt in range(50):
            try:
                dep = apps.read_namespaced_deployment("ranker-v1", ns)
                dep.spec.replicas = replicas
                apps.replace_namespaced_deployment("ranker-v1", ns, dep)
                break
            except ApiException as exc:
                assert exc.status in (409, 500, 503)
        else:
            pytest.fail("never converged")
    sim(dc, "PUT", "/_sim/faults", {})
    assert apps.read_namespaced_deployment("ranker-v1", ns).spec.replicas == 11


def test_auth_tokens(dc, ns):
    assert sim(dc, "PUT", "/_sim/auth", {"tokens": ["t1"]})[1] == {"required": True, "tokens": 1}

    def core_with(token: str | None) -> client.CoreV1Api:
        config = client.Configuration(host=dc.url)
        if token:
            config.api_key = {"BearerToken": token}
            config.api_key_prefix = {"BearerToken": "Bearer"}
        return client.CoreV1Api(client.ApiClient(config))

    for token in (None, "stale"):
        with pytest.raises(ApiException) as exc:
            core_with(token).read_namespace(ns)
        assert exc.value.status == 401 and '"reason": "Unauthorized"' in exc.value.body
    assert core_with("t1").read_namespace(ns).metadata.name == ns
    assert sim(dc, "GET", "/metrics")[0] == 200  # admin and metrics stay open

    # Rotating tokens: the old one stops working, the refreshed one works.
    sim(dc, "PUT", "/_sim/auth", {"tokens": ["t2"]})
    with pytest.raises(ApiException) as exc:
        core_with("t1").read_namespace(ns)
    assert exc.value.status == 401
    assert core_with("t2").read_namespace(ns).metadata.name == ns
    sim(dc, "PUT", "/_sim/auth", {"tokens": []})
    assert core_with(None).read_namespace(ns).metadata.name == ns


def test_reset_clears_faults_and_auth(dc, core, ns):
    sim(dc, "PUT", "/_sim/faults", {"api_error_rate": 1})
    sim(dc, "PUT", "/_sim/auth", {"tokens": ["t1"]})
    sim(dc, "POST", "/_sim/reset")
    assert core.list_namespace().items[0].metadata.name == "default"
    with pytest.raises(ApiException) as exc:
        core.read_namespace(ns)
    assert exc.value.status == 404
