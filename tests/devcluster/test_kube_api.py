"""The Kubernetes REST subset, driven through the official client: verbs, metadata rules, Status errors."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from tests.devcluster.conftest import GATEWAY, deployment, httproute, service, sim


def test_version_and_discovery(api_client):
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.")
    assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]
    groups = {g.name: g for g in client.ApisApi(api_client).get_api_versions().groups}
    assert set(groups) == {"apps", "networking.k8s.io", "autoscaling", "gateway.networking.k8s.io"}
    assert groups["autoscaling"].preferred_version.group_version == "autoscaling/v2"
    apps_resources = {r.name: r for r in client.AppsV1Api(api_client).get_api_resources().resources}
    assert apps_resources["deployments"].kind == "Deployment" and "patch" in apps_resources["deployments"].verbs
    assert "deployments/scale" in apps_resources
    core_resources = {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {"namespaces", "services", "pods", "resourcequotas"} <= core_resources
    gw = client.CustomObjectsApi(api_client).get_api_resources("gateway.networking.k8s.io", "v1")
    assert [r.name for r in gw.resources] == ["httproutes"]


def test_namespace_crud(core):
    created = core.create_namespace({"metadata": {"name": "alpha", "labels": {"team": "a"}}})
    assert created.metadata.uid and created.metadata.creation_timestamp and created.status.phase == "Active"
    assert created.metadata.labels["kubernetes.io/metadata.name"] == "alpha"
    assert "alpha" in [n.metadata.name for n in core.list_namespace().items]
    assert [n.metadata.name for n in core.list_namespace(label_selector="team=a").items] == ["alpha"]
    ns = core.read_namespace("alpha")
    ns.metadata.labels["team"] = "b"
    replaced = core.replace_namespace("alpha", ns)
    assert replaced.metadata.labels["team"] == "b"
    assert core.patch_namespace("alpha", {"metadata": {"annotations": {"owner": "recsys"}}}).metadata.annotations == {"owner": "recsys"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    core.delete_namespace("alpha")
    with pytest.raises(ApiException) as exc:
        core.read_namespace("alpha")
    assert exc.value.status == 404


def test_deployment_lifecycle_and_metadata_rules(apps, ns):
    created = apps.create_namespaced_deployment(ns, deployment("ranker-v1"))
    meta = created.metadata
    assert meta.generation == 1 and meta.namespace == ns and meta.uid
    assert created.spec.strategy.type == "RollingUpdate"  # defaulted like the API server
    got = apps.read_namespaced_deployment("ranker-v1", ns)
    assert got.metadata.resource_version == meta.resource_version

    # A label-only change keeps the generation; a spec change bumps it.
    body = got.to_dict(serialize=True)
    body["metadata"]["labels"]["extra"] = "x"
    relabelled = apps.replace_namespaced_deployment("ranker-v1", ns, body)
    assert relabelled.metadata.generation == 1
    assert int(relabelled.metadata.resource_version) > int(meta.resource_version)
    body = relabelled.to_dict(serialize=True)
    body["spec"]["replicas"] = 4
    scaled = apps.replace_namespaced_deployment("ranker-v1", ns, body)
    assert scaled.metadata.generation == 2 and scaled.spec.replicas == 4
    assert scaled.metadata.uid == meta.uid and scaled.metadata.creation_timestamp == meta.creation_timestamp

    # Replacing with the stale resourceVersion is a Conflict.
    with pytest.raises(ApiException) as exc:
        apps.replace_namespaced_deployment("ranker-v1", ns, body)
    assert exc.value.status == 409 and '"reason": "Conflict"' in exc.value.body

    # A no-op replace does not bump the resourceVersion.
    same = apps.replace_namespaced_deployment("ranker-v1", ns, scaled.to_dict(serialize=True))
    assert same.metadata.resource_version == scaled.metadata.resource_version

    assert [d.metadata.name for d in apps.list_namespaced_deployment(ns, label_selector="slipway.io/model=ranker").items] == ["ranker-v1"]
    assert apps.list_deployment_for_all_namespaces().items[0].metadata.name == "ranker-v1"
    status = apps.delete_namespaced_deployment("ranker-v1", ns)
    assert status["kind"] == "Status" and status["status"] == "Success"
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment("ranker-v1", ns)
    assert exc.value.status == 404


def test_patch_content_types(dc, apps, ns):
    apps.create_namespaced_deployment(ns, deployment("ranker-v1", replicas=1))
    # dict body: the client sends application/strategic-merge-patch+json (applied as a merge patch)
    patched = apps.patch_namespaced_deployment("ranker-v1", ns, {"metadata": {"annotations": {"a": "1"}}, "spec": {"replicas": 3}})
    assert patched.spec.replicas == 3 and patched.metadata.annotations == {"a": "1"}
    assert patched.metadata.labels["app"] == "ranker-v1"  # untouched keys survive
    # explicit JSON merge patch; null deletes a key
    patched = apps.patch_namespaced_deployment("ranker-v1", ns, {"metadata": {"annotations": {"a": None}}}, _content_type="application/merge-patch+json")
    assert not patched.metadata.annotations
    # list body: JSON patch (RFC 6902)
    patched = apps.patch_namespaced_deployment("ranker-v1", ns, [{"op": "replace", "path": "/spec/replicas", "value": 5}])
    assert patched.spec.replicas == 5 and patched.metadata.generation == 3
    # a stale resourceVersion in a patch is a Conflict
    with pytest.raises(ApiException) as exc:
        apps.patch_namespaced_deployment("ranker-v1", ns, {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 1}})
    assert exc.value.status == 409
    # server-side apply creates when missing, then applies as a merge
    applied = apps.patch_namespaced_deployment(
        "ranker-v2", ns, deployment("ranker-v2"), _content_type="application/apply-patch+yaml", field_manager="slipway"
    )
    assert applied.metadata.name == "ranker-v2"
    # an unknown patch type is 415 (the client refuses to send one, so go around it)
    request = urllib.request.Request(
        f"{dc.url}/apis/apps/v1/namespaces/{ns}/deployments/ranker-v1", data=b"{}", method="PATCH", headers={"Content-Type": "text/plain"}
    )
    with pytest.raises(urllib.error.HTTPError) as http_exc:
        urllib.request.urlopen(request, timeout=5)
    assert http_exc.value.code == 415


def test_scale_subresource(apps, ns):
    apps.create_namespaced_deployment(ns, deployment("ranker-v1", replicas=2))
    scale = apps.read_namespaced_deployment_scale("ranker-v1", ns)
    assert scale.spec.replicas == 2 and scale.status.selector == "app=ranker-v1"
    scale.spec.replicas = 5
    assert apps.replace_namespaced_deployment_scale("ranker-v1", ns, scale).spec.replicas == 5
    with pytest.raises(ApiException) as exc:  # scale carries the deployment's resourceVersion
        apps.replace_namespaced_deployment_scale("ranker-v1", ns, scale)
    assert exc.value.status == 409
    assert apps.patch_namespaced_deployment_scale("ranker-v1", ns, {"spec": {"replicas": 0}}).spec.replicas == 0
    dep = apps.read_namespaced_deployment("ranker-v1", ns)
    assert dep.spec.replicas == 0 and dep.metadata.generation == 3


def test_errors_are_status_objects(apps, core, ns):
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment("missing", ns)
    assert exc.value.status == 404
    assert '"kind": "Status"' in exc.value.body and 'deployments.apps \\"missing\\" not found' in exc.value.body

    apps.create_namespaced_deployment(ns, deployment("ranker-v1"))
    with pytest.raises(ApiException) as exc:
        apps.create_namespaced_deployment(ns, deployment("ranker-v1"))
    assert exc.value.status == 409 and '"reason": "AlreadyExists"' in exc.value.body

    with pytest.raises(ApiException) as exc:  # namespaced object in a missing namespace
        apps.create_namespaced_deployment("nowhere", deployment("ranker-v1"))
    assert exc.value.status == 404 and 'namespaces \\"nowhere\\" not found' in exc.value.body

    bad = deployment("ranker-v2")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiException) as exc:
        apps.create_namespaced_deployment(ns, bad)
    assert exc.value.status == 422 and '"reason": "Invalid"' in exc.value.body and "spec.template.metadata.labels" in exc.value.body

    with pytest.raises(ApiException) as exc:
        core.create_namespace({"metadata": {"name": "Not_A_Label"}})
    assert exc.value.status == 422

    with pytest.raises(ApiException) as exc:  # selector is immutable
        apps.patch_namespaced_deployment("ranker-v1", ns, {"spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}}}}})
    assert exc.value.status == 422 and "immutable" in exc.value.body

    with pytest.raises(ApiException) as exc:  # pods are not created by clients
        core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    assert exc.value.status == 405


def test_bad_body_is_400(dc, ns):
    request = urllib.request.Request(
        f"{dc.url}/apis/apps/v1/namespaces/{ns}/deployments", data=b"{not json", method="POST", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=5)
    assert exc.value.code == 400
    status, body = sim(dc, "GET", f"/apis/apps/v1/namespaces/{ns}/widgets")
    assert status == 404 and body["kind"] == "Status"


def test_services_quota_netpol_hpa(core, api_client, ns):
    svc = core.create_namespaced_service(ns, service("ranker-v1"))
    assert svc.spec.cluster_ip.startswith("10.96.") and svc.spec.ports[0].protocol == "TCP"
    svc = core.patch_namespaced_service("ranker-v1", ns, {"spec": {"selector": {"app": "ranker-v2"}}})
    assert svc.spec.selector == {"app": "ranker-v2"} and svc.spec.cluster_ip  # clusterIP kept
    body = svc.to_dict(serialize=True)
    body["metadata"]["labels"] = {"x": "y"}
    assert core.replace_namespaced_service("ranker-v1", ns, body).metadata.labels == {"x": "y"}
    assert [s.metadata.name for s in core.list_namespaced_service(ns, label_selector="x in (y,z)").items] == ["ranker-v1"]
    assert core.delete_namespaced_service("ranker-v1", ns).metadata.name == "ranker-v1"  # Services answer with the object
    assert core.list_namespaced_service(ns).items == []

    quota = core.create_namespaced_resource_quota(ns, {"metadata": {"name": "gpus"}, "spec": {"hard": {"requests.nvidia.com/gpu": "8"}}})
    assert quota.spec.hard == {"requests.nvidia.com/gpu": "8"}
    quota = core.read_namespaced_resource_quota("gpus", ns)
    quota.spec.hard = {"requests.nvidia.com/gpu": "16"}
    assert core.replace_namespaced_resource_quota("gpus", ns, quota).spec.hard["requests.nvidia.com/gpu"] == "16"
    assert core.patch_namespaced_resource_quota("gpus", ns, {"spec": {"hard": {"limits.nvidia.com/gpu": "16"}}}).spec.hard == {
        "requests.nvidia.com/gpu": "16",
        "limits.nvidia.com/gpu": "16",
    }
    assert len(core.list_namespaced_resource_quota(ns).items) == 1
    core.delete_namespaced_resource_quota("gpus", ns)

    net = client.NetworkingV1Api(api_client)
    policy = {"metadata": {"name": "default-deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    created = net.create_namespaced_network_policy(ns, policy)
    assert created.spec.policy_types == ["Ingress", "Egress"]
    got = net.read_namespaced_network_policy("default-deny", ns)
    got.spec.policy_types = ["Ingress"]
    assert net.replace_namespaced_network_policy("default-deny", ns, got).spec.policy_types == ["Ingress"]
    assert net.patch_namespaced_network_policy("default-deny", ns, {"metadata": {"labels": {"a": "b"}}}).metadata.labels == {"a": "b"}
    assert len(net.list_namespaced_network_policy(ns).items) == 1
    net.delete_namespaced_network_policy("default-deny", ns)
    with pytest.raises(ApiException) as exc:
        net.create_namespaced_network_policy(ns, {"metadata": {"name": "p"}, "spec": {"podSelector": {}, "policyTypes": ["Sideways"]}})
    assert exc.value.status == 422

    autoscaling = client.AutoscalingV2Api(api_client)
    hpa = {
        "metadata": {"name": "ranker-v1"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ranker-v1"},
            "minReplicas": 1,
            "maxReplicas": 4,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    }
    created = autoscaling.create_namespaced_horizontal_pod_autoscaler(ns, hpa)
    assert created.spec.max_replicas == 4
    assert autoscaling.patch_namespaced_horizontal_pod_autoscaler("ranker-v1", ns, {"spec": {"maxReplicas": 6}}).spec.max_replicas == 6
    got = autoscaling.read_namespaced_horizontal_pod_autoscaler("ranker-v1", ns)
    got.spec.min_replicas = 2
    assert autoscaling.replace_namespaced_horizontal_pod_autoscaler("ranker-v1", ns, got).spec.min_replicas == 2
    assert len(autoscaling.list_namespaced_horizontal_pod_autoscaler(ns).items) == 1
    with pytest.raises(ApiException) as exc:
        autoscaling.patch_namespaced_horizontal_pod_autoscaler("ranker-v1", ns, {"spec": {"minReplicas": 9}})
    assert exc.value.status == 422
    autoscaling.delete_namespaced_horizontal_pod_autoscaler("ranker-v1", ns)


def test_httproute_custom_objects(custom, ns):
    created = custom.create_namespaced_custom_object(*GATEWAY, ns, "httproutes", httproute("ranker", {"ranker-v1": 100}))
    assert created["metadata"]["generation"] == 1 and created["kind"] == "HTTPRoute"
    conditions = {c["type"]: c for c in created["status"]["parents"][0]["conditions"]}
    assert conditions["Accepted"]["status"] == "True"
    assert conditions["ResolvedRefs"]["reason"] == "BackendNotFound"  # no Service ranker-v1 yet
    got = custom.get_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker")
    got["spec"]["rules"][0]["backendRefs"] = [{"name": "ranker-v1", "port": 80, "weight": 90}, {"name": "ranker-v2", "port": 80, "weight": 10}]
    replaced = custom.replace_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker", got)
    assert replaced["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as exc:  # stale
        custom.replace_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker", got)
    assert exc.value.status == 409
    unversioned = dict(got, metadata={"name": "ranker"})
    with pytest.raises(ApiException) as exc:  # custom resources need a resourceVersion to update
        custom.replace_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker", unversioned)
    assert exc.value.status == 422
    patched = custom.patch_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker", {"metadata": {"annotations": {"step": "1"}}})
    assert patched["metadata"]["annotations"] == {"step": "1"} and patched["metadata"]["generation"] == 2
    listed = custom.list_namespaced_custom_object(*GATEWAY, ns, "httproutes", label_selector="slipway.io/model=ranker")
    assert [r["metadata"]["name"] for r in listed["items"]] == ["ranker"]
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(*GATEWAY, ns, "httproutes", httproute("ranker", {"x": 100}))
    assert exc.value.status == 409
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(*GATEWAY, ns, "httproutes", httproute("bad", {"x": -1}))
    assert exc.value.status == 422
    custom.delete_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker")
    with pytest.raises(ApiException) as exc:
        custom.get_namespaced_custom_object(*GATEWAY, ns, "httproutes", "ranker")
    assert exc.value.status == 404


def test_label_selectors(apps, ns):
    for name, version in (("a", "1"), ("b", "2"), ("c", "3")):
        apps.create_namespaced_deployment(ns, deployment(name, version=version))

    def names(selector: str) -> list[str]:
        return [d.metadata.name for d in apps.list_namespaced_deployment(ns, label_selector=selector).items]

    assert names("slipway.io/version=2") == ["b"]
    assert names("slipway.io/version==2") == ["b"]
    assert names("slipway.io/version in (1,3)") == ["a", "c"]
    assert names("slipway.io/version notin (1,3)") == ["b"]
    assert names("slipway.io/version!=1,slipway.io/model=ranker") == ["b", "c"]
    assert names("app") == ["a", "b", "c"]
    assert names("!app") == []
    assert [d.metadata.name for d in apps.list_namespaced_deployment(ns, field_selector="metadata.name=c").items] == ["c"]


def test_namespace_deletion_cascades(apps, core, custom, ns):
    apps.create_namespaced_deployment(ns, deployment("ranker-v1"))
    core.create_namespaced_service(ns, service("ranker-v1"))
    custom.create_namespaced_custom_object(*GATEWAY, ns, "httproutes", httproute("ranker", {"ranker-v1": 100}))
    assert len(core.list_namespaced_pod(ns).items) == 2
    core.delete_namespace(ns)
    assert apps.list_deployment_for_all_namespaces().items == []
    assert core.list_service_for_all_namespaces().items == []
    assert core.list_pod_for_all_namespaces().items == []
    assert custom.list_cluster_custom_object(*GATEWAY, "httproutes")["items"] == []
    core.create_namespace({"metadata": {"name": ns}})  # the name is free again, and empty
    assert apps.list_namespaced_deployment(ns).items == []
