"""Route cases for the REST API (format: see tests/security/__init__.py)."""

from __future__ import annotations

from tests.security import LEAK_MARKERS, RouteCase


def model(w):
    return {"pk": w.model.pk}


def version(w):
    return {"pk": w.version.pk}


def nested_version(w):
    return {"version_pk": w.version.pk}


def deployment(w):
    """A queued staging deployment of recsys's model (built once per test)."""

    def build():
        from apps.deployments import services

        return services.request_deployment(w.version, environment="staging", config=WALKER_CONFIG, actor=w.ada)

    return {"pk": w.once("deployment", build).pk}


WALKER_CONFIG = {"instance_type": "g5.xlarge", "min_replicas": 1, "soak_seconds": 60,
                 "image": "registry.local/walker@sha256:" + "c" * 64}


def deployment_request(w):
    return {"version": w.version.pk, "environment": "staging", "config": WALKER_CONFIG}


def control(name: str, **kw) -> RouteCase:
    return RouteCase(f"deployment-{name}", kwargs=deployment, reads=(), writes=("POST",),
                     body=lambda w: {"comment": "walker"} if name in ("approve", "reject") else {"reason": "walker"},
                     **kw)


CASES = [
    RouteCase("me", other_team_read=200),
    RouteCase("tenant-list", other_team_read=200),
    RouteCase("tenant-detail", kwargs=lambda w: {"slug": w.recsys.slug}),
    # Tokens are personal: grace and vera list and create their own (allowed, and harmless
    # to the world); ada's token is nobody else's to revoke.
    RouteCase("token-list", reads=("GET",), writes=("POST",), body=lambda w: {"name": "walker"},
              other_team_read=200, other_team_write=201, viewer_write=201),
    RouteCase("token-detail", kwargs=lambda w: {"pk": w.ada_token.pk}, reads=(), writes=("DELETE",),
              viewer_write=404, note="another user's token is 404 for everyone, viewers included"),
    RouteCase("model-list", writes=("POST",), body=lambda w: {"tenant": w.recsys.slug, "name": "walker-model"},
              other_team_read=200, other_team_write=400,
              note="grace naming recsys as tenant: 400 on `tenant`, the same as an unknown team"),
    RouteCase("model-detail", kwargs=model, writes=("PATCH", "DELETE"), body=lambda w: {"owner": "walker"}),
    RouteCase("model-sync", kwargs=model, reads=(), writes=("POST",)),
    RouteCase("model-version-list", kwargs=lambda w: {"model_pk": w.model.pk}, writes=("POST",),
              body=lambda w: {"mlflow_version": "1"}),
    RouteCase("version-detail", kwargs=version),
    RouteCase("checklist-list", kwargs=nested_version),
    RouteCase("checklist-evaluate", kwargs=nested_version, reads=(), writes=("POST",)),
    RouteCase("checklist-detail", kwargs=lambda w: {"version_pk": w.version.pk, "key": w.item_key},
              writes=("POST",), body=lambda w: {"status": "pass", "evidence": "walker"}),
    RouteCase("audit-list", other_team_read=200),
    RouteCase("audit-detail", kwargs=lambda w: {"pk": w.audit_event.pk}),
    # Deployments. Environments and the catalog hold no team data: everyone signed in reads them.
    RouteCase("environment-list", other_team_read=200),
    RouteCase("environment-detail", kwargs=lambda w: {"name": "production"}, other_team_read=200),
    RouteCase("instance-type-list", other_team_read=200),
    RouteCase("deployment-list", writes=("POST",), body=deployment_request, other_team_read=200,
              note="grace naming recsys's version: 404 on `version`, the same as a missing one"),
    RouteCase("deployment-plan", reads=(), writes=("POST",), body=deployment_request, viewer_write=200,
              note="a plan writes nothing: viewers of the team may compute one"),
    RouteCase("deployment-detail", kwargs=deployment),
    *(control(name) for name in ("approve", "reject", "pause", "resume", "promote", "abort", "rollback")),
]


# --- drift (apps.drift) -----------------------------------------------------------------------

def drift_report(w):
    """A high-drift report of recsys's version (a baseline, shifted observations, computed once per test)."""

    def build():
        from apps.drift import services as drift

        values = [float(i % 50) for i in range(500)]
        drift.upload_baseline(w.version, actor=w.ada, features={"x": values})
        drift.record_observations(w.version, actor=w.ada, features={"x": [v + 100 for v in values]})
        return drift.compute_report(w.version, actor=w.ada, trigger="manual")

    return {"pk": w.once("drift_report", build).pk}


