"""Real `celery -A portal worker` / `beat` processes for the end-to-end tests.

The processes share the test database with the test (pytest-django's transactional
database: rows are committed, the subprocess opens the same database by name — its
DATABASE_URL, or SQLITE_PATH for the file-based SQLite test database), the test's MLflow
store, and a broker: Redis (REDIS_URL) or the embedded filesystem broker in a temporary
folder. The test process's Celery app is re-pointed at that broker so that services'
`.delay()` calls publish where the worker consumes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 45.0
LOCAL_REDIS = "redis://127.0.0.1:6379/12"
# Variables of the developer's shell that must not leak into the child processes.
SCRUBBED = ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "PROMETHEUS_MULTIPROC_DIR", "SLIPWAY_VAR_DIR",
            "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def database_env() -> dict[str, str]:
    """How a child process reaches the test database (its name, not the configured one)."""
    from django.db import connection

    sd = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(sd["NAME"])}
    credentials = quote(sd.get("USER") or "", safe="")
    if sd.get("PASSWORD"):
        credentials += ":" + quote(sd["PASSWORD"], safe="")
    host = sd.get("HOST") or "127.0.0.1"
    port = sd.get("PORT") or 5432
    return {"DATABASE_URL": f"postgres://{credentials}@{host}:{port}/{sd['NAME']}"}


@dataclass
class Broker:
    kind: str  # "redis" | "filesystem"
    url: str
    transport_options: dict
    env: dict[str, str] = field(default_factory=dict)


def _reset_producer_pools(app) -> None:
    # kombu caches connection and producer pools globally, keyed by connection; drop them
    # all so the next publish connects to the broker now configured.
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def pointed_at(broker: Broker) -> Iterator[None]:
    """Make this process's Celery app publish to `broker` (really, not eagerly)."""
    from portal.celery import app

    saved = {key: app.conf.get(key) for key in ("broker_url", "broker_transport_options", "task_always_eager")}
    app.conf.update(broker_url=broker.url, broker_transport_options=broker.transport_options,
                    task_always_eager=False)
    _reset_producer_pools(app)
    try:
        yield
    finally:
        app.conf.update(**saved)
        _reset_producer_pools(app)


@pytest.fixture(params=["redis", "filesystem"])
def broker(request, tmp_path) -> Iterator[Broker]:
    if request.param == "redis":
        # The machine's Redis (every machine of this kind runs one on 127.0.0.1:6379) when
        # REDIS_URL is not exported: the Redis variant always runs.
        url = os.environ.get("REDIS_URL") or LOCAL_REDIS
        import redis

        redis.Redis.from_url(url).flushdb()  # no stale messages from an earlier run
        found = Broker("redis", url, {"visibility_timeout": 3600}, {"REDIS_URL": url})
    else:
        folder = tmp_path / "var" / "broker"
        (folder / "out").mkdir(parents=True)
        (folder / "processed").mkdir()
        (folder / "control").mkdir()
        # The child gets SLIPWAY_VAR_DIR=tmp_path/var, so settings give it these same folders.
        options = {"data_folder_in": str(folder / "out"), "data_folder_out": str(folder / "out"),
                   "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
                   "store_processed": False}
        found = Broker("filesystem", "filesystem://", options)
    with pointed_at(found):
        yield found


@dataclass
class Processes:
    """Starts `celery -A portal <worker|beat>` children and stops them at teardown."""

    env: dict[str, str]
    logs: Path
    running: list[tuple[subprocess.Popen, Path]] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen:
        log = self.logs / f"{args[0]}-{len(self.running)}.log"
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", *args], cwd=ROOT, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.running.append((proc, log))
        return proc

    def worker(self) -> subprocess.Popen:
        return self.start("worker", "--loglevel", "INFO", "--pool", "solo", "--without-gossip",
                          "--without-mingle", "--without-heartbeat", "--hostname", f"e2e-{os.getpid()}@%h")

    def beat(self) -> subprocess.Popen:
        return self.start("beat", "--loglevel", "INFO", "--schedule", str(self.logs / "celerybeat-schedule"))

    def output(self) -> str:
        return "\n".join(f"--- {log.name} ---\n{log.read_text(errors='replace')[-4000:]}" for _, log in self.running)

    def wait_for(self, condition: Callable[[], object], what: str, timeout: float = WAIT_SECONDS) -> object:
        """Poll `condition` until truthy; fail with the children's logs if it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            for proc, log in self.running:
                if proc.poll() is not None:
                    pytest.fail(f"{log.stem} exited with {proc.returncode} while waiting for {what}\n{self.output()}")
            time.sleep(0.3)
        pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n{self.output()}")

    def stop(self) -> None:
        for proc, _ in self.running:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self.running:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.fixture
def celery_processes(broker, mlflow, tmp_path) -> Iterator[Processes]:
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED}
    env.update(broker.env)
    env.update(database_env())
    env.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SLIPWAY_VAR_DIR": str(tmp_path / "var"),
        "MLFLOW_TRACKING_URI": mlflow.uri,
        "MLFLOW_REGISTRY_URI": mlflow.uri,
        "MLFLOW_ARTIFACT_ROOT": str(mlflow.artifacts),
        "SLIPWAY_SYNC_INTERVAL_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    })
    processes = Processes(env=env, logs=tmp_path)
    try:
        yield processes
    finally:
        processes.stop()
