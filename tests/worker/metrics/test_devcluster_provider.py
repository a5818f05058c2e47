"""DevClusterProvider: the dev cluster's `/_sim/stats`, the embedded default provider.

With `traffic="manual"` the dev cluster only simulates traffic on `advance`, and its counts
are exact, so the figures are compared for equality.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from apps.deployments.choices import Verdict
from apps.deployments.models import Environment
from tests.worker.metrics.conftest import free_port, workload_spec
from worker.cluster import RouteSpec, TenantSpec, get_cluster
from worker.engine.plan import Gates, analyse
from worker.metrics import MetricsUnavailable, get_provider
from worker.metrics.devcluster import DevClusterProvider

NS = "dc-test"


@pytest.fixture
def dc():
    from devcluster.server import DevCluster

    cluster_server = DevCluster(port=0, ready_delay_seconds=0, traffic="manual").start()
    cluster = get_cluster({"kind": "url", "url": cluster_server.url}, environment="staging", sleep=lambda _s: None)
    cluster.ensure_tenant(TenantSpec(slug="prom", namespace=NS, gpu_quota=8))
    for version, behaviour in ((1, {"error_rate": 0.001, "p99_ms": 80, "rps": 100}),
                               (2, {"error_rate": 0.1, "p99_ms": 400, "rps": 100})):
        requests.put(f"{cluster_server.url}/_sim/workloads/{NS}/ctr-v{version}", json=behaviour,
                     timeout=5).raise_for_status()
        cluster.apply_workload(workload_spec("ctr", version, namespace=NS))
    cluster.set_route(RouteSpec(namespace=NS, tenant="prom", model="ctr", backends=(("ctr-v1", 80), ("ctr-v2", 20))))
    yield cluster_server
    cluster_server.stop()


def test_window_reports_the_exact_simulated_figures(dc):
    dc.advance(60)
    provider = DevClusterProvider(dc.url)
    canary = provider.window(namespace=NS, workload="ctr-v2", seconds=30)
    stable = provider.window(namespace=NS, workload="ctr-v1", seconds=30)
    assert (canary.requests, canary.errors) == (600, 60)  # 100 rps × 20 % × 30 s, every 10th a 500
    assert canary.error_rate == pytest.approx(0.1)
    assert canary.p99_ms == pytest.approx(400)
    assert stable.requests == 2400 and stable.p99_ms == pytest.approx(80)
    assert stable.errors == 2  # 0.1 % of 2400, carried exactly between ticks
    decision = analyse(canary, stable, Gates(sla_p99_ms=1000))
    assert (decision.verdict, decision.gate) == (Verdict.ROLLBACK, "error_rate")


def test_the_window_is_clamped_to_at_least_one_second(dc):
    dc.advance(5)
    stats = DevClusterProvider(dc.url).window(namespace=NS, workload="ctr-v1", seconds=0)
    assert stats.requests == 80  # the last simulated second: 100 rps × 80 %


def test_no_traffic_is_no_data_never_zero(dc):
    """A workload without requests: 0 requests, no error rate, no p99 — inconclusive, never advance."""
    dc.advance(10)
    stats = DevClusterProvider(dc.url).window(namespace=NS, workload="ghost-v1", seconds=10)
    assert stats.requests == 0 and stats.error_rate is None and stats.p99_ms is None
    assert analyse(stats, None, Gates(sla_p99_ms=200)).verdict == Verdict.INCONCLUSIVE


def test_get_provider_builds_the_devcluster_provider_from_the_environment(db, dc):
    env = Environment(metrics_provider="devcluster", cluster={"kind": "url", "url": dc.url + "/"})
    provider = get_provider(env)
    assert isinstance(provider, DevClusterProvider) and provider.url == dc.url
    explicit = get_provider(Environment(metrics_provider="devcluster", metrics_config={
        "url": dc.url, "timeout_seconds": 0.5}, cluster={"kind": "url", "url": "http://127.0.0.1:1"}))
    assert explicit.url == dc.url and explicit.timeout == 0.5
    dc.advance(10)
    assert explicit.window(namespace=NS, workload="ctr-v2", seconds=10).requests == 200


def test_dev_cluster_down_raises_metrics_unavailable_quickly():
    started = time.monotonic()
    with pytest.raises(MetricsUnavailable, match="ConnectionError"):
        DevClusterProvider(f"http://127.0.0.1:{free_port()}").window(namespace=NS, workload="ctr-v2", seconds=10)
    assert time.monotonic() - started < 1.0


def test_dev_cluster_that_never_answers_times_out():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        started = time.monotonic()
        with pytest.raises(MetricsUnavailable, match="Timeout"):
            DevClusterProvider(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.3).window(
                namespace=NS, workload="ctr-v2", seconds=10)
        assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(("status", "body"), [
    (500, b'{"error": "boom"}'),
    (200, b"<html>not json</html>"),
    (200, b'["a", "list"]'),
])
def test_an_error_or_garbage_answer_raises_metrics_unavailable(status, body):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)

        def answer():
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
                             "\r\nConnection: close\r\n\r\n".encode() + body)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(MetricsUnavailable, match="dev cluster stats"):
            DevClusterProvider(f"http://127.0.0.1:{server.getsockname()[1]}").window(
                namespace=NS, workload="ctr-v2", seconds=10)
        thread.join(timeout=2)