def drift_sample(w):
    return {"version": w.version.pk, "features": {"x": [1.0, 2.0, 3.0]}}


CASES += [
    RouteCase("drift-baseline-list", writes=("POST",), body=drift_sample, other_team_read=200,
              note="grace naming recsys's version: 404 on `version`, the same as a missing one"),
    RouteCase("drift-observation-list", reads=(), writes=("POST",), body=drift_sample),
    RouteCase("drift-report-list", writes=("POST",), body=lambda w: {"version": w.version.pk}, other_team_read=200),
    RouteCase("drift-report-detail", kwargs=drift_report),
    RouteCase("drift-report-acknowledge", kwargs=drift_report, reads=(), writes=("POST",),
              body=lambda w: {"note": "walker"}),
    RouteCase("drift-policy-detail", kwargs=model, writes=("PATCH",), body=lambda w: {"action": "notify"}),
]


# --- costs and runbooks (issue 4) ---------------------------------------------------------

def with_costs(w):
    """A recsys cost row and anomaly (so grace's answers could leak them if scoping broke)."""

    def build():
        from datetime import date

        from apps.costs.models import CostAnomaly
        from tests.costs.conftest import record

        record(w.model, date.today(), "12.34", requests=1000)
        return CostAnomaly.objects.create(tenant=w.recsys, model=w.model, day=date.today(), usd=130,
                                          baseline_usd=100, history_days=7, increase=0.3)

    return w.once("cost_anomaly", build)


def cost_list(w):
    with_costs(w)
    return {}


CASES += [
    RouteCase("cost-list", kwargs=cost_list, other_team_read=200, note="grace sees her own team's rows"),
    RouteCase("cost-export", kwargs=cost_list, other_team_read=200),
    RouteCase("cost-budget", kwargs=cost_list, other_team_read=200),
    RouteCase("cost-recommendations", kwargs=cost_list, other_team_read=200),
    RouteCase("cost-anomaly-list", kwargs=cost_list, other_team_read=200),
    RouteCase("cost-anomaly-detail", kwargs=lambda w: {"pk": with_costs(w).pk}),
    RouteCase("model-runbook", kwargs=lambda w: {"model_pk": w.model.pk}, writes=("PUT",),
              body=lambda w: {"body": "## If you see high latency\n\nwalker"}),
    RouteCase("model-runbook-history", kwargs=lambda w: {"model_pk": w.model.pk}),
]


# --- notifications (apps.notifications) -----------------------------------------------------------

def notification_destination(w):
    """A recsys webhook destination (made directly: no DNS lookup) with one failed delivery."""

    def build():
        from apps.notifications.models import Delivery, Destination

        destination = Destination.objects.create(tenant=w.recsys, name=LEAK_MARKERS[1], secret="whsec_" + "7" * 64,
                                                 url="https://hooks.example.com/" + LEAK_MARKERS[0])
        delivery = Delivery.objects.create(tenant=w.recsys, destination=destination, destination_name=destination.name,
                                           kind="webhook", target=destination.url, event="live", status="failed",
                                           payload={"text": LEAK_MARKERS[0]}, attempts=1, last_status_code=404)
        return destination, delivery

    return w.once("notification_destination", build)


def destination_kwargs(w):
    return {"pk": notification_destination(w)[0].pk}


def with_destination(w):
    notification_destination(w)
    return {}


# The local receiver's address form is allowed in development settings; the refusals below come
# from the permission checks, which run before any address is looked at.
DESTINATION_BODY = {"name": "walker", "url": "http://127.0.0.1:9/walker", "events": ["live"]}

CASES += [
    RouteCase("notification-destination-list", kwargs=with_destination, writes=("POST",),
              body=lambda w: {"tenant": w.recsys.slug, **DESTINATION_BODY}, other_team_read=200, other_team_write=400,
              note="grace naming recsys as tenant: 400 on `tenant`, the same as an unknown team"),
    RouteCase("notification-destination-detail", kwargs=destination_kwargs, writes=("PATCH", "DELETE"),
              body=lambda w: {"name": "walker"}),
    RouteCase("notification-destination-test", kwargs=destination_kwargs, reads=(), writes=("POST",)),
    RouteCase("notification-destination-rotate-secret", kwargs=destination_kwargs, reads=(), writes=("POST",)),
    RouteCase("notification-delivery-list", kwargs=with_destination, other_team_read=200),
    RouteCase("notification-delivery-detail", kwargs=lambda w: {"pk": notification_destination(w)[1].pk}),
]
