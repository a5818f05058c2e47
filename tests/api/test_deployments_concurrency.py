# ruff: noqa: F811  (pytest fixtures imported from tests/deployments/conftest.py are named as arguments)
"""Twenty people click the same button at once, over real HTTP (live_server, Bearer tokens).

Exactly one request wins (200), the other nineteen get a 409 problem, nobody gets a 5xx,
and the deployment made exactly one transition.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apps.core.models import AuditEvent
from apps.deployments import services
from apps.deployments.choices import DeploymentStatus, Phase
from apps.deployments.models import Approval, Deployment, Rollout, RolloutEvent
from apps.tenancy.services import issue_token
from tests import factories
from tests.deployments.conftest import SMALL, make_version, reconcile_spy  # noqa: F401

S = DeploymentStatus
N = 20


def fire(url: str, tokens: list[str], body: dict) -> list[tuple[int, dict]]:
    """POST `body` to `url` once per token, all released at the same instant."""
    barrier = threading.Barrier(len(tokens))

    def one(token: str) -> tuple[int, dict]:
        session = requests.Session()
        barrier.wait(timeout=30)
        response = session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        try:
            payload = response.json()
        except ValueError:
            payload = {"raw": response.text[:300]}
        return response.status_code, payload

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(one, tokens))


def tokens_for(users) -> list[str]:
    return [issue_token(user, actor=user, name="concurrency").secret for user in users]


def check_exactly_one_wins(results: list[tuple[int, dict]]) -> None:
    statuses = sorted(code for code, _ in results)
    assert not [r for r in results if r[0] >= 500], results
    assert statuses == [200] + [409] * (N - 1), statuses
    for code, body in results:
        if code == 409:
            assert body["code"] in ("invalid_transition", "concurrent_transition"), body
            assert body["status"] == 409


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_approvals_one_wins(live_server, recsys, reconcile_spy):
    requester = factories.user("ada", tenant=recsys)
    engineers = [factories.user(f"pe{i}", is_platform=True) for i in range(N)]
    version = make_version(factories.model(recsys, "ctr-ranker"), 1)
    deployment = services.request_deployment(version, environment="production",
                                             config={**SMALL, "soak_seconds": 300}, actor=requester)

    results = fire(f"{live_server.url}/api/v1/deployments/{deployment.pk}/approve/", tokens_for(engineers),
                   {"comment": "ship it"})

    check_exactly_one_wins(results)
    deployment.refresh_from_db()
    assert deployment.status == S.QUEUED
    assert Approval.objects.filter(deployment=deployment).count() == 1
    assert RolloutEvent.objects.filter(deployment=deployment, to_status=S.QUEUED).count() == 1
    assert AuditEvent.objects.filter(action="approval.approved").count() == 1
    assert reconcile_spy == [deployment.rollout.pk]  # enqueued once, on the winner's commit


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_aborts_by_the_team_one_wins(live_server, recsys, reconcile_spy):
    scientists = [factories.user(f"ds{i}", tenant=recsys, role="data_scientist") for i in range(N)]
    version = make_version(factories.model(recsys, "ctr-ranker"), 1)
    deployment = services.request_deployment(version, environment="staging", config=SMALL, actor=scientists[0])
    Deployment.objects.filter(pk=deployment.pk).update(status=S.PROGRESSING)
    Rollout.objects.filter(deployment=deployment).update(phase=Phase.STEP, step_index=0, canary_weight=5)
    reconcile_spy.clear()

    results = fire(f"{live_server.url}/api/v1/deployments/{deployment.pk}/abort/", tokens_for(scientists),
                   {"reason": "all hands"})

    check_exactly_one_wins(results)
    [winner] = [body for code, body in results if code == 200]
    assert winner["status"] == "rolled_back" and winner["rollout"]["abort_requested"] is True
    deployment.refresh_from_db()
    assert deployment.status == S.ROLLED_BACK
    assert RolloutEvent.objects.filter(deployment=deployment, to_status=S.ROLLED_BACK).count() == 1
    assert AuditEvent.objects.filter(action="deployment.rolled_back").count() == 1
    assert reconcile_spy == [deployment.rollout.pk]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_promotions_one_wins(live_server, recsys, reconcile_spy):
    requester = factories.user("ada", tenant=recsys)
    engineers = [factories.user(f"pe{i}", is_platform=True) for i in range(N)]
    version = make_version(factories.model(recsys, "ctr-ranker"), 1)
    deployment = services.request_deployment(version, environment="staging", config=SMALL, actor=requester)
    Deployment.objects.filter(pk=deployment.pk).update(status=S.PROGRESSING)
    Rollout.objects.filter(deployment=deployment).update(phase=Phase.STEP, step_index=0, canary_weight=5)

    results = fire(f"{live_server.url}/api/v1/deployments/{deployment.pk}/promote/", tokens_for(engineers), {})

    check_exactly_one_wins(results)
    assert Rollout.objects.get(deployment=deployment).promote_requested is True
    assert AuditEvent.objects.filter(action="deployment.promoted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_overrun_the_gpu_quota(live_server, recsys, reconcile_spy):
    """Eight requests of eight models, one GPU each, against a quota of three: three fit."""
    recsys.gpu_quota = 3
    recsys.save()
    scientists = [factories.user(f"ds{i}", tenant=recsys) for i in range(8)]
    versions = [make_version(factories.model(recsys, f"m{i}"), 1) for i in range(8)]
    tokens = tokens_for(scientists)
    barrier = threading.Barrier(8)

    def one(index: int) -> tuple[int, dict]:
        barrier.wait(timeout=30)
        response = requests.post(f"{live_server.url}/api/v1/deployments/", timeout=60,
                                  json={"version": versions[index].pk, "environment": "staging", "config": SMALL},
                                  headers={"Authorization": f"Bearer {tokens[index]}"})
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(8)))

    assert sorted(code for code, _ in results) == [201] * 3 + [400] * 5, results
    assert {body["code"] for code, body in results if code == 400} == {"gpu_quota_exceeded"}
    assert services.gpus_in_use(recsys.pk) == 3 and Deployment.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_one_model_start_one_rollout(live_server, recsys, reconcile_spy):
    scientists = [factories.user(f"ds{i}", tenant=recsys) for i in range(10)]
    version = make_version(factories.model(recsys, "ctr-ranker"), 1)
    results = fire(f"{live_server.url}/api/v1/deployments/", tokens_for(scientists),
                   {"version": version.pk, "environment": "staging", "config": SMALL})
    assert sorted(code for code, _ in results) == [201] + [409] * 9, results
    assert {body["code"] for code, body in results if code == 409} == {"deployment_in_progress"}
    assert Deployment.objects.count() == 1
