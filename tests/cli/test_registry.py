"""Models, MLflow version import, the checklist, plans, costs and drift through the CLI, and
how it prints the API's problem details (exit 6, every field error named)."""

from __future__ import annotations

from datetime import timedelta

from apps.readiness.choices import ItemStatus
from apps.readiness.models import ChecklistItem
from apps.registry.models import Model
from tests import factories


def test_models_create_list_show(run_cli, ada, grace, live_server):
    created = run_cli(ada, "models", "create", "ctr-ranker", "--team", "recsys", "--owner", "ada@example.com",
                      "--oncall", "#recsys-oncall", "--sla-p99-ms", "150", "--primary-metric", "auc",
                      "--primary-metric-floor", "0.7")
    assert created.code == 0, created.err
    assert "Registered ctr-ranker" in created.err
    model = Model.objects.get(name="ctr-ranker")
    assert (model.tenant.slug, model.sla_p99_ms, model.primary_metric_floor) == ("recsys", 150, 0.7)

    listed = run_cli(ada, "models", "list")
    assert listed.code == 0
    assert listed.out.splitlines()[0].split()[:3] == ["ID", "TEAM", "NAME"]
    assert "ctr-ranker" in listed.out and "150 ms" in listed.out
    rows = run_cli(ada, "models", "list", "--json").json()
    assert [r["name"] for r in rows] == ["ctr-ranker"]

    shown = run_cli(ada, "models", "show", "ctr-ranker")
    assert shown.code == 0
    assert "team recsys" in shown.out and "Not live anywhere." in shown.out
    assert run_cli(ada, "models", "show", str(model.pk), "--json").json()["live"] == []

    # Another team's model is simply not there (404 → exit 6), by name or by id.
    assert run_cli(grace, "models", "show", "ctr-ranker").code == 6
    other = run_cli(grace, "models", "show", str(model.pk))
    assert other.code == 6 and "Not found (HTTP 404, not_found)" in other.err


def test_a_refused_request_prints_every_field_error_and_exits_6(run_cli, ada, vera, live_server):
    result = run_cli(ada, "models", "create", "Not A Slug!", "--team", "recsys", "--sla-p99-ms", "-5")
    assert result.code == 6
    assert result.out == ""
    assert "Invalid request (HTTP 400" in result.err
    assert "- name:" in result.err and "- sla_p99_ms:" in result.err  # both fields, each named

    factories.model(ada.memberships.first().tenant, "taken")
    duplicate = run_cli(ada, "models", "create", "taken", "--team", "recsys")
    assert duplicate.code == 6
    assert "This team already has a model named 'taken'. [duplicate_name]" in duplicate.err

    unknown_team = run_cli(ada, "models", "create", "x", "--team", "nope")
    assert unknown_team.code == 6 and "- tenant:" in unknown_team.err

    viewer = run_cli(vera, "models", "create", "mine", "--team", "recsys")
    assert viewer.code == 6 and "Not permitted (HTTP 403" in viewer.err


def test_import_a_version_from_mlflow_and_work_its_checklist(run_cli, ada, linus, recsys, mlflow, mlflow_name,
                                                             live_server):
    number = factories.reproducible_version(mlflow, mlflow_name, metrics={"auc": 0.93})
    factories.model(recsys, "churn", mlflow_name=mlflow_name)

    imported = run_cli(ada, "versions", "import", "churn", str(number), "--json")
    assert imported.code == 0, imported.err
    version = imported.json()
    assert version["version"] == number and version["metrics"]["auc"] == 0.93
    assert version["git_commit"] == factories.REPRODUCIBLE_TAGS["git_commit"]
    assert version["artifact_digest"].startswith("sha256:")

    again = run_cli(ada, "versions", "import", "churn", str(number))
    assert again.code == 6 and "HTTP 409, version_exists" in again.err  # imported already: refused, named
    rerun = run_cli(ada, "versions", "import", "churn", str(number), "--exist-ok", "--json")
    assert rerun.code == 0 and rerun.json()["id"] == version["id"]  # a re-run pipeline goes on
    missing = run_cli(ada, "versions", "import", "churn", "99")
    assert missing.code == 6 and "mlflow_version" in missing.err

    listed = run_cli(ada, "versions", "list", "churn")
    assert listed.code == 0 and f"v{number}" in listed.out and "not ready" in listed.out
    shown = run_cli(ada, "versions", "show", str(version["id"]))
    assert shown.code == 0 and "FAILING ITEM" in shown.out and "bias_review" in shown.out

    checklist = run_cli(ada, "checklist", "show", str(version["id"]))
    assert checklist.code == 0
    assert "reproducibility" in checklist.out and "passed or waived" in checklist.out

    attested = run_cli(ada, "checklist", "attest", str(version["id"]), "bias_review", "--status", "pass",
                       "--evidence", "https://wiki.example/fairness/churn")
    assert attested.code == 0, attested.err
    assert "bias_review: pass (attested by ada)" in attested.err
    item = ChecklistItem.objects.get(version_id=version["id"], key="bias_review")
    assert item.status == ItemStatus.PASS and item.evidence == "https://wiki.example/fairness/churn"

    no_evidence = run_cli(ada, "checklist", "attest", str(version["id"]), "fallback")
    assert no_evidence.code == 6 and "evidence" in no_evidence.err
    not_platform = run_cli(ada, "checklist", "waive", str(version["id"]), "fallback", "--reason", "later")
    assert not_platform.code == 6 and "HTTP 403" in not_platform.err
    waived = run_cli(linus, "checklist", "waive", str(version["id"]), "fallback", "--reason", "batch model",
                     "--json")
    assert waived.code == 0 and waived.json()["status"] == "waived"

    evaluated = run_cli(ada, "checklist", "evaluate", str(version["id"]), "--json")
    assert evaluated.code == 0 and evaluated.json()["status"] == "queued"


