"""Deployment requests: config rules, GPU quota, readiness, one active rollout per model and environment."""

from __future__ import annotations

import pytest

from apps.core.errors import Conflict, NotFound, NotPermitted, QuotaExceeded, ValidationFailed
from apps.core.models import AuditEvent
from apps.deployments import services
from apps.deployments.choices import DeploymentStatus, Strategy
from apps.deployments.models import Deployment
from apps.readiness.choices import ItemStatus
from tests.deployments.conftest import SMALL, make_version


def fields(exc: ValidationFailed) -> dict[str, str]:
    return {field: code for field, code, _ in exc.errors}


def test_staging_request_is_queued_at_once(ada, v1, staging):
    deployment = services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    assert deployment.status == DeploymentStatus.QUEUED
    assert deployment.config["steps"] == [5, 25, 50, 100]
    assert deployment.reserved_gpus == 1 and deployment.peak_gpus == 1
    assert deployment.rollout.steps == [5, 25, 50, 100]
    assert AuditEvent.objects.filter(action="deployment.requested", object_id=str(deployment.pk)).count() == 1


def test_production_request_waits_for_approval(ada, v1, production):
    deployment = services.request_deployment(v1, environment=production, config={**SMALL, "soak_seconds": 300},
                                             actor=ada)
    assert deployment.status == DeploymentStatus.PENDING_APPROVAL


def test_production_refuses_a_version_that_is_not_ready_naming_the_items(ada, ctr, production):
    version = make_version(ctr, 5, ready=False)
    version.checklist.exclude(key__in=["fallback", "bias_review"]).update(status=ItemStatus.PASS)
    with pytest.raises(ValidationFailed) as caught:
        services.request_deployment(version, environment=production, config={**SMALL, "soak_seconds": 300}, actor=ada)
    assert "fallback" in caught.value.message and "bias_review" in caught.value.message
    assert not Deployment.objects.exists()


def test_staging_accepts_a_version_that_is_not_ready(ada, ctr, staging):
    version = make_version(ctr, 6, ready=False)
    assert services.request_deployment(version, environment=staging, config=SMALL, actor=ada).pk


@pytest.mark.parametrize(("config", "field", "code"), [
    ({"instance_type": "x9.huge"}, "config.instance_type", "unknown_instance_type"),
    ({"instance_type": "g5.xlarge", "gpus_per_replica": 2}, "config.gpus_per_replica", "exceeds_instance"),
    ({"min_replicas": 3, "max_replicas": 2}, "config.max_replicas", "min_above_max"),
    ({"spot_percent": 101}, "config.spot_percent", "out_of_range"),
    ({"spot_percent": -1}, "config.spot_percent", "out_of_range"),
    ({"steps": [5, 50, 25, 100]}, "config.steps", "not_increasing"),
    ({"steps": [5, 25, 50]}, "config.steps", "must_end_at_100"),
    ({"steps": [0, 100]}, "config.steps", "out_of_range"),
    ({"steps": "5,25"}, "config.steps", "invalid"),
    ({"soak_seconds": 5}, "config.soak_seconds", "below_minimum_soak"),
    ({"min_replicas": "two"}, "config.min_replicas", "invalid"),
    ({"min_replicas": True}, "config.min_replicas", "invalid"),
    ({"colour": "blue"}, "config.colour", "unknown_field"),
    ({"autoscaling": {"gpu_utilization": 150}}, "config.autoscaling.gpu_utilization", "out_of_range"),
    ({"strategy": "big-bang"}, "config.strategy", "invalid_choice"),
    ({"image": "x" * 301}, "config.image", "invalid"),
])
def test_bad_config_names_the_field_and_rule_and_writes_nothing(ada, v1, staging, config, field, code):
    with pytest.raises(ValidationFailed) as caught:
        services.request_deployment(v1, environment="staging", config={**SMALL, **config}, actor=ada)
    assert fields(caught.value).get(field) == code, caught.value.errors
    assert not Deployment.objects.exists()


def test_config_that_is_not_an_object_is_refused(ada, v1, staging):
    with pytest.raises(ValidationFailed) as caught:
        services.request_deployment(v1, environment="staging", config=[1, 2], actor=ada)
    assert fields(caught.value) == {"config": "invalid"}


def test_unknown_environment_is_a_field_error(ada, v1):
    with pytest.raises(ValidationFailed) as caught:
        services.request_deployment(v1, environment="moon", config=SMALL, actor=ada)
    assert "environment" in fields(caught.value)


def test_plan_that_does_not_fit_the_quota_is_refused_with_the_numbers(ada, v1, staging, recsys):
    recsys.gpu_quota = 3
    recsys.save()
    with pytest.raises(QuotaExceeded) as caught:
        services.request_deployment(v1, environment="staging", config={**SMALL, "min_replicas": 4, "max_replicas": 4},
                                    actor=ada)
    assert caught.value.extra["gpu"] == {"quota": 3, "in_use": 0, "headroom": 3, "needed": 4}
    assert "Needs 4 GPU(s)" in caught.value.message and "0 of 3" in caught.value.message


def test_canary_needs_room_for_both_versions(ada, ctr, v1, v2, staging, recsys):
    recsys.gpu_quota = 3
    recsys.save()
    live = services.request_deployment(v1, environment="staging", config={**SMALL, "min_replicas": 2,
                                                                          "max_replicas": 2}, actor=ada)
    Deployment.objects.filter(pk=live.pk).update(status=DeploymentStatus.LIVE)
    with pytest.raises(QuotaExceeded):
        services.request_deployment(v2, environment="staging", config={**SMALL, "min_replicas": 2,
                                                                       "max_replicas": 2}, actor=ada)
    # Rolling fits: one replica at a time within the single free GPU.
    rolling = services.request_deployment(v2, environment="staging", config={
        **SMALL, "min_replicas": 2, "max_replicas": 2, "strategy": "rolling"}, actor=ada)
    assert rolling.strategy == Strategy.ROLLING
    assert rolling.rollout.batches == [[1, 1, 50], [2, 0, 100]]
    assert rolling.rollout.steps == [50, 100]
    assert rolling.peak_gpus == 1


def test_cpu_instance_needs_no_gpu(ada, v1, staging, recsys):
    recsys.gpu_quota = 0
    recsys.save()
    deployment = services.request_deployment(v1, environment="staging", config={
        "instance_type": "c6i.xlarge", "gpus_per_replica": 0, "min_replicas": 2, "max_replicas": 3}, actor=ada)
    assert deployment.reserved_gpus == 0


def test_one_active_rollout_per_model_and_environment(ada, v1, v2, staging):
    services.request_deployment(v1, environment="staging", config=SMALL, actor=ada)
    with pytest.raises(Conflict):
        services.request_deployment(v2, environment="staging", config=SMALL, actor=ada)


def test_viewer_cannot_deploy(vera, v1, staging):
    with pytest.raises(NotPermitted):
        services.request_deployment(v1, environment="staging", config=SMALL, actor=vera)


def test_other_team_cannot_see_the_version(grace, v1, staging):
    with pytest.raises(NotFound):
        services.request_deployment(v1, environment="staging", config=SMALL, actor=grace)


def test_preview_prices_the_plan(ada, v1, staging):
    result = services.preview(v1, environment="staging", config={**SMALL, "min_replicas": 2, "spot_percent": 50},
                              actor=ada)
    # g5.xlarge: (1.006 × 0.5 + 0.4024 × 0.5) × 2 replicas
    assert str(result.plan.hourly_usd) == "1.41"
    assert result.plan.fits and result.plan.headroom == 16 - 0 or result.plan.headroom == result.plan.quota
