"""Restart the broker mid-rollout, then the worker and beat, with 20 canaries in flight.

SPEC §10: restarting Redis or the processes never skips or repeats a step and never loses a
request's state. With REDIS_URL set the test runs its OWN redis-server on a free port (never
the shared one on 6379) and kills/restarts that; with the embedded filesystem broker there is
no server to restart, so the worker and beat are restarted in its place — and it says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.chaos.conftest import (
    TICK_SECONDS,
    Children,
    Observer,
    assert_steps_once_in_order,
    child_env,
    filesystem_broker,
    free_port,
    queue_depth,
    redis_broker,
)
from tests.chaos.conftest import S as Status
from tests.e2e.conftest import pointed_at

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CANARIES = 20
BAD = {3, 11}  # canaries whose error rate trips the rollback gate
TERMINAL_WITHIN_SECONDS = 120


@dataclass
class OwnRedis:
    """A redis-server of this test only (no persistence: a restart loses every message)."""

    port: int
    folder: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> float:
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        while time.monotonic() - started < 10:
            try:
                if client.ping():
                    return time.monotonic() - started
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        pytest.fail("our redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis | None]:
    if not os.environ.get("REDIS_URL"):
        yield None
        return
    if shutil.which("redis-server") is None:
        pytest.fail("REDIS_URL is set but the redis-server binary is missing: the broker restart needs its own server")
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def restart_children(own_redis, mlflow, tmp_path) -> Iterator[tuple[Children, object]]:
    broker = redis_broker(own_redis.url) if own_redis else filesystem_broker(tmp_path)
    with pointed_at(broker):
        processes = Children(env=child_env(broker, mlflow, tmp_path), logs=tmp_path)
        try:
            yield processes, broker
        finally:
            processes.stop()


def test_broker_and_process_restarts_lose_no_rollout(fleet, restart_children, own_redis):
    children, broker = restart_children
    fleet.add(CANARIES, "rst")
    worker, beat = children.worker(), children.beat()
    firsts = fleet.deploy(fleet.v1)
    observer = Observer(fleet.dc, [d.pk for d in firsts])
    _run(observer, children, "v1 first deployments", timeout=90)

    # given 20 canaries in flight (3 s soaks), two of them misbehaving
    for i in BAD:
        fleet.dc.behave(fleet.namespace, f"{fleet.models[i].name}-v2", error_rate=0.3)
    canaries = fleet.deploy(fleet.v2, soak_seconds=3)
    observer = Observer(fleet.dc, [d.pk for d in canaries])
    began = time.monotonic()
    _run(observer, children, "canaries under way", timeout=20, until=lambda: _moving(observer) >= CANARIES // 2)
    index_before = dict(observer.last_index)

    # when the broker restarts (losing every queued message) ...
    if own_redis is not None:
        depth = queue_depth(broker)
        own_redis.kill()
        down_at = time.monotonic()
        time.sleep(1.0)  # a second without a broker: beat's publishes and the worker's consumer fail
        up_after = own_redis.start()
        broker_event = time.monotonic()  # the broker is back (empty)
        mode = (f"restarted our own redis-server (port {own_redis.port}, --save '': {depth} queued message(s) "
                f"lost), down {broker_event - down_at:.1f} s (start {up_after:.2f} s)")
    else:
        broker_event = time.monotonic()
        children.kill(worker)
        children.kill(beat)
        worker, beat = children.worker(), children.beat()
        mode = "embedded filesystem broker: no broker server to restart — SIGKILLed and restarted worker and beat instead"
    print(f"\n[restart] broker={broker.kind}: {mode}")
    # the same worker and beat reconnect (Redis) and drive several rollouts through the new broker
    _run(observer, children, "progress after the broker restart", timeout=30,
         until=lambda: len({d for t, d in observer.progress_log if t > broker_event}) >= 5)
    broker_recovery = min(t for t, _ in observer.progress_log if t > broker_event) - broker_event
    five_moved = sorted(t for t, _ in observer.progress_log if t > broker_event)[4] - broker_event

    # ... and then worker and beat restart (a deploy: SIGTERM, warm shutdown) with the canaries in flight
    in_flight = sum(1 for s in observer.statuses.values() if s == Status.PROGRESSING)
    restart_at = time.monotonic()
    children.kill(worker, signal.SIGTERM)
    children.kill(beat, signal.SIGTERM)
    stopped = time.monotonic() - restart_at
    worker, beat = children.worker(), children.beat()
    _run(observer, children, "progress after the process restart", timeout=30,
         until=lambda: any(t > restart_at for t, _ in observer.progress_log))
    process_recovery = min(t for t, _ in observer.progress_log if t > restart_at) - restart_at
    _run(observer, children, "every canary terminal", timeout=TERMINAL_WITHIN_SECONDS - (time.monotonic() - began))
    elapsed = time.monotonic() - began

    # then nothing is stuck, nothing went back, every step was applied once, in order
    for i, deployment in enumerate(canaries):
        deployment.refresh_from_db()
        expected = Status.ROLLED_BACK if i in BAD else Status.LIVE
        assert deployment.status == expected, f"canary {i} (#{deployment.pk}): {deployment.status_reason}"
        assert_steps_once_in_order(deployment, deployment.rollout.steps)
    assert observer.regressions == []
    assert observer.bad_weights == []
    assert all(observer.last_index[k] >= v for k, v in index_before.items())
    print(f"[restart] {in_flight} canaries progressing when worker and beat were restarted (stop took {stopped:.1f} s)")
    back = "broker back" if own_redis is not None else "worker+beat back (no broker to restart)"
    print(f"[restart] recovery: {back} → next progress {broker_recovery:.2f} s, → 5 progress records "
          f"{five_moved:.2f} s; worker+beat restart → next progress {process_recovery:.2f} s (tick {TICK_SECONDS} s)")
    print(f"[restart] 20 canaries terminal in {elapsed:.1f} s (bound {TERMINAL_WITHIN_SECONDS} s): "
          f"{CANARIES - len(BAD)} live, {len(BAD)} rolled back; step-index regressions {len(observer.regressions)}; "
          f"{observer.route_samples} route readings, {len(observer.bad_weights)} with weights ≠ 100")


def _moving(observer: Observer) -> int:
    return sum(1 for index in observer.last_index.values() if index >= 0)


def _run(observer: Observer, children: Children, what: str, *, timeout: float, until=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        observer.sample()
        if (until() if until else observer.terminal()):
            return
        children.check_alive(*children.alive_expected)
        time.sleep(0.2)
    pytest.fail(f"{what}: not reached after {timeout:.0f} s: {observer.statuses}\n{children.output()}")
