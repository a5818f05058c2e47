# ruff: noqa: F811  (pytest fixtures imported from the engine and deployments conftests are named as arguments)
"""The deployments API over a real rollout: the engine (tests/worker/engine Harness) drives
the dev cluster in-process, the API shows what happened and steers it.

The API enqueues `reconcile_rollout` on commit; `reconcile_spy` swallows that, and the
Harness ticks the reconciler itself (each tick twice, weights checked to sum to 100).
"""

from __future__ import annotations

import pytest
import requests

from apps.deployments.choices import DeploymentStatus, Phase
from apps.deployments.models import Deployment, Rollout
from tests import factories
from tests.deployments.conftest import SMALL, make_version
from tests.worker.engine.conftest import devcluster, harness, production, reconcile_spy, staging  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reconcile_spy")]

S = DeploymentStatus
URL = "/api/v1/deployments/"
ANALYSIS_FIELDS = {"id", "created_at", "kind", "step_index", "canary_weight", "window_seconds", "canary_requests",
                   "canary_errors", "canary_error_rate", "canary_p99_ms", "stable_requests", "stable_error_rate",
                   "stable_p99_ms", "verdict", "gate", "reason"}


@pytest.fixture
def ctr(recsys):
    return factories.model(recsys, "ctr-ranker")


def request(client, version, **config) -> Deployment:
    response = client.post(URL, {"version": version.pk, "environment": "staging", "config": {**SMALL, **config}})
    assert response.status_code == 201, response.content
    return Deployment.objects.get(pk=response.json()["id"])


