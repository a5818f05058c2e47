# ruff: noqa: F811  (pytest fixtures imported from tests/deployments/conftest.py are named as arguments)
"""What deployments change elsewhere in the API: a team's GPUs in use, a model's live versions."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.deployments import services
from apps.deployments.choices import DeploymentStatus
from apps.deployments.models import Deployment
from tests import factories
from tests.deployments.conftest import SMALL, make_version, production, reconcile_spy, staging  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("reconcile_spy")]

S = DeploymentStatus


def deploy(version, actor, env="staging", **config) -> Deployment:
    extra = {"soak_seconds": 300} if env == "production" else {}
    return services.request_deployment(version, environment=env, config={**SMALL, **extra, **config}, actor=actor)


# --- tenants: gpu_in_use ----------------------------------------------------------------

def test_tenant_gpu_in_use_is_what_the_quota_check_counts(as_user, ada, grace, linus, recsys, search, staging,
                                                          production):
    recsys.gpu_quota = 20
    recsys.save()
    ranker, feed = factories.model(recsys, "ranker"), factories.model(recsys, "feed")
    deploy(make_version(ranker, 1), ada, min_replicas=3, max_replicas=3)                  # queued: 3
    live = deploy(make_version(feed, 1), ada, min_replicas=2, max_replicas=2)             # live: 2
    Deployment.objects.filter(pk=live.pk).update(status=S.LIVE)
    deploy(make_version(ranker, 2), ada, env="production", min_replicas=4, max_replicas=4)  # pending: not held
    done = deploy(make_version(feed, 2), ada, env="production")
    Deployment.objects.filter(pk=done.pk).update(status=S.ROLLED_BACK)                    # finished: not held
    deploy(make_version(factories.model(search, "finder"), 1), grace)                    # search: 1

    teams = {t["slug"]: t for t in as_user(linus).get("/api/v1/tenants/").json()["results"]}
    assert teams["recsys"]["gpu_in_use"] == services.gpus_in_use(recsys.pk) == 5
    assert teams["recsys"]["gpu_headroom"] == recsys.gpu_quota - 5
    assert teams["search"]["gpu_in_use"] == services.gpus_in_use(search.pk) == 1
    one = as_user(ada).get("/api/v1/tenants/recsys/").json()
    assert (one["gpu_in_use"], one["gpu_headroom"]) == (5, 15)


def test_tenant_list_query_count_does_not_grow_with_deployments(bearer, linus, recsys, ada, staging,
                                                                django_assert_max_num_queries):
    recsys.gpu_quota = 40
    recsys.save()
    client = bearer(linus)
    for i in range(3):
        deploy(make_version(factories.model(recsys, f"m{i}"), 1), ada)
    client.get("/api/v1/tenants/")
    with django_assert_max_num_queries(10) as small:
        client.get("/api/v1/tenants/")
    for i in range(3, 20):
        factories.tenant(f"team{i}")
        deploy(make_version(factories.model(recsys, f"m{i}"), 1), ada)
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = client.get("/api/v1/tenants/").json()
    assert {t["slug"]: t["gpu_in_use"] for t in body["results"]}["recsys"] == 20


# --- models: live -----------------------------------------------------------------------

def test_model_detail_says_which_version_is_live_where_and_since_when(as_user, ada, recsys, staging, production):
    ranker = factories.model(recsys, "ranker")
    v1, v2 = make_version(ranker, 1), make_version(ranker, 2)
    url = f"/api/v1/models/{ranker.pk}/"
    assert as_user(ada).get(url).json()["live"] == []

    prod = deploy(v1, ada, env="production")
    since = timezone.now().replace(microsecond=0)
    Deployment.objects.filter(pk=prod.pk).update(status=S.LIVE, live_since=since)
    stage = deploy(v2, ada)
    Deployment.objects.filter(pk=stage.pk).update(status=S.LIVE, live_since=since)

    live = as_user(ada).get(url).json()["live"]
    assert live == [
        {"environment": "staging", "version": 2, "version_id": v2.pk, "deployment": stage.pk,
         "since": since.isoformat().replace("+00:00", "Z")},
        {"environment": "production", "version": 1, "version_id": v1.pk, "deployment": prod.pk,
         "since": since.isoformat().replace("+00:00", "Z")},
    ]
    # A rolled-back or superseded deployment is not live anywhere.
    Deployment.objects.filter(pk=stage.pk).update(status=S.SUPERSEDED)
    assert [row["environment"] for row in as_user(ada).get(url).json()["live"]] == ["production"]


def test_model_detail_query_count_does_not_grow_with_deployments(as_user, ada, recsys, staging,
                                                                 django_assert_max_num_queries):
    ranker = factories.model(recsys, "ranker")
    url = f"/api/v1/models/{ranker.pk}/"
    client = as_user(ada)
    first = deploy(make_version(ranker, 1), ada)
    Deployment.objects.filter(pk=first.pk).update(status=S.LIVE, live_since=timezone.now())
    with django_assert_max_num_queries(10) as small:
        assert client.get(url).status_code == 200
    for number in range(2, 12):
        d = deploy(make_version(ranker, number), ada)
        Deployment.objects.filter(pk=d.pk).update(status=S.SUPERSEDED)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(url).json()["live"]) == 1


def test_another_teams_model_is_still_404(as_user, grace, recsys):
    ranker = factories.model(recsys, "ranker")
    assert as_user(grace).get(f"/api/v1/models/{ranker.pk}/").status_code == 404
