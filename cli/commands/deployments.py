"""`slipway deploy | plan | status | approve | reject | pause | resume | promote | abort | rollback`."""

from __future__ import annotations

import os

from cli import exitcodes, lookup, waiting
from cli.errors import UsageError
from cli.output import short_time

CONTROLS = {
    "pause": "hold a progressing rollout at its step (platform engineers)",
    "resume": "continue a paused rollout (platform engineers)",
    "promote": "skip the current step's wait (platform engineers)",
    "abort": "stop a queued or running rollout: all traffic back to stable",
    "rollback": "abort a running rollout, or restore the previous live version",
}
DEFAULT_TIMEOUT = 1800.0


def _default_interval() -> float:
    try:
        return max(0.1, float(os.environ.get("SLIPWAY_POLL_INTERVAL", "") or 2.0))
    except ValueError:
        return 2.0


def _request_options(p) -> None:
    p.add_argument("model", metavar="MODEL", help="model name or id")
    p.add_argument("version", metavar="VERSION", help="the model's version number, e.g. 3")
    p.add_argument("--env", required=True, metavar="ENV", help="environment, e.g. staging or production")
    p.add_argument("--team", help="the team, when two teams use the model name")
    c = p.add_argument_group("configuration (omitted settings take the environment's and model's defaults)")
    c.add_argument("--instance-type", metavar="TYPE", help="e.g. g5.xlarge (see the portal's instance catalog)")
    c.add_argument("--gpus-per-replica", type=int, metavar="N")
    c.add_argument("--replicas", type=int, metavar="N", help="minimum replicas")
    c.add_argument("--max-replicas", type=int, metavar="N")
    c.add_argument("--spot", type=int, metavar="PERCENT", help="share of replicas on spot capacity, 0-100")
    c.add_argument("--steps", metavar="W1,W2,…", help="canary weights per step, e.g. 5,25,50,100")
    c.add_argument("--soak", type=int, metavar="SECONDS", help="soak per step")
    c.add_argument("--strategy", choices=["canary", "rolling"])
    c.add_argument("--sla-p99-ms", type=int, metavar="MS", help="latency SLA for the gates (default: the model's)")


