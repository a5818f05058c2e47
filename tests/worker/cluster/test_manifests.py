"""Generated manifests: valid against the Kubernetes schemas (strict) and the Gateway API CRD; labels and rules."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from tests.worker.cluster.conftest import HTTPROUTE_CRD, httproute_schema, route, tenant, workload
from worker.cluster import manifests
from worker.cluster.spec import RouteSpec, namespace_for, route_name, workload_name

K8S_VERSION = kubernetes_validate.utils.latest_version()  # the newest schema set the package ships

IDENTITY = ("slipway.io/tenant", "slipway.io/model", "slipway.io/version", "slipway.io/deployment")


def _all_core_objects():
    specs = [
        workload(),
        workload(gpus_per_replica=0, gpu_node=False, instance_type="c6i.2xlarge", spot_percent=100,
                 queue_depth_target=None, gpu_util_target=None, cpu="500m", memory="1Gi"),
        workload(spot_percent=35, gpus_per_replica=4, instance_type="g5.12xlarge", gpu_util_target=None),
    ]
    objects = manifests.tenant_objects(tenant(), environment="production",
                                       extra_ingress_namespaces=("monitoring",))
    for spec in specs:
        objects += manifests.workload_objects(spec, environment="production")
    return objects


@pytest.mark.parametrize("obj", _all_core_objects(), ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_core_manifests_validate_strictly_against_kubernetes_schemas(obj):
    assert kubernetes_validate.validate(obj, K8S_VERSION, strict=True) == K8S_VERSION[:4]


def test_strict_validation_would_catch_a_typo():
    # Given a valid Deployment with one misspelt field, strict validation refuses it (the check has teeth).
    obj = manifests.deployment(workload())
    obj["spec"]["template"]["spec"]["nodeSelectors"] = {"x": "y"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    obj = manifests.deployment(workload())
    obj["spec"]["replicas"] = "2"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("backends", [
    (("ctr-ranker-v3", 100),),
    (("ctr-ranker-v2", 90), ("ctr-ranker-v3", 10)),
    (("ctr-ranker-v2", 0), ("ctr-ranker-v3", 100)),
])
def test_httproute_validates_against_the_gateway_api_crd(backends):
    assert HTTPROUTE_CRD.is_file(), HTTPROUTE_CRD
    obj = manifests.http_route(route(*backends), gateway=manifests.GatewayRef("edge", "gateways"),
                               environment="staging")
    jsonschema.validate(obj, httproute_schema())
    assert obj["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert obj["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge",
                                          "namespace": "gateways"}]
    refs = obj["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"], r["port"], r["kind"]) for r in refs] == [(n, w, 80, "Service") for n, w in backends]
    assert sum(r["weight"] for r in refs) == 100
    assert manifests.route_weights(obj) == dict(backends)


def test_httproute_schema_is_strict_enough_to_catch_mistakes():
    obj = manifests.http_route(route())
    obj["spec"]["rules"][0]["backendRefs"][0]["weight"] = 2_000_000  # CRD maximum is 1,000,000
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, httproute_schema())
    obj = manifests.http_route(route())
    obj["spec"]["rules"][0]["backendRefs"][0]["wieght"] = 10
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, httproute_schema())


@pytest.mark.parametrize("backends", [
    (("a-v1", 50), ("a-v2", 49)),
    (("a-v1", 60), ("a-v2", 60)),
    (("a-v1", 101),),
    (("a-v1", -10), ("a-v2", 110)),
    (("a-v1", 50), ("a-v1", 50)),
    (),
])
def test_route_weights_must_sum_to_100(backends):
    with pytest.raises(ValueError):
        RouteSpec(namespace="slipway-recsys", tenant="recsys", model="a", backends=backends)


def test_every_object_carries_identity_managed_by_and_cost_labels():
    w = workload()
    for obj in manifests.workload_objects(w, environment="production"):
        labels = obj["metadata"]["labels"]
        assert {k: labels[k] for k in IDENTITY} == {"slipway.io/tenant": "recsys", "slipway.io/model": "ctr-ranker",
                                                    "slipway.io/version": "3", "slipway.io/deployment": "42"}
        assert labels["app.kubernetes.io/managed-by"] == "slipway"
        assert (labels["tenant"], labels["model"], labels["environment"]) == ("recsys", "ctr-ranker", "production")
        assert labels["team-cost-center"] == "cc-1234"
    pod_labels = manifests.deployment(w)["spec"]["template"]["metadata"]["labels"]
    assert {k: pod_labels[k] for k in IDENTITY} == {"slipway.io/tenant": "recsys", "slipway.io/model": "ctr-ranker",
                                                    "slipway.io/version": "3", "slipway.io/deployment": "42"}
    for obj in manifests.tenant_objects(tenant(), environment="staging"):
        labels = obj["metadata"]["labels"]
        assert labels["slipway.io/tenant"] == labels["tenant"] == "recsys"
        assert labels["app.kubernetes.io/managed-by"] == "slipway"
        assert labels["environment"] == "staging"
    route_labels = manifests.http_route(route(), environment="staging")["metadata"]["labels"]
    assert (route_labels["slipway.io/model"], route_labels["slipway.io/deployment"]) == ("ctr-ranker", "42")


def test_selectors_pick_one_model_version():
    w = workload()
    dep, svc = manifests.deployment(w), manifests.service(w)
    expected = {"slipway.io/model": "ctr-ranker", "slipway.io/version": "3"}
    assert dep["spec"]["selector"] == {"matchLabels": expected}
    assert svc["spec"]["selector"] == expected
    template = dep["spec"]["template"]["metadata"]["labels"]
    assert expected.items() <= template.items()
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_gpu_workload_gets_gpu_limits_node_selector_and_toleration():
    pod = manifests.deployment(workload(gpus_per_replica=4, instance_type="g5.12xlarge"))["spec"]["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "4"
    assert resources["requests"]["nvidia.com/gpu"] == "4"  # extended resources: requests == limits
    assert resources["limits"]["memory"] == "12Gi" and resources["requests"]["cpu"] == "3"
    assert all(isinstance(v, str) for part in resources.values() for v in part.values())
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "g5.12xlarge", "slipway.io/node-group": "gpu"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    probe = pod["containers"][0]["readinessProbe"]
    assert probe["httpGet"]["port"] == "http" and probe["periodSeconds"] > 0


def test_cpu_workload_has_no_gpu_resources_and_no_gpu_toleration():
    pod = manifests.deployment(workload(gpus_per_replica=0, gpu_node=False, instance_type="c6i.2xlarge"))[
        "spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]
    assert "tolerations" not in pod
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "c6i.2xlarge"}


def _terms(affinity, key):
    return {(expr["key"], tuple(expr["values"]))
            for term in affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            for expr in term["matchExpressions"] if expr["key"] == key}


def test_on_demand_only_is_a_required_affinity():
    dep = manifests.deployment(workload(spot_percent=0))
    affinity = dep["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    assert _terms(affinity, "karpenter.sh/capacity-type") == {("karpenter.sh/capacity-type", ("on-demand",))}
    assert _terms(affinity, "eks.amazonaws.com/capacityType") == {("eks.amazonaws.com/capacityType", ("ON_DEMAND",))}
    assert "preferredDuringSchedulingIgnoredDuringExecution" not in affinity
    assert dep["spec"]["template"]["metadata"]["labels"]["slipway.io/capacity"] == "on-demand"


def test_spot_only_is_a_required_affinity():
    dep = manifests.deployment(workload(spot_percent=100))
    affinity = dep["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    assert _terms(affinity, "karpenter.sh/capacity-type") == {("karpenter.sh/capacity-type", ("spot",))}
    assert _terms(affinity, "eks.amazonaws.com/capacityType") == {("eks.amazonaws.com/capacityType", ("SPOT",))}
    assert dep["spec"]["template"]["metadata"]["labels"]["slipway.io/capacity"] == "spot"


def test_mixed_spot_is_a_weighted_preference():
    dep = manifests.deployment(workload(spot_percent=30))
    affinity = dep["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in affinity
    weights = {(p["preference"]["matchExpressions"][0]["key"], p["preference"]["matchExpressions"][0]["values"][0]):
               p["weight"] for p in affinity["preferredDuringSchedulingIgnoredDuringExecution"]}
    assert weights == {("karpenter.sh/capacity-type", "spot"): 30, ("eks.amazonaws.com/capacityType", "SPOT"): 30,
                       ("karpenter.sh/capacity-type", "on-demand"): 70,
                       ("eks.amazonaws.com/capacityType", "ON_DEMAND"): 70}
    assert dep["metadata"]["annotations"]["slipway.io/spot-percent"] == "30"
    assert dep["spec"]["template"]["metadata"]["labels"]["slipway.io/capacity"] == "mixed"


def test_hpa_targets_queue_depth_and_gpu_utilisation():
    h = manifests.hpa(workload(min_replicas=2, max_replicas=9, queue_depth_target=8, gpu_util_target=70))
    spec = h["spec"]
    assert (h["apiVersion"], spec["minReplicas"], spec["maxReplicas"]) == ("autoscaling/v2", 2, 9)
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ctr-ranker-v3"}
    targets = {m["pods"]["metric"]["name"]: m["pods"]["target"] for m in spec["metrics"]}
    assert targets == {"slipway_queue_depth": {"type": "AverageValue", "averageValue": "8"},
                       "DCGM_FI_DEV_GPU_UTIL": {"type": "AverageValue", "averageValue": "70"}}


def test_hpa_without_targets_scales_on_cpu():
    spec = manifests.hpa(workload(queue_depth_target=None, gpu_util_target=None))["spec"]
    assert spec["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def test_tenant_quota_and_network_policies():
    ns, quota, deny, allow = manifests.tenant_objects(tenant(gpu_quota=12), gateway=manifests.GatewayRef("gw", "edge"))
    assert ns["metadata"]["name"] == "slipway-recsys"
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": "12"}
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    sources = allow["spec"]["ingress"][0]["from"]
    assert sources == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}}]
    egress = allow["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in egress["ports"]} == {("UDP", 53), ("TCP", 53)}


def test_naming_helpers():
    assert namespace_for("recsys") == "slipway-recsys"
    assert workload_name("ctr-ranker", 3) == "ctr-ranker-v3"
    assert route_name("ctr-ranker") == "ctr-ranker"


@pytest.mark.parametrize("overrides", [
    {"spot_percent": 101}, {"spot_percent": -1}, {"min_replicas": 5, "max_replicas": 2}, {"min_replicas": 0},
    {"cpu": 2}, {"memory": "lots"}, {"name": "CTR_Ranker"}, {"gpu_util_target": 120}, {"replicas": -1},
])
def test_invalid_workload_specs_are_refused(overrides):
    with pytest.raises(ValueError):
        workload(**overrides)