def test_plan_is_a_dry_run_that_names_what_would_be_refused(run_cli, ada, recsys, live_server):
    model = factories.model(recsys, "ranker")
    version = factories.version(model, 1)
    plan = run_cli(ada, "plan", "ranker", "1", "--env", "staging", "--instance-type", "g5.xlarge",
                   "--replicas", "2", "--max-replicas", "4", "--spot", "50", "--steps", "5,25,50,100",
                   "--soak", "60")
    assert plan.code == 0, plan.err
    assert "2–4× g5.xlarge" in plan.out and "5 % → 25 % → 50 % → 100 %" in plan.out
    assert "nothing (first deployment)" in plan.out
    assert not version.deployments.exists()

    data = run_cli(ada, "plan", "ranker", "v1", "--env", "production", "--json")
    assert data.code == 6  # not ready for production: a request would be refused
    body = data.json()
    assert body["requires_approval"] is True and body["would_be_refused"] is True and "bias_review" in body["failing"]

    bad = run_cli(ada, "plan", "ranker", "1", "--env", "staging", "--steps", "5,x", "--replicas", "500")
    assert bad.code == 6
    assert "- config.steps:" in bad.err and "- config.min_replicas:" in bad.err

    assert run_cli(ada, "plan", "ranker", "7", "--env", "staging").code == 6  # no such version
    unknown = run_cli(ada, "plan", "ranker", "1", "--env", "moon")
    assert unknown.code == 6 and "moon" in unknown.err


def test_costs_and_drift(run_cli, ada, recsys, live_server):
    from apps.costs.services import meter_hour
    from apps.drift import services as drift
    from tests.costs.conftest import H10, deploy

    model = factories.model(recsys, "ranker")
    version = factories.version(model, 1)
    deploy(version, "staging", transitions=[(H10 - timedelta(hours=2), "progressing"),
                                            (H10 - timedelta(hours=1), "live")])
    meter_hour(H10, now=H10 + timedelta(hours=2))

    report = run_cli(ada, "costs", "--group-by", "model", "--start", "2026-03-10", "--end", "2026-03-10", "--json")
    assert report.code == 0, report.err
    data = report.json()
    assert data["group_by"] == ["model"] and [r["model"] for r in data["results"]] == ["ranker"]
    assert data["results"][0]["usd"] > 0 and data["results"][0]["gpu_hours"] == 2.0
    human = run_cli(ada, "costs", "--group-by", "model", "--start", "2026-03-10", "--end", "2026-03-10")
    assert "ranker" in human.out and "Total: $" in human.out
    assert run_cli(ada, "costs", "anomalies").code == 0
    assert run_cli(ada, "costs", "recommendations", "--json").code == 0
    bad = run_cli(ada, "costs", "--group-by", "planet")
    assert bad.code == 6 and "group_by" in bad.err

    assert "No drift reports" in run_cli(ada, "drift", str(version.pk)).out
    features = {"age": [float(i % 50) for i in range(400)]}
    drift.upload_baseline(version, actor=ada, features=features, predictions=[i / 400 for i in range(400)])
    drift.record_observations(version, actor=ada, features={"age": [float(30 + i % 20) for i in range(400)]},
                              predictions=[0.9] * 400)
    drift.compute_report(version, actor=ada, trigger="manual")
    shown = run_cli(ada, "drift", str(version.pk))
    assert shown.code == 0 and "severity" in shown.out and "age" in shown.out
    rows = run_cli(ada, "drift", str(version.pk), "--json").json()
    assert rows[0]["version"] == version.pk and rows[0]["psi"]["age"] > 0.25 and rows[0]["severity"] == "high"
    # A drifting version's production request waits for a person to acknowledge the report.
    acked = run_cli(ada, "drift", str(version.pk), "--acknowledge", "--note", "expected after the relaunch")
    assert acked.code == 0, acked.err
    assert f"Acknowledged drift report #{rows[0]['id']} (high" in acked.err
    assert run_cli(ada, "drift", str(version.pk), "--json").json()[0]["acknowledged_by"] == "ada"
    assert "Nothing to acknowledge" in run_cli(ada, "drift", str(version.pk), "--acknowledge").err
