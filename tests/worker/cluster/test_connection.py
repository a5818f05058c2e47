"""Connections: EKS (moto) endpoint, CA, token format, refresh by clock and on 401; kubeconfig; URL; default."""

from __future__ import annotations

import base64
import urllib.parse

import boto3
import pytest
import yaml
from moto import mock_aws

from tests.worker.cluster.scripted_api import Reply, ScriptedAPI, status
from worker.cluster import DEFAULT_CLUSTER, ClusterError, get_cluster
from worker.cluster.connection import configured_cluster, connect

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/slipway-deployer"


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        eks = boto3.client("eks", region_name=REGION)
        cluster = eks.create_cluster(name="prod-gpu", roleArn="arn:aws:iam::123456789012:role/eks",
                                     resourcesVpcConfig={"subnetIds": []})["cluster"]
        yield eks.describe_cluster(name=cluster["name"])["cluster"]


@pytest.fixture
def api():
    server = ScriptedAPI().start()
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def decode(token: str) -> urllib.parse.ParseResult:
    assert token.startswith("k8s-aws-v1.")
    payload = token[len("k8s-aws-v1."):]
    assert "=" not in payload  # base64url without padding, as aws-iam-authenticator expects
    return urllib.parse.urlparse(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode())


def test_eks_connection_uses_describe_cluster_endpoint_and_ca(aws):
    conn = connect({"kind": "eks", "cluster_name": "prod-gpu", "region": REGION})
    cfg = conn.api_client.configuration
    assert cfg.host == aws["endpoint"].rstrip("/")
    assert cfg.verify_ssl is True
    data = aws["certificateAuthority"]["data"]
    with open(cfg.ssl_ca_cert, "rb") as fh:
        assert fh.read() == base64.b64decode(data + "=" * (-len(data) % 4))
    assert cfg.retries is False  # our loop owns retries


def test_eks_token_is_a_presigned_get_caller_identity_url_bound_to_the_cluster(aws):
    conn = connect({"kind": "eks", "cluster_name": "prod-gpu", "region": REGION})
    header = conn.api_client.configuration.auth_settings()["BearerToken"]["value"]
    assert header.startswith("Bearer k8s-aws-v1.")
    url = decode(header.removeprefix("Bearer "))
    query = dict(urllib.parse.parse_qsl(url.query))
    assert (url.scheme, url.netloc, url.path) == ("https", f"sts.{REGION}.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity" and query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert query["X-Amz-Credential"].endswith(f"/{REGION}/sts/aws4_request")
    assert len(query["X-Amz-Signature"]) == 64


def test_eks_token_is_refreshed_after_ten_minutes_by_the_injected_clock(aws, api):
    clock = Clock()
    cluster = get_cluster({"kind": "eks", "cluster_name": "prod-gpu", "region": REGION, "role_arn": ROLE},
                          clock=clock, sleep=lambda s: None)
    cluster.api_client.configuration.host = api.url  # same auth machinery, a server we can observe
    source = cluster.api_client.configuration.refresh_api_key_hook.__self__
    assert source.refreshes == 1
    api.then(*[Reply(200, {"kind": "APIVersions"}, method="GET")] * 3)
    cluster.ping()
    clock.now += 599  # still inside the refresh window
    cluster.ping()
    clock.now += 2  # 601 s after minting: renew before the 15-minute expiry
    cluster.ping()
    tokens = [s.headers["authorization"] for s in api.seen]
    assert tokens[0] == tokens[1] != tokens[2]
    assert source.refreshes == 2
    # Each token is minted with freshly assumed role credentials.
    creds = [dict(urllib.parse.parse_qsl(decode(t.removeprefix("Bearer ")).query))["X-Amz-Credential"] for t in tokens]
    assert creds[0] != creds[2] and not creds[0].startswith("testing/")


def test_eks_token_is_refreshed_once_on_401_and_the_request_retried(aws, api):
    clock = Clock()
    cluster = get_cluster({"kind": "eks", "cluster_name": "prod-gpu", "region": REGION, "role_arn": ROLE},
                          clock=clock, sleep=lambda s: None)
    cluster.api_client.configuration.host = api.url
    source = cluster.api_client.configuration.refresh_api_key_hook.__self__
    api.then(Reply(401, status(401, "Unauthorized"), method="GET"), Reply(200, {"kind": "APIVersions"}, method="GET"))
    assert cluster.ping() is True
    first, second = (s.headers["authorization"] for s in api.seen)
    assert first != second and second.startswith("Bearer k8s-aws-v1.")
    assert source.refreshes == 2


def test_eks_unknown_cluster_is_a_cluster_error(aws):
    with pytest.raises(ClusterError) as info:
        connect({"kind": "eks", "cluster_name": "nope", "region": REGION})
    assert info.value.reason == "ResourceNotFoundException" and info.value.status == 404
    assert not info.value.transient


def test_eks_needs_cluster_name_and_region():
    with pytest.raises(ValueError):
        connect({"kind": "eks", "cluster_name": "prod"})


def test_kubeconfig_context_is_used_and_reloaded_on_401(tmp_path, api):
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "local", "cluster": {"server": api.url}},
                     {"name": "other", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "ua", "user": {"token": "token-a"}}, {"name": "ub", "user": {"token": "token-b"}}],
        "contexts": [{"name": "a", "context": {"cluster": "other", "user": "ua"}},
                     {"name": "b", "context": {"cluster": "local", "user": "ub"}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig))
    cluster = get_cluster({"kind": "kubeconfig", "path": str(path), "context": "b"}, sleep=lambda s: None)
    # The token rotates on disk; a 401 makes the adapter read the kubeconfig again.
    kubeconfig["users"][1]["user"]["token"] = "token-b2"
    path.write_text(yaml.safe_dump(kubeconfig))
    api.then(Reply(401, status(401, "Unauthorized"), method="GET"), Reply(200, {"kind": "APIVersions"}, method="GET"))
    assert cluster.ping() is True
    assert [s.headers["authorization"] for s in api.seen] == ["Bearer token-b", "Bearer token-b2"]
    assert api.seen[0].path == "/api/"


def test_url_connection_and_options(api):
    cluster = get_cluster({"kind": "url", "url": api.url + "/", "token": "t0k", "environment": "production",
                           "gateway": {"name": "edge", "namespace": "gateways"}, "max_attempts": 3})
    assert cluster.api_client.configuration.host == api.url
    assert (cluster.environment, cluster.gateway.name, cluster.gateway.namespace, cluster.max_attempts) == (
        "production", "edge", "gateways", 3)
    api.then(Reply(200, {"kind": "APIVersions"}, method="GET"))
    assert cluster.ping()
    assert api.seen[0].headers["authorization"] == "Bearer t0k"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        connect({"kind": "gke"})


def test_default_is_the_dev_cluster(settings):
    if hasattr(settings, "SLIPWAY_CLUSTER"):
        del settings.SLIPWAY_CLUSTER
    assert configured_cluster() == DEFAULT_CLUSTER == {"kind": "url", "url": "http://127.0.0.1:8001"}
    assert get_cluster().api_client.configuration.host == "http://127.0.0.1:8001"
    settings.SLIPWAY_CLUSTER = {"kind": "url", "url": "http://127.0.0.1:18001"}
    assert get_cluster().api_client.configuration.host == "http://127.0.0.1:18001"
    settings.SLIPWAY_CLUSTER = '{"kind": "url", "url": "http://127.0.0.1:28001"}'
    assert get_cluster().api_client.configuration.host == "http://127.0.0.1:28001"
