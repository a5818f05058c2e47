"""Pods turn Ready after the configured delay; a pod-template change rolls out new pods."""

from __future__ import annotations

from tests.devcluster.conftest import deployment, sim


def _ready(apps, ns, name):
    status = apps.read_namespaced_deployment(name, ns).status
    return status.replicas, status.updated_replicas, status.ready_replicas or 0


def test_pods_turn_ready_after_the_delay(dc, apps, core, ns):
    assert sim(dc, "PUT", "/_sim/config", {"ready_delay_seconds": 2})[1]["ready_delay_seconds"] == 2
    apps.create_namespaced_deployment(ns, deployment("ranker-v1", replicas=3))

    pods = core.list_namespaced_pod(ns, label_selector="app=ranker-v1").items
    assert len(pods) == 3
    assert all(p.metadata.name.startswith("ranker-v1-") and len(p.metadata.name.split("-")) == 4 for p in pods)
    assert all(p.metadata.labels["slipway.io/model"] == "ranker" and p.metadata.labels["pod-template-hash"] for p in pods)
    assert {p.status.phase for p in pods} == {"Pending"}
    assert _ready(apps, ns, "ranker-v1") == (3, 3, 0)
    dep = apps.read_namespaced_deployment("ranker-v1", ns)
    assert dep.status.observed_generation == 1
    assert {c.type: c.status for c in dep.status.conditions} == {"Available": "False", "Progressing": "True"}

    dc.advance(1)
    assert _ready(apps, ns, "ranker-v1") == (3, 3, 0)
    dc.advance(1)
    assert _ready(apps, ns, "ranker-v1") == (3, 3, 3)
    pod = core.read_namespaced_pod(pods[0].metadata.name, ns)
    assert pod.status.phase == "Running"
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    dep = apps.read_namespaced_deployment("ranker-v1", ns)
    assert dep.status.available_replicas == 3
    assert {c.type: c.reason for c in dep.status.conditions}["Progressing"] == "NewReplicaSetAvailable"


def test_template_change_rolls_out_new_pods(dc, apps, core, ns):
    sim(dc, "PUT", "/_sim/config", {"ready_delay_seconds": 5})
    apps.create_namespaced_deployment(ns, deployment("ranker-v1", replicas=2))
    dc.advance(5)
    old = {p.metadata.name for p in core.list_namespaced_pod(ns).items}

    dep = apps.patch_namespaced_deployment("ranker-v1", ns, {"spec": {"template": {"spec": {"containers": [{"name": "model", "image": "img:2"}]}}}})
    assert dep.metadata.generation == 2 and dep.status.observed_generation == 2
    # Old pods keep serving while the new ones start: 2 old ready + 2 new not ready.
    assert _ready(apps, ns, "ranker-v1") == (4, 2, 2)
    pods = core.list_namespaced_pod(ns).items
    new = {p.metadata.name for p in pods} - old
    assert len(new) == 2 and {p.spec.containers[0].image for p in pods if p.metadata.name in new} == {"img:2"}

    dc.advance(5)
    assert _ready(apps, ns, "ranker-v1") == (2, 2, 2)
    assert {p.metadata.name for p in core.list_namespaced_pod(ns).items} == new


def test_scaling_adds_and_removes_pods(dc, apps, core, ns):
    apps.create_namespaced_deployment(ns, deployment("ranker-v1", replicas=1))
    apps.patch_namespaced_deployment_scale("ranker-v1", ns, {"spec": {"replicas": 4}})
    assert _ready(apps, ns, "ranker-v1") == (4, 4, 4)  # ready delay 0 in this fixture
    apps.patch_namespaced_deployment("ranker-v1", ns, {"spec": {"replicas": 0}})
    assert core.list_namespaced_pod(ns).items == []
    dep = apps.read_namespaced_deployment("ranker-v1", ns)
    assert dep.status.replicas == 0 and {c.type: c.status for c in dep.status.conditions}["Available"] == "True"
    apps.delete_namespaced_deployment("ranker-v1", ns)
    assert core.list_namespaced_pod(ns).items == []
