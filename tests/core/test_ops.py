"""/healthz and /readyz: which dependency is down, answered within the probe timeout."""

from __future__ import annotations

import os
import socket
import time

import pytest


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections (kernel backlog) but never answers a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def mlflow(mlflow):
    """The shared MLflow store, already opened once: the first open of a sqlite store creates
    its tables, which can take longer than the probe timeout on a busy machine."""
    from apps.registry.mlflow_client import ping

    ping()
    return mlflow


@pytest.fixture
def filesystem_broker(settings, tmp_path):
    folders = {key: tmp_path / "broker" / name for key, name in
               (("data_folder_in", "out"), ("data_folder_out", "out"), ("processed_folder", "processed"))}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {key: str(path) for key, path in folders.items()}
    return folders


@pytest.fixture(autouse=True)
def cluster(request):
    """The environments' cluster: an in-process dev cluster (readyz pings it)."""
    if "db" not in request.fixturenames:
        yield None
        return
    request.getfixturevalue("db")
    from apps.deployments.models import Environment
    from devcluster.server import DevCluster

    dc = DevCluster(port=0, ready_delay_seconds=0, traffic="manual").start()
    Environment.objects.update(cluster={"kind": "url", "url": dc.url})
    yield dc
    dc.stop()


def test_healthz_answers_without_touching_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_database_broker_and_mlflow_answer(client, db, mlflow):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["failed"] == []
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok", "broker": "ok", "mlflow": "ok", "cluster": "ok"}
    assert all(check["ms"] >= 0 for check in body["checks"].values())


def test_readyz_503_names_mlflow_when_it_is_unreachable(client, db, settings):
    # given MLflow pointed at a port where nothing listens
    uri = f"http://127.0.0.1:{_closed_port()}"
    settings.MLFLOW_TRACKING_URI = uri
    settings.MLFLOW_REGISTRY_URI = uri
    started = time.perf_counter()
    response = client.get("/readyz")
    # then readiness fails on MLflow only, quickly
    assert time.perf_counter() - started < settings.SLIPWAY_PROBE_TIMEOUT_SECONDS + 2
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["failed"] == ["mlflow"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"
    assert "MLflow" in body["checks"]["mlflow"]["error"]


def test_readyz_503_when_the_redis_broker_is_down(client, db, mlflow, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["error"].startswith("ConnectionError")
    assert body["checks"]["mlflow"]["status"] == "ok"


def test_readyz_does_not_hang_on_a_broker_that_never_answers(client, db, mlflow, settings, silent_server):
    settings.SLIPWAY_PROBE_TIMEOUT_SECONDS = 1.0
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_server}/0"
    started = time.perf_counter()
    response = client.get("/readyz")
    elapsed = time.perf_counter() - started
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert elapsed < 2.5, f"readyz took {elapsed:.1f} s"


def test_readyz_does_not_hang_on_an_mlflow_that_never_answers(client, db, settings, silent_server):
    settings.SLIPWAY_PROBE_TIMEOUT_SECONDS = 1.0
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_REGISTRY_URI = f"http://127.0.0.1:{silent_server}"
    started = time.perf_counter()
    response = client.get("/readyz")
    elapsed = time.perf_counter() - started
    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["mlflow"]
    assert body["checks"]["mlflow"]["error"] == "no answer within 1 s"
    assert elapsed < 2.5, f"readyz took {elapsed:.1f} s"


def test_readyz_accepts_the_embedded_filesystem_broker(client, db, mlflow, filesystem_broker):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["broker"]["status"] == "ok"


def test_readyz_503_when_the_filesystem_broker_folder_is_missing(client, db, mlflow, filesystem_broker):
    filesystem_broker["processed_folder"].rmdir()
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["broker"]
    assert "does not exist" in body["checks"]["broker"]["error"]


def test_readyz_pings_the_configured_redis_broker(client, db, mlflow, settings):
    # REDIS_URL when exported (CI), else the machine's own Redis on 127.0.0.1:6379.
    settings.CELERY_BROKER_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/12"
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["broker"]["status"] == "ok"


def test_readyz_503_names_the_cluster_when_it_is_unreachable(client, db, mlflow):
    from apps.deployments.models import Environment

    Environment.objects.filter(name="production").update(cluster={"kind": "url",
                                                                   "url": f"http://127.0.0.1:{_closed_port()}"})
    started = time.monotonic()
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["failed"] == ["cluster"]
    assert body["checks"]["cluster"]["status"] == "error"
    assert time.monotonic() - started < 10
