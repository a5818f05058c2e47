"""deploy / status / approve / reject / rollback through the CLI against real rollouts.

The portal is live_server; the rollouts are driven by the real engine in a background
thread against an in-process dev cluster (tests/cli/conftest.py `engine`). Each test checks
the exit code a pipeline branches on: 0 live, 2 rolled back, 3 rejected, 5 timed out.
"""

from __future__ import annotations

import time

import requests

from apps.deployments import services
from apps.deployments.models import Deployment, Rollout
from apps.readiness.choices import ItemStatus
from apps.registry import services as registry
from tests import factories
from tests.cli.conftest import wait_for_status


def ready_version(model, number: int):
    version = factories.version(model, number)
    version.checklist.update(status=ItemStatus.PASS, detail="passed for the CLI test")
    return version


def wait_until(predicate, *, seconds: float = 30, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_deploy_to_staging_waits_until_live(run_cli, ada, recsys, engine):
    model = factories.model(recsys, "feed")
    factories.version(model, 1)

    result = run_cli(ada, "deploy", "feed", "1", "--env", "staging", "--instance-type", "g5.xlarge",
                     "--replicas", "1", "--max-replicas", "2", "--wait", "--timeout", "60", "--json")
    assert result.code == 0, result.err
    detail = result.json()  # stdout: only the final deployment
    assert detail["status"] == "live" and detail["environment"] == "staging"
    assert detail["config"]["max_replicas"] == 2
    # stderr: the request, one progress line per change (not a TTY), then the outcome.
    lines = result.err.splitlines()
    assert lines[0].startswith(f"Requested #{detail['id']} feed v1 → staging: queued (canary, 1× g5.xlarge)")
    assert any("progressing" in line and "canary 100 % / stable 0 %" in line for line in lines), result.err
    assert any("last analysis: ok" in line for line in lines), result.err
    assert lines[-1] == f"#{detail['id']} feed v1 → staging is live."
    assert len(lines) == len(set(lines))  # a line only when something changed

    status = run_cli(ada, "status", str(detail["id"]))
    assert status.code == 0
    assert "status:" in status.out and "live" in status.out and "smoke" in status.out
    listed = run_cli(ada, "status")
    assert listed.code == 0 and "feed v1" in listed.out and "live" in listed.out
    assert [d["id"] for d in run_cli(ada, "status", "--mine", "--json").json()] == [detail["id"]]
    assert run_cli(ada, "models", "show", "feed", "--json").json()["live"][0]["deployment"] == detail["id"]


def test_production_waits_through_approval_by_another_user(run_cli, background, ada, linus, recsys, mlflow,
                                                           mlflow_name, engine):
    # Production checks the artifact in MLflow before it starts: a real, imported version.
    number = factories.reproducible_version(mlflow, mlflow_name)
    model = factories.model(recsys, "feed", mlflow_name=mlflow_name)
    version = registry.import_version(model, actor=ada, mlflow_version=number)
    version.checklist.update(status=ItemStatus.PASS, detail="passed for the CLI test")

    waiting = background(ada, "deploy", "feed", str(number), "--env", "production", "--instance-type", "g5.xlarge",
                         "--replicas", "1", "--max-replicas", "2", "--wait", "--timeout", "60")
    deployment = wait_until(lambda: Deployment.objects.filter(model=model, status="pending_approval").first(),
                            what="the production request")
    # The requester cannot approve (not a platform engineer, and never their own request).
    own = run_cli(ada, "approve", str(deployment.pk))
    assert own.code == 6 and "HTTP 403" in own.err

    approved = run_cli(linus, "approve", str(deployment.pk), "--comment", "Plan checked.")
    assert approved.code == 0, approved.err
    assert f"Approved #{deployment.pk} feed v{number} → production: now queued." in approved.err

    result = waiting.finish()
    assert result.code == 0, result.err
    assert "waiting for a platform engineer" in result.err
    assert f"#{deployment.pk} feed v{number} → production is live." in result.err
    assert "approved:" in result.out and "Plan checked." in result.out  # the final status block
    deployment.refresh_from_db()
    assert deployment.status == "live"


def test_a_misbehaving_canary_rolls_back_and_exits_2(run_cli, background, ada, recsys, engine):
    model = factories.model(recsys, "feed")
    v1, _ = factories.version(model, 1), factories.version(model, 2)
    stable = services.request_deployment(v1, environment="staging", actor=ada,
                                         config={"instance_type": "g5.xlarge", "min_replicas": 1, "max_replicas": 2})
    wait_for_status(stable, "live")

    waiting = background(ada, "deploy", "feed", "2", "--env", "staging", "--steps", "50,100", "--soak", "120",
                         "--replicas", "1", "--max-replicas", "2", "--wait", "--timeout", "60")
    canary = wait_until(lambda: Deployment.objects.filter(model=model, version__version=2).first(),
                        what="the canary")
    wait_until(lambda: Rollout.objects.filter(deployment=canary, canary_weight=50, phase="step").exists(),
               what="step 1 at 50 %")
    # Make the canary fail through the dev cluster's admin API, as an on-call person would see it.
    response = requests.put(f"{engine.url}/_sim/workloads/{canary.namespace}/{canary.workload}",
                            json={"error_rate": 0.2}, timeout=5)
    response.raise_for_status()

    result = waiting.finish()
    assert result.code == 2, result.err
    assert any("step 1/2" in line and "canary 50 % / stable 50 %" in line for line in result.err.splitlines())
    assert f"slipway: error: #{canary.pk} feed v2 → staging was rolled back" in result.err
    assert "error_rate" in result.err
    assert "status:" in result.out and "rolled_back" in result.out

    status = run_cli(ada, "status", str(canary.pk), "--json")
    assert status.code == 2 and status.json()["status"] == "rolled_back"
    # v1 is still live; rolling it back has nothing to go back to: refused, and said why.
    refused = run_cli(ada, "rollback", str(stable.pk), "--reason", "try")
    assert refused.code == 6 and "HTTP 409" in refused.err


def test_timeout_exits_5_and_a_rejection_exits_3(run_cli, background, ada, linus, recsys, live_server):
    model = factories.model(recsys, "feed")
    ready_version(model, 1)

    timed_out = run_cli(ada, "deploy", "feed", "1", "--env", "production", "--wait", "--timeout", "0.5")
    assert timed_out.code == 5, timed_out.err
    deployment = Deployment.objects.get(model=model)
    assert f"timed out after 0.5 s: #{deployment.pk} is pending approval" in timed_out.err
    assert f"slipway status {deployment.pk} --wait" in timed_out.err

    waiting = background(ada, "status", str(deployment.pk), "--wait", "--timeout", "30")
    no_comment = run_cli(linus, "reject", str(deployment.pk))
    assert no_comment.code == 6
    assert "- comment:" in no_comment.err
    assert run_cli(linus, "reject", str(deployment.pk), "--comment", "Wait for the fairness review.").code == 0

    result = waiting.finish()
    assert result.code == 3, result.err
    assert f"#{deployment.pk} feed v1 → production was rejected by linus: Wait for the fairness review." in result.err
    assert run_cli(ada, "status", str(deployment.pk)).code == 3