def _wait_options(p, *, what: str) -> None:
    p.add_argument("--wait", action="store_true", help=f"wait until {what} is live (exit 0), rolled back (2), "
                                                       "rejected or expired (3) or failed (4)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"with --wait: give up after this long, exit 5 (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                   help="with --wait: seconds between polls (default 2, or SLIPWAY_POLL_INTERVAL)")


def register(subparsers, common) -> None:
    p = subparsers.add_parser("deploy", parents=[common], help="deploy a version (production asks for approval)",
                              description="Request a deployment. Staging is queued at once; production waits "
                                          "for a platform engineer's approval. With --wait, follow it to the end.")
    _request_options(p)
    _wait_options(p, what="the deployment")
    p.set_defaults(func=deploy)

    p = subparsers.add_parser("plan", parents=[common], help="dry run: what a deploy would do (nothing written)")
    _request_options(p)
    p.set_defaults(func=plan)

    p = subparsers.add_parser("status", parents=[common], help="one deployment, or your teams' recent ones")
    p.add_argument("deployment", metavar="DEPLOYMENT", type=int, nargs="?", help="deployment id")
    p.add_argument("--env", metavar="ENV", help="list: only this environment")
    p.add_argument("--model", metavar="MODEL", help="list: only this model (name or id)")
    p.add_argument("--team", help="list: only this team; or the team of --model")
    p.add_argument("--active", action="store_true", help="list: only pending, queued, progressing or paused")
    p.add_argument("--mine", action="store_true", help="list: only deployments you requested")
    p.add_argument("--limit", type=int, default=20, help="list: at most this many (default 20)")
    _wait_options(p, what="DEPLOYMENT")
    p.set_defaults(func=status)

    for name, text in (("approve", "approve a production request (platform engineers, not the requester)"),
                       ("reject", "reject a production request (a comment is required)")):
        p = subparsers.add_parser(name, parents=[common], help=text)
        p.add_argument("deployment", metavar="DEPLOYMENT", type=int)
        p.add_argument("--comment", default="", help="recorded with the decision")
        p.set_defaults(func=decide, action=name)

    for name, text in CONTROLS.items():
        p = subparsers.add_parser(name, parents=[common], help=text)
        p.add_argument("deployment", metavar="DEPLOYMENT", type=int)
        p.add_argument("--reason", default="", help="recorded with the event")
        p.set_defaults(func=control, action=name)


# --- requests ------------------------------------------------------------------------------

def _steps(text: str) -> list:
    # Whole numbers are sent as numbers; anything else is sent as typed, so the API's field
    # error (config.steps) explains what is wrong with it.
    return [int(s) if s.strip().isdigit() else s.strip() for s in text.split(",") if s.strip()]


def request_body(ctx) -> tuple[dict, dict, dict]:
    """(body, model, version) for POST /deployments/ and /deployments/plan/."""
    a = ctx.args
    client = ctx.client()
    number = lookup.version_number(a.version)
    model = lookup.model(client, a.model, team=a.team)
    version = lookup.version(client, model, number)
    config: dict = {}
    for key, value in (("instance_type", a.instance_type), ("gpus_per_replica", a.gpus_per_replica),
                       ("min_replicas", a.replicas), ("max_replicas", a.max_replicas), ("spot_percent", a.spot),
                       ("soak_seconds", a.soak), ("strategy", a.strategy), ("sla_p99_ms", a.sla_p99_ms)):
        if value is not None:
            config[key] = value
    if a.steps is not None:
        config["steps"] = _steps(a.steps)
    return {"version": version["id"], "environment": a.env, "config": config}, model, version


def deploy(ctx) -> int:
    body, model, version = request_body(ctx)
    client = ctx.client()
    deployment = client.post("/api/v1/deployments/", body)
    d = deployment
    if d["status"] == "pending_approval":
        ctx.out.info(f"Requested {waiting.title(d)}: waiting for approval by a platform engineer "
                     f"(`slipway approve {d['id']}`).")
    else:
        ctx.out.info(f"Requested {waiting.title(d)}: {d['status']} ({d['strategy']}, "
                     f"{d['config'].get('min_replicas')}× {d['config'].get('instance_type')}).")
    if not ctx.args.wait:
        ctx.out.emit(d, lambda: ctx.out.line(str(d["id"])))
        return exitcodes.OK
    return _wait_and_report(ctx, d["id"])


def _wait_and_report(ctx, deployment_id: int) -> int:
    if ctx.args.timeout < 0:
        raise UsageError("--timeout must be 0 or more seconds.")
    interval = ctx.args.interval if ctx.args.interval is not None else _default_interval()
    code, detail = waiting.wait(ctx.client(), ctx.out, deployment_id, timeout=ctx.args.timeout,
                                interval=max(0.05, interval))
    if detail is not None:
        ctx.out.emit(detail, lambda: render(ctx.out, detail))
    return code


def plan(ctx) -> int:
    body, model, version = request_body(ctx)
    p = ctx.client().post("/api/v1/deployments/plan/", body)
    cfg = p.get("config") or {}

    def human() -> None:
        ctx.out.pairs([
            ("plan", f"{model['name']} v{version['version']} → {body['environment']} ({p['strategy']})"),
            ("instance", f"{cfg.get('min_replicas')}–{cfg.get('max_replicas')}× {cfg.get('instance_type')}, "
                         f"{cfg.get('gpus_per_replica')} GPU each, {cfg.get('spot_percent')} % spot"),
            ("steps", f"{' → '.join(f'{s} %' for s in cfg.get('steps') or [])}, {cfg.get('soak_seconds')} s soak "
                      "per step"),
            ("gpus", f"{p['peak_gpus']} at peak, {p['reserved_gpus']} once live; team uses {p['in_use']} of "
                     f"{p['quota']}, {p['headroom']} free"),
            ("fits quota", p["fits"]),
            ("price", f"${p['hourly_usd']}/hour at min replicas"),
            ("needs approval", p["requires_approval"]),
            ("ready", p["ready"] if p["ready"] else f"no — failing: {', '.join(p.get('failing') or [])}"),
            ("replaces", f"deployment #{p['previous']}" if p.get("previous") else "nothing (first deployment)"),
        ])
        if p.get("message"):
            ctx.out.line(p["message"])
        if p.get("would_be_refused"):
            ctx.out.line("A request with these settings would be refused.")

    ctx.out.emit(p, human)
    return exitcodes.REFUSED if p.get("would_be_refused") else exitcodes.OK


# --- reading -------------------------------------------------------------------------------

LIST_COLUMNS = [
    ("id", "id"), ("model", lambda d: f"{d['model_name']} v{d['version_number']}"), ("env", "environment"),
    ("status", "status"),
    ("progress", lambda d: (f"step {d['step_index'] + 1} · canary {d['canary_weight']} %"
                            if d.get("status") in ("progressing", "paused") and (d.get("step_index") if d.get("step_index")
                                                                                  is not None else -1) >= 0
                            else None)),
    ("team", "tenant"), ("by", "requested_by"), ("created", lambda d: short_time(d.get("created_at"))),
]


def status(ctx) -> int:
    a = ctx.args
    client = ctx.client()
    if a.deployment is not None:
        if a.wait:
            return _wait_and_report(ctx, a.deployment)
        d = client.get(f"/api/v1/deployments/{a.deployment}/")
        ctx.out.emit(d, lambda: render(ctx.out, d))
        return exitcodes.BY_STATUS.get(d["status"], exitcodes.OK)
    if a.wait:
        raise UsageError("--wait needs a DEPLOYMENT id.")
    params: dict = {}
    if a.env:
        params["environment"] = a.env
    if a.team:
        params["tenant"] = a.team
    if a.model:
        params["model"] = lookup.model(client, a.model, team=a.team)["id"]
    if a.active:
        params["status"] = "pending_approval,queued,progressing,paused"
    limit = max(1, a.limit)
    if a.mine:
        me = client.get("/api/v1/me/")["username"]
        rows = [d for d in client.paginate("/api/v1/deployments/", params, limit=limit * 10)
                if d.get("requested_by") == me][:limit]
    else:
        rows = list(client.paginate("/api/v1/deployments/", params, limit=limit))
    ctx.out.emit(rows, lambda: ctx.out.table(rows, LIST_COLUMNS, empty="No deployments."))
    return exitcodes.OK


def render(out, d: dict) -> None:
    """One deployment for people: what, where, state, rollout, recent analyses and events."""
    rollout = d.get("rollout") or {}
    cfg = d.get("config") or {}
    items = [
        ("deployment", waiting.title(d)),
        ("status", d["status"] + (f" — {d['status_reason']}" if d.get("status_reason") else "")),
        ("team", d.get("tenant")),
        ("requested by", f"{d.get('requested_by')} at {short_time(d.get('created_at'))}"),
        ("strategy", d.get("strategy")),
        ("config", f"{cfg.get('min_replicas')}–{cfg.get('max_replicas')}× {cfg.get('instance_type')}, "
                   f"{cfg.get('spot_percent')} % spot" if cfg else "-"),
    ]
    if rollout:
        steps = rollout.get("steps") or []
        index = rollout.get("step_index", -1)
        items += [
            ("phase", rollout.get("phase")),
            ("step", f"{index + 1}/{len(steps)} ({' → '.join(f'{s} %' for s in steps)})" if index >= 0
             else f"not started ({' → '.join(f'{s} %' for s in steps)})"),
            ("weights", f"canary {rollout.get('canary_weight')} % / stable {rollout.get('stable_weight')} %"),
        ]
        if rollout.get("last_error"):
            items.append(("last error", rollout["last_error"]))
    if d.get("previous"):
        items.append(("replaces", f"deployment #{d['previous']}"))
    if d.get("live_since"):
        items.append(("live since", short_time(d["live_since"])))
    for approval in d.get("approvals") or []:
        items.append((approval["decision"], f"by {approval['decided_by']} at {short_time(approval['created_at'])}"
                      + (f": {approval['comment']}" if approval.get("comment") else "")))
    out.pairs(items)
    analyses = (d.get("analyses") or [])[-5:]
    if analyses:
        out.line()
        out.table(analyses, [
            ("analysis", "kind"), ("step", lambda r: r["step_index"] + 1 if r.get("step_index", -1) >= 0 else None),
            ("canary err", lambda r: _pct(r.get("canary_error_rate"))),
            ("canary p99", lambda r: _ms(r.get("canary_p99_ms"))), ("stable p99", lambda r: _ms(r.get("stable_p99_ms"))),
            ("requests", "canary_requests"), ("verdict", "verdict"), ("reason", "reason")])
    events = (d.get("events") or [])[-8:]
    if events:
        out.line()
        out.table(events, [("when", lambda e: short_time(e.get("created_at"))), ("who", "actor"),
                           ("event", "message")])


def _pct(value) -> str | None:
    return None if value is None else f"{value * 100:.2f} %"


def _ms(value) -> str | None:
    return None if value is None else f"{value:.0f} ms"


# --- decisions and controls ----------------------------------------------------------------

def decide(ctx) -> int:
    a = ctx.args
    d = ctx.client().post(f"/api/v1/deployments/{a.deployment}/{a.action}/", {"comment": a.comment})
    verb = "Approved" if a.action == "approve" else "Rejected"
    ctx.out.emit(d, lambda: ctx.out.info(f"{verb} {waiting.title(d)}: now {d['status'].replace('_', ' ')}."))
    return exitcodes.OK


def control(ctx) -> int:
    a = ctx.args
    d = ctx.client().post(f"/api/v1/deployments/{a.deployment}/{a.action}/", {"reason": a.reason})
    ctx.out.emit(d, lambda: ctx.out.info(f"{a.action.capitalize()}: {waiting.title(d)} is now "
                                         f"{d['status'].replace('_', ' ')}"
                                         + (f" — {d['status_reason']}" if d.get("status_reason") else "") + "."))
    return exitcodes.OK