def cluster_object(dc, namespace: str, name: str) -> dict:
    """The Deployment object as the dev cluster's Kubernetes API serves it (not via the adapter)."""
    response = requests.get(f"{dc.url}/apis/apps/v1/namespaces/{namespace}/deployments/{name}", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_detail_shows_analyses_events_and_the_cluster_objects(harness, as_user, ada, ctr, staging):
    client = as_user(ada)
    d = request(client, make_version(ctr, 1))
    harness.run_until(d, {S.LIVE})

    body = client.get(f"{URL}{d.pk}/").json()
    assert body["status"] == "live" and body["live_since"]
    assert body["rollout"]["canary_weight"] == 100 and body["rollout"]["stable_weight"] == 0
    smoke = [a for a in body["analyses"] if a["kind"] == "smoke"]
    assert smoke and set(smoke[-1]) == ANALYSIS_FIELDS
    assert smoke[-1]["verdict"] == "advance" and smoke[-1]["canary_requests"] >= 50
    assert smoke[-1]["canary_error_rate"] is not None and smoke[-1]["canary_p99_ms"] > 0
    assert [e["to_status"] for e in body["events"] if e["kind"] == "transition"] == ["queued", "progressing", "live"]

    # `cluster` names the objects the dev cluster really holds for this version.
    assert body["cluster"] == {"namespace": "slipway-recsys-staging", "workload": "ctr-ranker-v1"}
    obj = cluster_object(harness.dc, body["cluster"]["namespace"], body["cluster"]["workload"])
    labels = obj["metadata"]["labels"]
    assert labels["slipway.io/deployment"] == str(d.pk) and labels["slipway.io/version"] == "1"
    assert harness.weights(d) == {"ctr-ranker-v1": 100}


def test_canary_progress_is_visible_and_abort_puts_traffic_back_on_stable(harness, as_user, ada, ctr, staging):
    client = as_user(ada)
    old = request(client, make_version(ctr, 1))
    harness.run_until(old, {S.LIVE})
    new = request(client, make_version(ctr, 2))
    while Rollout.objects.get(deployment=new).phase != Phase.STEP:
        harness.advance(10)
        harness.tick(new)

    body = client.get(f"{URL}{new.pk}/").json()
    assert body["status"] == "progressing" and body["previous"] == old.pk
    rollout = body["rollout"]
    assert (rollout["phase"], rollout["step_index"], rollout["canary_weight"], rollout["stable_weight"]) == (
        "step", 0, 5, 95)
    assert harness.weights(new) == {"ctr-ranker-v1": 95, "ctr-ranker-v2": 5}
    listed = client.get(URL, {"status": "progressing"}).json()["results"]
    assert [(r["id"], r["canary_weight"]) for r in listed] == [(new.pk, 5)]

    response = client.post(f"{URL}{new.pk}/abort/", {"reason": "conversion dip"})
    assert response.status_code == 200 and response.json()["status"] == "rolled_back"
    harness.tick(new, twice=False)  # within one tick all traffic is on stable again
    assert harness.weights(new) == {"ctr-ranker-v1": 100, "ctr-ranker-v2": 0}
    assert harness.replicas(new) == 0
    events = client.get(f"{URL}{new.pk}/").json()["events"]
    assert any(e["actor"] == "ada" and "conversion dip" in e["message"] for e in events)


def test_breach_shows_the_gate_and_figures_that_tripped_it(harness, as_user, ada, ctr, staging):
    client = as_user(ada)
    old = request(client, make_version(ctr, 1))
    harness.run_until(old, {S.LIVE})
    new = request(client, make_version(ctr, 2), steps=[25, 50, 100])
    while Rollout.objects.get(deployment=new).phase != Phase.STEP:
        harness.advance(10)
        harness.tick(new)
    harness.behave(new, error_rate=0.2)
    harness.advance(10)
    harness.tick(new, twice=False)

    body = client.get(f"{URL}{new.pk}/").json()
    assert body["status"] == "rolled_back" and "error_rate" in body["status_reason"]
    [breach] = [a for a in body["analyses"] if a["verdict"] == "rollback"]
    assert breach["gate"] == "error_rate" and breach["canary_error_rate"] > 0.05
    assert breach["stable_error_rate"] is not None and breach["canary_requests"] > 0


def test_pause_resume_and_promote_through_the_api_steer_the_engine(harness, as_user, ada, linus, ctr, staging):
    old = request(as_user(ada), make_version(ctr, 1))
    harness.run_until(old, {S.LIVE})
    new = request(as_user(ada), make_version(ctr, 2), soak_seconds=3600)
    while Rollout.objects.get(deployment=new).phase != Phase.STEP:
        harness.advance(10)
        harness.tick(new)
    platform = as_user(linus)
    assert platform.post(f"{URL}{new.pk}/pause/", {}).json()["status"] == "paused"
    for _ in range(3):
        harness.advance(30)
        harness.tick(new)
    assert Rollout.objects.get(deployment=new).step_index == 0
    assert platform.post(f"{URL}{new.pk}/resume/", {}).json()["status"] == "progressing"
    assert platform.post(f"{URL}{new.pk}/promote/", {}).status_code == 200
    harness.advance(10)
    harness.tick(new, twice=False)
    # One step per promotion even though the 1-hour soak has not passed.
    assert Rollout.objects.get(deployment=new).step_index == 1
    assert client_weight(harness, new) == 25


def client_weight(harness, d) -> int:
    return harness.weights(d)["ctr-ranker-v2"]


def test_rollback_of_a_live_deployment_restores_the_previous_version(harness, as_user, ada, ctr, staging):
    client = as_user(ada)
    old = request(client, make_version(ctr, 1))
    harness.run_until(old, {S.LIVE})
    new = request(client, make_version(ctr, 2))
    harness.run_until(new, {S.LIVE})
    assert client.get(f"{URL}{old.pk}/").json()["status"] == "superseded"

    response = client.post(f"{URL}{new.pk}/rollback/", {"reason": "bad conversions"})
    assert response.status_code == 200 and response.json()["status"] == "rolled_back"
    harness.run_until(new, {S.ROLLED_BACK}, step_seconds=1, max_ticks=10)
    assert client.get(f"{URL}{old.pk}/").json()["status"] == "live"
    assert harness.weights(new) == {"ctr-ranker-v1": 100, "ctr-ranker-v2": 0}
    live = client.get(URL, {"status": "live", "model": ctr.pk}).json()["results"]
    assert [d["id"] for d in live] == [old.pk]
