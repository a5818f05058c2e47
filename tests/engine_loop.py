"""The real rollout engine running in the background of a live_server test (browser, CLI).

`running_engine(...)` starts an in-process dev cluster with real-time traffic, points the
environments at it with short windows, and runs one thread that is the beat and a worker at
once: every `interval` seconds it reconciles every due rollout. Requests served by
live_server must not also reconcile inline (eager Celery), so those enqueues are dropped —
the loop is the worker. Errors in the loop fail the test at teardown.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from django.db import connection
from django.utils import timezone


class EngineLoop(threading.Thread):
    def __init__(self, engine, *, interval: float):
        super().__init__(name=f"{engine.owner}-loop", daemon=True)
        self.engine = engine
        self.interval = interval
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.ticks = 0

    def run(self) -> None:
        from worker.engine.reconcile import due_rollout_ids, reconcile

        try:
            while not self.stopping.is_set():
                try:
                    for rollout_id in due_rollout_ids(now=timezone.now()):
                        reconcile(rollout_id, self.engine)
                    self.ticks += 1
                except Exception as exc:  # reported at teardown: a test must not pass over it
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                self.stopping.wait(self.interval)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


@contextlib.contextmanager
def running_engine(settings, monkeypatch, *, owner: str, interval: float = 0.5) -> Iterator[object]:
    from apps.deployments.models import Environment
    from devcluster.server import DevCluster
    from worker import tasks
    from worker.cluster import get_cluster
    from worker.engine.reconcile import Engine
    from worker.metrics.devcluster import DevClusterProvider

    dc = DevCluster(port=0, ready_delay_seconds=0.5, traffic="auto").start()
    settings.SLIPWAY_DEVCLUSTER_URL = dc.url
    monkeypatch.setattr(tasks.reconcile_rollout, "delay", lambda rollout_id: None)
    monkeypatch.setattr(tasks.evaluate_checklist, "delay", lambda version_id: None)
    Environment.objects.update(cluster={"kind": "url", "url": dc.url}, smoke_seconds=2, min_soak_seconds=1,
                               guard_window_seconds=2, min_requests=10, rollback_min_requests=10)
    clusters: dict[str, object] = {}

    def cluster_factory(environment):
        if environment.name not in clusters:
            clusters[environment.name] = get_cluster({"kind": "url", "url": dc.url}, environment=environment.name)
        return clusters[environment.name]

    loop = EngineLoop(Engine(cluster_factory=cluster_factory, metrics_factory=lambda env: DevClusterProvider(dc.url),
                             owner=owner), interval=interval)
    loop.start()
    try:
        yield dc
    finally:
        loop.stop()
        dc.stop()
    assert not loop.errors, loop.errors
    assert loop.ticks > 0
