"""An in-process dev cluster per test, reached through the official kubernetes client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client

from devcluster.server import DevCluster

NS = "team-a"


@pytest.fixture
def dc():
    with DevCluster(port=0, ready_delay_seconds=0, traffic="manual") as cluster:
        yield cluster


@pytest.fixture
def api_client(dc):
    api = client.ApiClient(client.Configuration(host=dc.url))
    yield api
    api.close()


@pytest.fixture
def core(api_client):
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client):
    return client.AppsV1Api(api_client)


@pytest.fixture
def custom(api_client):
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def ns(core):
    core.create_namespace({"metadata": {"name": NS}})
    return NS


def sim(dc: DevCluster, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the admin API (or /metrics); returns (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(dc.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw, ctype = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    return status, (json.loads(raw) if "json" in ctype else raw.decode())


def deployment(name: str, *, model: str = "ranker", version: str = "1", replicas: int = 2, image: str = "img:1") -> dict:
    labels = {"app": name, "slipway.io/model": model, "slipway.io/version": version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "model", "image": image, "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
            },
        },
    }


def service(name: str, selector: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector or {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def httproute(name: str, weights: dict[str, int]) -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "labels": {"slipway.io/model": name}},
        "spec": {
            "parentRefs": [{"name": "gateway", "namespace": "gateway"}],
            "rules": [{"backendRefs": [{"name": svc, "port": 80, "weight": w} for svc, w in weights.items()]}],
        },
    }


GATEWAY = ("gateway.networking.k8s.io", "v1")


def canary(apps, core, custom, ns: str, weights: dict[str, int]) -> None:
    """One Deployment + Service per backend name, and an HTTPRoute splitting traffic by ``weights``."""
    for i, name in enumerate(weights):
        apps.create_namespaced_deployment(ns, deployment(name, version=str(i + 1)))
        core.create_namespaced_service(ns, service(name))
    custom.create_namespaced_custom_object(*GATEWAY, ns, "httproutes", httproute("ranker", weights))
