"""Route cases for the web pages (format: see tests/security/__init__.py)."""

from __future__ import annotations

from tests.security import RouteCase


def model(w):
    return {"pk": w.model.pk}


def version(w):
    return {"pk": w.version.pk}


def item(w):
    return {"pk": w.version.pk, "key": w.item_key}


MODEL_FORM = {"name": "walker-model", "mlflow_name": "walker-model", "sla_p99_ms": 200, "owner": "walker"}

CASES = [
    # Signed-in users are sent on from the login page; a wrong password re-renders it (200).
    RouteCase("tenancy:login", writes=("POST",), body=lambda w: {"username": "nobody", "password": "wrong"},
              anonymous=200, owner_read=302, other_team_read=302, other_team_write=302, viewer_write=302,
              note="public page; signed-in users are redirected to the dashboard"),
    RouteCase("tenancy:logout", reads=(), writes=("POST",), other_team_write=302, viewer_write=302,
              note="signing out is everyone's right; anonymous is sent to the login page"),
    RouteCase("tenancy:team_switch", reads=(), writes=("POST",), body=lambda w: {"team": w.recsys.slug},
              viewer_write=302, note="grace choosing recsys: 404; vera may choose her own team"),
    RouteCase("tenancy:token_list", writes=("POST",), body=lambda w: {"name": "walker", "expires_in_days": 90},
              other_team_read=200, other_team_write=201, viewer_write=201,
              note="personal tokens: everyone lists and creates their own"),
    RouteCase("tenancy:token_revoke", kwargs=lambda w: {"pk": w.ada_token.pk}, writes=("POST",),
              viewer_read=404, viewer_write=404, note="another user's token is 404 for everyone"),
    RouteCase("core:dashboard", other_team_read=200),
    RouteCase("core:audit_list", other_team_read=200),
    RouteCase("registry:model_list", other_team_read=200),
    RouteCase("registry:model_create", writes=("POST",), body=lambda w: {"team": w.recsys.pk, **MODEL_FORM},
              other_team_read=200, other_team_write=422, viewer_read=403,
              note="grace may create in her team; naming recsys is a form error, like an unknown team"),
    RouteCase("registry:model_detail", kwargs=model),
    RouteCase("registry:model_edit", kwargs=model, writes=("POST",), body=lambda w: MODEL_FORM, viewer_read=403),
    RouteCase("registry:model_delete", kwargs=model, writes=("POST",), viewer_read=403),
    RouteCase("registry:version_import", kwargs=model, reads=(), writes=("POST",),
              body=lambda w: {"mlflow_version": "1"}),
    RouteCase("registry:model_sync", kwargs=model, reads=(), writes=("POST",)),
    RouteCase("registry:version_detail", kwargs=version),
    RouteCase("readiness:checklist_card", kwargs=version, owner_read=302,
              note="an htmx fragment; a plain GET is redirected to the version page"),
    RouteCase("readiness:checklist_evaluate", kwargs=version, reads=(), writes=("POST",)),
    RouteCase("readiness:item_attest", kwargs=item, reads=(), writes=("POST",),
              body=lambda w: {"status": "pass", "evidence": "walker"}),
    RouteCase("readiness:item_waive", kwargs=item, reads=(), writes=("POST",), body=lambda w: {"reason": "walker"}),
]

# --- deployments (the deployment pages) ---------------------------------------------------------


def deployment(w):
    """The queued staging deployment of recsys's model that the API cases use too."""
    from tests.security.routes_api import deployment as api_deployment

    return api_deployment(w)


DEPLOY_FORM = {"environment": "staging", "instance_type": "g5.xlarge", "gpus_per_replica": 1, "min_replicas": 1,
               "max_replicas": 1, "spot_percent": 0, "strategy": "canary", "steps": "5, 25, 50, 100",
               "soak_seconds": 60}


def deployment_control(action: str, *, owner_read: int) -> RouteCase:
    """GET shows the no-JS confirmation page, POST runs the control through the service."""
    field = "comment" if action in ("approve", "reject") else "reason"
    return RouteCase(f"deployments:deployment_{action}", kwargs=deployment, writes=("POST",),
                     body=lambda w: {field: "walker"}, owner_read=owner_read, viewer_read=403,
                     note="platform-only controls are 403 for ada; viewers never get a control")


CASES += [
    RouteCase("deployments:deployment_list", other_team_read=200),
    RouteCase("deployments:approval_list", other_team_read=200,
              note="grace sees her own team's requests (none of recsys's)"),
    RouteCase("deployments:deployment_detail", kwargs=deployment),
    RouteCase("deployments:deployment_create", kwargs=version, writes=("POST",), body=lambda w: DEPLOY_FORM,
              viewer_read=403, note="the deploy form is for data scientists of the team"),
    RouteCase("deployments:deployment_misbehave", kwargs=deployment, reads=(), writes=("POST",),
              body=lambda w: {"behaviour": "errors"}),
    *[deployment_control(action, owner_read=403) for action in ("approve", "reject", "pause", "resume", "promote")],
    *[deployment_control(action, owner_read=200) for action in ("abort", "rollback")],
]


