"""The fault suite's fixtures: a dev cluster process, a fleet of models, real worker/beat children.

Everything is real: the dev cluster runs as its own process (`python -m devcluster`, real-time
traffic) on a free port, the Environment rows point at it, and `celery -A portal worker` /
`beat` children (tests/e2e/conftest.py's `Processes`) share the test database and a broker
— Redis when REDIS_URL is set, else the embedded filesystem broker. The children tick every
second (SLIPWAY_TICK_SECONDS=1) with short leases, soaks and guard windows, so a suite of
crashes and faults fits in a few minutes.

`Observer` samples the database and the dev cluster while a scenario runs: each rollout's
step index, status and generation, and every HTTPRoute's weights (through /_sim/state, which
no fault or auth applies to). Scenarios assert on what it saw and print its figures.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from django.db import close_old_connections

from apps.deployments import services
from apps.deployments.choices import DeploymentStatus
from apps.deployments.models import Deployment, Environment, Rollout, RolloutEvent
from tests import factories
from tests.deployments.conftest import make_version
from tests.e2e.conftest import ROOT, SCRUBBED, Broker, Processes, database_env, pointed_at
from worker.cluster.manifests import route_weights  # imported up front: the kubernetes client takes ~2 s

S = DeploymentStatus
TICK_SECONDS = 1
# A killed worker's lease blocks its rollout until it expires; 60 s in production (6 ticks of 10 s).
LEASE_SECONDS = 5
# CPU instances: no GPU quota arithmetic gets in the way of 20 concurrent canaries.
CONFIG = {"instance_type": "c6i.xlarge", "gpus_per_replica": 0, "min_replicas": 1, "max_replicas": 1,
          "soak_seconds": 2, "steps": [20, 50, 100]}
RPS = 100  # per workload: enough requests for the gates within one 10-s window at 20 %
TERMINAL = {S.LIVE, S.ROLLED_BACK, S.FAILED, S.EXPIRED, S.REJECTED, S.SUPERSEDED}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the dev cluster as a process -----------------------------------------------------------

@dataclass
class DevClusterProcess:
    url: str
    proc: subprocess.Popen
    log: Path

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = requests.request(method, f"{self.url}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def behave(self, namespace: str, workload: str, **behaviour) -> dict:
        return self._call("PUT", f"/_sim/workloads/{namespace}/{workload}", behaviour)

    def faults(self, **faults) -> dict:
        return self._call("PUT", "/_sim/faults", faults)

    def injected(self) -> dict:
        return self._call("GET", "/_sim/faults")

    def auth(self, tokens: list[str]) -> dict:
        return self._call("PUT", "/_sim/auth", {"tokens": tokens})

    def state(self) -> dict:
        return self._call("GET", "/_sim/state")

    def routes(self, state: dict | None = None) -> dict[str, dict[str, int]]:
        """`namespace/route` → {backend: weight} of every HTTPRoute."""
        state = state if state is not None else self.state()
        return {f"{r['metadata']['namespace']}/{r['metadata']['name']}": route_weights(r)
                for r in state["objects"]["httproutes.gateway.networking.k8s.io"]}

    def replicas(self, state: dict | None = None) -> dict[str, int]:
        """`namespace/deployment` → spec.replicas."""
        state = state if state is not None else self.state()
        return {f"{d['metadata']['namespace']}/{d['metadata']['name']}": int(d["spec"].get("replicas", 1))
                for d in state["objects"]["deployments.apps"]}


@contextlib.contextmanager
def running_devcluster(folder: Path, *, log_level: str = "WARNING") -> Iterator[DevClusterProcess]:
    """`python -m devcluster` on a free port, real-time traffic, pods ready after 0.2 s."""
    port = free_port()
    log = folder / "devcluster.log"
    proc = subprocess.Popen([sys.executable, "-m", "devcluster", "--host", "127.0.0.1", "--port", str(port),
                             "--ready-delay", "0.2", "--log-level", log_level], cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the dev cluster did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    try:
        yield DevClusterProcess(url, proc, log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture
def devcluster_proc(tmp_path) -> Iterator[DevClusterProcess]:
    with running_devcluster(tmp_path) as dc:
        yield dc


def point_environments(url: str, **cluster_options) -> None:
    """Both environments at the dev cluster process, with gates and windows sized for seconds."""
    Environment.objects.update(
        cluster={"kind": "url", "url": url, **cluster_options}, smoke_seconds=1, guard_window_seconds=2,
        min_soak_seconds=1, min_requests=20, rollback_min_requests=10)


# --- a fleet of models with a stable and a canary version --------------------------------------

@dataclass
class Fleet:
    """N models of one team, each with v1 (to go live first) and v2 (the canary)."""

    tenant: object
    actor: object
    dc: DevClusterProcess
    models: list = field(default_factory=list)
    v1: list = field(default_factory=list)
    v2: list = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return Environment.objects.get(name="staging").namespace_for(self.tenant.slug)

    def add(self, count: int, prefix: str) -> None:
        for i in range(count):
            model = factories.model(self.tenant, f"{prefix}-{i:02d}")
            self.models.append(model)
            self.v1.append(make_version(model, 1))
            self.v2.append(make_version(model, 2))
            for version in (1, 2):
                self.dc.behave(self.namespace, f"{model.name}-v{version}", rps=RPS, error_rate=0.001, p99_ms=80)

    def deploy(self, versions, **config) -> list[Deployment]:
        return [services.request_deployment(v, environment="staging", config={**CONFIG, **config}, actor=self.actor)
                for v in versions]


@pytest.fixture
def fleet(recsys, ada, devcluster_proc) -> Fleet:
    point_environments(devcluster_proc.url)
    return Fleet(recsys, ada, devcluster_proc)


# --- broker and children ---------------------------------------------------------------------

def filesystem_broker(tmp_path: Path) -> Broker:
    folder = tmp_path / "var" / "broker"
    for sub in ("out", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    options = {"data_folder_in": str(folder / "out"), "data_folder_out": str(folder / "out"),
               "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
               "store_processed": False}
    return Broker("filesystem", "filesystem://", options)


def redis_broker(url: str) -> Broker:
    import redis

    redis.Redis.from_url(url).flushdb()  # no stale messages from an earlier run
    return Broker("redis", url, {"visibility_timeout": 3600}, {"REDIS_URL": url})


@pytest.fixture
def broker(tmp_path) -> Iterator[Broker]:
    """One broker per run (the suite's time budget has no room for both): Redis if configured."""
    url = os.environ.get("REDIS_URL")
    found = redis_broker(url) if url else filesystem_broker(tmp_path)
    with pointed_at(found):
        yield found


def child_env(broker: Broker, mlflow, tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED}
    env.update(broker.env)
    env.update(database_env())
    env.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SLIPWAY_VAR_DIR": str(tmp_path / "var"),
        "MLFLOW_TRACKING_URI": mlflow.uri,
        "MLFLOW_REGISTRY_URI": mlflow.uri,
        "MLFLOW_ARTIFACT_ROOT": str(mlflow.artifacts),
        "SLIPWAY_TICK_SECONDS": str(TICK_SECONDS),
        "SLIPWAY_LEASE_SECONDS": str(LEASE_SECONDS),
        "SLIPWAY_SYNC_INTERVAL_SECONDS": "3600",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@dataclass
class Children(Processes):
    """`Processes` plus SIGKILL/restart of one child and pids for lease owners."""

    alive_expected: list = field(default_factory=list)  # children that must not exit on their own

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if proc in self.alive_expected:
            self.alive_expected.remove(proc)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        proc.wait(timeout=15)

    def lease_owner(self, proc: subprocess.Popen) -> str:
        # The solo pool runs tasks in the worker's main process: the engine's owner is host:pid.
        return f"{socket.gethostname()}:{proc.pid}"

    def worker(self) -> subprocess.Popen:
        proc = super().worker()
        self.alive_expected.append(proc)
        return proc

    def is_ready(self, proc: subprocess.Popen) -> bool:
        """Whether the worker has logged that it consumes (celery's "... ready." line)."""
        log = next(path for p, path in self.running if p is proc)
        return b" ready." in log.read_bytes()

    def wait_ready(self, proc: subprocess.Popen, timeout: float = 60) -> float:
        """Block until the worker is ready; returns the seconds waited (call it right after spawning)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.is_ready(proc):
                return time.monotonic() - started
            self.check_alive(proc)
            time.sleep(0.05)
        pytest.fail(f"the worker was not ready after {timeout:g} s\n{self.output()}")

    def beat(self) -> subprocess.Popen:
        proc = super().beat()
        self.alive_expected.append(proc)
        return proc

    def check_alive(self, *procs: subprocess.Popen) -> None:
        for proc in procs:
            if proc.poll() is not None:
                log = next(path for p, path in self.running if p is proc)
                pytest.fail(f"{log.stem} (pid {proc.pid}) exited on its own with {proc.returncode}\n{self.output()}")


@pytest.fixture
def children(broker, mlflow, tmp_path) -> Iterator[Children]:
    processes = Children(env=child_env(broker, mlflow, tmp_path), logs=tmp_path)
    try:
        yield processes
    finally:
        processes.stop()


# --- observing a scenario --------------------------------------------------------------------

@dataclass
class Observer:
    """Samples rollouts (DB) and routes (dev cluster) and remembers what matters."""

    dc: DevClusterProcess
    deployment_ids: list[int]
    samples: int = 0
    route_samples: int = 0
    bad_weights: list = field(default_factory=list)
    regressions: list = field(default_factory=list)
    last_index: dict = field(default_factory=dict)
    generations: dict = field(default_factory=dict)
    statuses: dict = field(default_factory=dict)
    progress_at: dict = field(default_factory=dict)  # deployment id → monotonic time of its last generation bump
    progress_log: list = field(default_factory=list)  # (monotonic time, deployment id) of every bump seen

    def sample(self, *, routes: bool = True) -> dict[int, tuple]:
        close_old_connections()
        now = time.monotonic()
        rows = Rollout.objects.filter(deployment_id__in=self.deployment_ids).values_list(
            "deployment_id", "deployment__status", "step_index", "generation", "phase", "lease_owner")
        seen = {}
        for dep_id, status, index, generation, phase, owner in rows:
            seen[dep_id] = (status, index, generation, phase, owner)
            if index < self.last_index.get(dep_id, -1):
                self.regressions.append((dep_id, self.last_index[dep_id], index))
            self.last_index[dep_id] = max(index, self.last_index.get(dep_id, -1))
            if generation != self.generations.get(dep_id):
                if dep_id in self.generations:
                    self.progress_log.append((now, dep_id))
                self.generations[dep_id] = generation
                self.progress_at[dep_id] = now
            self.statuses[dep_id] = status
        self.samples += 1
        if routes:
            for name, weights in self.dc.routes().items():
                self.route_samples += 1
                if sum(weights.values()) != 100:
                    self.bad_weights.append((name, weights))
        return seen

    def terminal(self) -> bool:
        synced = dict(Rollout.objects.filter(deployment_id__in=self.deployment_ids).values_list(
            "deployment_id", "cluster_synced"))
        return len(self.statuses) == len(self.deployment_ids) and all(
            status in TERMINAL and synced.get(dep_id) for dep_id, status in self.statuses.items())


def traffic_steps(deployment: Deployment) -> list[tuple[int | None, int | None]]:
    """(step_index, weight) of every traffic event but the final rollback one, in order."""
    return [(e.step_index, e.canary_weight) for e in RolloutEvent.objects.filter(deployment=deployment, kind="traffic")
            .order_by("created_at", "id") if not e.message.startswith(("Rolled back", "Restored"))]


def assert_steps_once_in_order(deployment: Deployment, steps: list[int]) -> list[tuple]:
    """No step applied twice or skipped: the traffic events are a prefix of the plan (all of it when live)."""
    seen = traffic_steps(deployment)
    plan = list(enumerate(steps))
    assert seen == plan[:len(seen)], f"#{deployment.pk} ({deployment.status}) traffic events {seen}, plan {plan}"
    if deployment.status == S.LIVE:
        assert seen == plan, f"#{deployment.pk} went live after {seen} of {plan}"
    return seen


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def figures(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (f"n={len(values)} min={min(values):.2f}s median={percentile(values, 0.5):.2f}s "
            f"p90={percentile(values, 0.9):.2f}s max={max(values):.2f}s")


def queue_depth(broker: Broker) -> int:
    """Messages waiting in the broker's default queue."""
    if broker.kind == "redis":
        import redis

        return int(redis.Redis.from_url(broker.url).llen("celery"))
    return sum(1 for _ in Path(broker.transport_options["data_folder_in"]).glob("*.msg"))


def run_until_terminal(observer: Observer, children: Children, what: str, *, timeout: float,
                       interval: float = 0.25) -> float:
    """Sample until every observed rollout is terminal and converged; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        observer.sample()
        if observer.terminal():
            return time.monotonic() - started
        children.check_alive(*children.alive_expected)
        time.sleep(interval)
    pending = {k: v for k, v in observer.statuses.items() if v not in TERMINAL}
    pytest.fail(f"{what}: not terminal after {timeout:g} s: {pending}\n{children.output()}")
