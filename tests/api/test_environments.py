"""`/api/v1/environments/` and `/api/v1/instance-types/`: policy and catalog, never credentials."""

from __future__ import annotations

import json

import pytest

from apps.deployments.models import Environment, InstanceType
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db

ENVS = "/api/v1/environments/"
TYPES = "/api/v1/instance-types/"


def test_environments_show_policy_gates_and_defaults(as_user, grace):
    response = as_user(grace).get(ENVS)
    assert response.status_code == 200
    body = response.json()
    assert [e["name"] for e in body] == ["staging", "production"]
    staging, production = body
    assert staging["requires_approval"] is False and production["requires_approval"] is True
    assert production["approval_ttl_hours"] == 72
    assert production["min_soak_seconds"] == 120 and production["default_soak_seconds"] == 300
    assert production["guard_window_seconds"] == 3600 and staging["guard_window_seconds"] == 600
    assert production["default_steps"] == [5, 25, 50, 100]
    assert production["gates"] == {"advance_max_error_rate": 0.01, "rollback_error_rate": 0.05,
                                   "rollback_latency_ratio": 2.0, "min_requests": 50, "rollback_min_requests": 20,
                                   "max_inconclusive": 3}
    assert production["namespace_pattern"] == "slipway-{tenant}"
    assert production["cluster"] == {"kind": "url", "endpoint": "http://127.0.0.1:8001"}


def test_environment_detail_by_name(as_user, ada):
    body = as_user(ada).get(f"{ENVS}production/").json()
    assert body["name"] == "production" and body["display_name"] == "Production"


SECRETS = ("s3cr3t-token", "hunter2", "sig=abc", "/home/ops/.kube/config", "arn:aws:iam::123:role/deployer",
           "BEGIN CERTIFICATE")


@pytest.mark.parametrize(("cluster", "endpoint"), [
    ({"kind": "url", "url": "https://deployer:hunter2@k8s.internal:6443/base?sig=abc", "token": "s3cr3t-token",
      "ca_file": "-----BEGIN CERTIFICATE-----"}, "https://k8s.internal:6443"),
    ({"kind": "kubeconfig", "path": "/home/ops/.kube/config", "context": "prod"}, "kubeconfig context prod"),
    ({"kind": "eks", "cluster_name": "ml-prod", "region": "us-east-1", "role_arn": "arn:aws:iam::123:role/deployer"},
     "eks://us-east-1/ml-prod"),
    ({"kind": "url", "url": "not a url at all [", "token": "s3cr3t-token"}, ""),
])
def test_cluster_credentials_are_never_shown(as_user, ada, linus, cluster, endpoint):
    Environment.objects.filter(name="production").update(cluster=cluster)
    for user in (ada, linus):  # platform engineers included: the API is no place for credentials
        for url in (ENVS, f"{ENVS}production/"):
            response = as_user(user).get(url)
            assert response.status_code == 200
            text = response.content.decode()
            for secret in SECRETS:
                assert secret not in text, (secret, url)
    body = as_user(ada).get(f"{ENVS}production/").json()
    assert body["cluster"] == {"kind": cluster["kind"], "endpoint": endpoint}


@pytest.mark.parametrize("name", ["nope", "x" * 200, "%00", "STAGING", "stag%20ing"])
def test_unknown_environment_is_404(as_user, ada, name):
    assert_problem(as_user(ada).get(f"{ENVS}{name}/"), 404)


def test_anonymous_is_401(as_user):
    assert_problem(as_user(None).get(ENVS), 401)
    assert_problem(as_user(None).get(f"{ENVS}staging/"), 401)
    assert_problem(as_user(None).get(TYPES), 401)


def test_environments_and_catalog_are_read_only(as_user, linus):
    client = as_user(linus)
    for response in (client.post(ENVS, {}), client.put(f"{ENVS}staging/", {}), client.patch(f"{ENVS}staging/", {}),
                     client.delete(f"{ENVS}staging/"), client.post(TYPES, {"name": "x"})):
        assert_problem(response, 405)
    assert Environment.objects.get(name="staging").requires_approval is False


def test_instance_catalog_has_prices_and_their_date(as_user, ada):
    response = as_user(ada).get(TYPES)
    assert response.status_code == 200
    rows = {r["name"]: r for r in response.json()}
    assert {"g4dn.xlarge", "g5.xlarge", "g6.xlarge", "p3.2xlarge", "p4d.24xlarge", "p5.48xlarge", "c6i.xlarge",
            "m6i.xlarge"} <= set(rows)
    g5 = rows["g5.xlarge"]
    assert g5 == {"name": "g5.xlarge", "family": "g5", "gpu": True, "gpu_model": "NVIDIA A10G", "gpus": 1,
                  "gpu_memory_gib": 24, "vcpus": 4, "memory_gib": "16.00", "on_demand_usd_hour": "1.0060",
                  "spot_usd_hour": "0.4024", "price_date": "2025-07-01", "region": "us-east-1", "available": True}
    assert rows["c6i.xlarge"]["gpu"] is False and rows["c6i.xlarge"]["gpus"] == 0
    assert all(float(r["spot_usd_hour"]) < float(r["on_demand_usd_hour"]) for r in rows.values())


def test_instance_catalog_filters_gpu_and_family(as_user, ada):
    client = as_user(ada)
    gpu = client.get(TYPES, {"gpu": "true"}).json()
    cpu = client.get(TYPES, {"gpu": "false"}).json()
    assert gpu and all(r["gpus"] > 0 for r in gpu)
    assert cpu and all(r["gpus"] == 0 for r in cpu)
    assert len(gpu) + len(cpu) == InstanceType.objects.filter(available=True).count()
    assert {r["name"] for r in client.get(TYPES, {"family": "p4d"}).json()} == {"p4d.24xlarge"}


def test_unavailable_instance_types_are_not_offered(as_user, ada):
    InstanceType.objects.filter(name="p3.2xlarge").update(available=False)
    assert "p3.2xlarge" not in {r["name"] for r in as_user(ada).get(TYPES).json()}


@pytest.mark.parametrize("params", [{"gpu": "maybe"}, {"gpu": "1"}, {"family": "x" * 21}, {"family": "g\x005"}])
def test_bad_catalog_filters_are_400_naming_the_parameter(as_user, ada, params):
    assert_problem(as_user(ada).get(TYPES, params), 400, field=next(iter(params)))


@pytest.mark.parametrize("url", [ENVS, TYPES])
def test_query_count_is_small_and_fixed(as_user, ada, url, django_assert_max_num_queries):
    client = as_user(ada)
    client.get(url)
    with django_assert_max_num_queries(6) as before:
        client.get(url)
    Environment.objects.create(name="canary-lab", display_name="Lab", position=30)
    InstanceType.objects.create(name="g6.2xlarge", family="g6", gpu_model="NVIDIA L4", gpus=1, gpu_memory_gib=24,
                                vcpus=8, memory_gib=32, on_demand_usd_hour="0.9776", spot_usd_hour="0.3910",
                                price_date="2025-07-01")
    with django_assert_max_num_queries(len(before.captured_queries)):
        assert json.loads(client.get(url).content)