# --- drift (apps.drift) -----------------------------------------------------------------------

def drift_report(w):
    from tests.security.routes_api import drift_report as build

    return build(w)


DRIFT_POLICY = {"action": "notify", "low_threshold": 0.1, "medium_threshold": 0.2, "high_threshold": 0.25,
                "window_hours": 1, "min_rows": 100}

CASES += [
    RouteCase("drift:overview", other_team_read=200, note="grace sees her own team's monitored models"),
    RouteCase("drift:model_drift", kwargs=model),
    RouteCase("drift:report_compute", kwargs=model, reads=(), writes=("POST",),
              body=lambda w: {"version": w.version.pk}),
    RouteCase("drift:policy_edit", kwargs=model, reads=(), writes=("POST",), body=lambda w: DRIFT_POLICY),
    RouteCase("drift:report_acknowledge", kwargs=drift_report, reads=(), writes=("POST",),
              body=lambda w: {"note": "walker"}),
]


# --- costs and runbooks (issue 4) ---------------------------------------------------------

def cost_world(w):
    from tests.security.routes_api import with_costs

    with_costs(w)
    return {}


PLATFORM_BOOK = {"slug": "gpu-node-pool-exhausted"}
PLATFORM_NOTE = "platform runbooks: every signed-in user reads them; only platform engineers edit"

CASES += [
    RouteCase("costs:cost_overview", kwargs=cost_world, other_team_read=200),
    RouteCase("costs:cost_export", kwargs=cost_world, other_team_read=200, note="a CSV of grace's own rows"),
    RouteCase("costs:model_costs", kwargs=model),
    RouteCase("runbooks:runbook_index", other_team_read=200),
    RouteCase("runbooks:model_runbook", kwargs=model),
    RouteCase("runbooks:model_runbook_edit", kwargs=model, writes=("POST",),
              body=lambda w: {"body": "walker", "summary": "walker"}, viewer_read=403),
    RouteCase("runbooks:model_runbook_history", kwargs=model),
    RouteCase("runbooks:model_runbook_diff", kwargs=model, owner_read=404,
              note="no revision saved yet: 404 for everyone (the model itself is 404 for grace anyway)"),
    RouteCase("runbooks:platform_runbook", kwargs=lambda w: PLATFORM_BOOK, other_team_read=200, note=PLATFORM_NOTE),
    RouteCase("runbooks:platform_runbook_edit", kwargs=lambda w: PLATFORM_BOOK, writes=("POST",),
              body=lambda w: {"title": "GPU node pool exhausted", "body": "walker"}, owner_read=403,
              other_team_read=403, other_team_write=403, note=PLATFORM_NOTE),
    RouteCase("runbooks:platform_runbook_history", kwargs=lambda w: PLATFORM_BOOK, other_team_read=200),
    RouteCase("runbooks:platform_runbook_diff", kwargs=lambda w: PLATFORM_BOOK, other_team_read=200),
]

# --- notifications (apps.notifications) -----------------------------------------------------------


def notification_destination(w):
    from tests.security.routes_api import destination_kwargs

    return destination_kwargs(w)


def with_notifications(w):
    from tests.security.routes_api import with_destination

    return with_destination(w)


NOTIFY_FORM = {"name": "walker", "url": "http://127.0.0.1:9/walker", "events": ["live"], "enabled": "on"}

CASES += [
    RouteCase("notifications:destination_list", kwargs=with_notifications, other_team_read=200),
    RouteCase("notifications:destination_create", writes=("POST",),
              body=lambda w: {"team": w.recsys.pk, "kind": "webhook", **NOTIFY_FORM}, other_team_read=200,
              other_team_write=422, viewer_read=403,
              note="grace may add to her team; naming recsys is a form error, like an unknown team"),
    RouteCase("notifications:destination_edit", kwargs=notification_destination, writes=("POST",),
              body=lambda w: NOTIFY_FORM, viewer_read=403),
    RouteCase("notifications:destination_delete", kwargs=notification_destination, writes=("POST",), viewer_read=403),
    RouteCase("notifications:destination_rotate", kwargs=notification_destination, writes=("POST",), viewer_read=403),
    RouteCase("notifications:destination_test", kwargs=notification_destination, reads=(), writes=("POST",)),
    RouteCase("notifications:delivery_list", kwargs=with_notifications, other_team_read=200),
]
