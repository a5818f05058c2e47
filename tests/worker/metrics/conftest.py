"""A real Prometheus (Debian's package) scraping the dev cluster served in-process.

Module-scoped: starting Prometheus and waiting for enough scrapes costs ~15 s, paid once per
test module. The dev cluster runs its real-time ticker (`traffic="auto"`): Prometheus sees
time pass as a real scrape target would.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

# The engine's harness (dev cluster in-process, injectable clock) and the deployment fixtures, for the
# tests of how the engine reads metrics windows; reconcile_spy is autouse there and here.
from tests.deployments.conftest import reconcile_spy, staging  # noqa: F401
from tests.worker.engine.conftest import devcluster, harness  # noqa: F401
from worker.cluster import RouteSpec, TenantSpec, WorkloadSpec, get_cluster

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
NAMESPACE = "prom-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it answers something truthy; fail (not hang) after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the service may not be up yet
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_error!r})")


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen
    log: Path

    def instant(self, promql: str) -> list:
        body = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def scrapes(self, seconds: int = 120) -> int:
        result = self.instant(f'count_over_time(up{{job="devcluster"}}[{seconds}s])')
        return int(float(result[0]["value"][1])) if result else 0


def start_prometheus(folder: Path, target: str, *, scrape_seconds: int = 1) -> Prometheus:
    assert Path(PROMETHEUS).exists(), f"prometheus not found at {PROMETHEUS} (Debian package 'prometheus')"
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_seconds}s\n"
        f"  evaluation_interval: {scrape_seconds}s\n"
        "scrape_configs:\n"
        "  - job_name: devcluster\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    port = free_port()
    log = folder / "prometheus.log"
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    prom = Prometheus(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        wait_for(lambda: process.poll() is None and requests.get(f"{prom.url}/-/ready", timeout=1).ok,
                 timeout=20, what="Prometheus /-/ready")
    except AssertionError:
        stop_prometheus(prom)
        raise AssertionError(f"Prometheus did not become ready:\n{log.read_text()[-2000:]}") from None
    return prom


def stop_prometheus(prom: Prometheus) -> None:
    prom.process.terminate()
    try:
        prom.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        prom.process.kill()
        prom.process.wait(timeout=5)


def workload_spec(model: str, version: int, namespace: str = NAMESPACE, tenant: str = "prom") -> WorkloadSpec:
    return WorkloadSpec(tenant=tenant, namespace=namespace, model=model, version=version, deployment_id=version,
                        name=f"{model}-v{version}", image="registry.local/serve:1", model_uri=f"models:/{model}/{version}",
                        replicas=1, min_replicas=1, max_replicas=2, gpus_per_replica=1, instance_type="g5.xlarge",
                        gpu_node=True, spot_percent=0, cpu="3", memory="12Gi")


# Per model: (stable behaviour, canary behaviour, canary weight). `rps` is each workload's full
# rate; it receives rps × its route share. High rates keep the 1 % tail of the latency histogram
# well populated over a 10 s window, so the p99 estimate is not bucket noise.
SCENARIOS = {
    "ctr": ({"error_rate": 0.001, "p99_ms": 80, "rps": 500}, {"error_rate": 0.1, "p99_ms": 400, "rps": 500}, 20),
    "rank": ({"error_rate": 0.001, "p99_ms": 80, "rps": 500}, {"error_rate": 0.002, "p99_ms": 90, "rps": 500}, 50),
    "search": ({"error_rate": 0.0, "p99_ms": 80, "rps": 500}, {"error_rate": 0.0, "p99_ms": 400, "rps": 500}, 50),
}
IDLE = "idle"  # one version that serves at first, then gets no traffic at all (rps 0)
WARM_SCRAPES = 13  # ≥ the longest window the tests use (10 s) plus slack, at 1 scrape/s


@dataclass
class Stack:
    dc: object
    prom: Prometheus
    cluster: object

    def behave(self, namespace: str, workload: str, **behaviour) -> None:
        requests.put(f"{self.dc.url}/_sim/workloads/{namespace}/{workload}", json=behaviour,
                     timeout=5).raise_for_status()

    def truth(self, workload: str, seconds: int, namespace: str = NAMESPACE) -> dict:
        """The dev cluster's own exact figures over the last `seconds` simulated (= real) seconds."""
        return requests.get(f"{self.dc.url}/_sim/stats", timeout=5,
                            params={"namespace": namespace, "workload": workload, "window": seconds}).json()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Dev cluster (real-time traffic) with three canaries behind HTTPRoute splits, and Prometheus
    scraping it every second, warmed until every test's window is covered by scrapes."""
    from devcluster.server import DevCluster

    dc = DevCluster(port=0, ready_delay_seconds=0, traffic="auto").start()
    prom = None
    try:
        cluster = get_cluster({"kind": "url", "url": dc.url}, environment="staging", sleep=lambda _s: None)
        cluster.ensure_tenant(TenantSpec(slug="prom", namespace=NAMESPACE, gpu_quota=16))
        stack = Stack(dc=dc, prom=None, cluster=cluster)  # type: ignore[arg-type]
        for model, (stable, canary, weight) in SCENARIOS.items():
            for version, behaviour in ((1, stable), (2, canary)):
                stack.behave(NAMESPACE, f"{model}-v{version}", **behaviour)
                cluster.apply_workload(workload_spec(model, version))
            cluster.set_route(RouteSpec(namespace=NAMESPACE, tenant="prom", model=model,
                                        backends=((f"{model}-v1", 100 - weight), (f"{model}-v2", weight))))
        stack.behave(NAMESPACE, f"{IDLE}-v1", rps=500)
        cluster.apply_workload(workload_spec(IDLE, 1))
        cluster.set_route(RouteSpec(namespace=NAMESPACE, tenant="prom", model=IDLE, backends=((f"{IDLE}-v1", 100),)))

        folder = tmp_path_factory.mktemp("prometheus")
        prom = stack.prom = start_prometheus(folder, dc.url.split("://", 1)[1])
        # The idle version has served (its series exist in Prometheus); now it stops receiving traffic.
        wait_for(lambda: prom.instant(f'devcluster_requests_total{{workload="{IDLE}-v1"}}'), timeout=20,
                 what="a first scrape of the idle workload")
        wait_for(lambda: prom.scrapes() >= 3, timeout=20, what="3 scrapes")
        stack.behave(NAMESPACE, f"{IDLE}-v1", rps=0)
        wait_for(lambda: prom.scrapes() >= WARM_SCRAPES, timeout=45, interval=0.5,
                 what=f"{WARM_SCRAPES} scrapes of the dev cluster")
        yield stack
    finally:
        if prom is not None:
            stop_prometheus(prom)
        dc.stop()
