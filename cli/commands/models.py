"""`slipway models list | show | create`."""

from __future__ import annotations

from cli import exitcodes, lookup
from cli.output import short_time


def register(subparsers, common) -> None:
    group = subparsers.add_parser("models", parents=[common], help="list, show and register models")
    sub = group.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("list", parents=[common], help="models of your teams")
    p.add_argument("--team", help="only this team (slug)")
    p.add_argument("--search", help="words in the name or description")
    p.add_argument("--limit", type=int, default=500, help="at most this many rows (default 500)")
    p.set_defaults(func=list_models)

    p = sub.add_parser("show", parents=[common], help="one model and where it is live")
    p.add_argument("model", metavar="MODEL", help="model name or id")
    p.add_argument("--team", help="the team, when two teams use the name")
    p.set_defaults(func=show_model)

    p = sub.add_parser("create", parents=[common], help="register a model (it mirrors an MLflow registered model)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--team", required=True, help="team slug")
    p.add_argument("--mlflow-name", help="the MLflow registered-model name (default: NAME)")
    p.add_argument("--description")
    p.add_argument("--owner")
    p.add_argument("--oncall", help="on-call contact")
    p.add_argument("--sla-p99-ms", type=int, help="latency SLA, p99 in milliseconds")
    p.add_argument("--primary-metric", help="the metric validation_metrics compares, e.g. auc")
    p.add_argument("--primary-metric-floor", type=float, help="the floor a first version must reach")
    p.add_argument("--lower-is-better", action="store_true", help="the primary metric improves downwards")
    p.set_defaults(func=create_model)


COLUMNS = [("id", "id"), ("team", "tenant"), ("name", "name"), ("owner", "owner"),
           ("sla p99", lambda m: f"{m['sla_p99_ms']} ms" if m.get("sla_p99_ms") else None),
           ("metric", "primary_metric"), ("mlflow", "mlflow_name")]


def list_models(ctx) -> int:
    params = {}
    if ctx.args.team:
        params["tenant"] = ctx.args.team
    if ctx.args.search:
        params["q"] = ctx.args.search
    rows = list(ctx.client().paginate("/api/v1/models/", params, limit=max(1, ctx.args.limit)))
    ctx.out.emit(rows, lambda: ctx.out.table(rows, COLUMNS, empty="No models (register one with `slipway models "
                                                                   "create`)."))
    return exitcodes.OK


def show_model(ctx) -> int:
    client = ctx.client()
    row = lookup.model(client, ctx.args.model, team=ctx.args.team)
    model = client.get(f"/api/v1/models/{row['id']}/") if "live" not in row else row

    def human() -> None:
        ctx.out.pairs([
            ("model", f"{model['name']} (#{model['id']}, team {model['tenant']})"),
            ("description", model.get("description") or "-"),
            ("mlflow name", model.get("mlflow_name")),
            ("owner", model.get("owner") or "-"),
            ("on-call", model.get("oncall") or "-"),
            ("sla p99", f"{model.get('sla_p99_ms')} ms"),
            ("primary metric", f"{model.get('primary_metric') or '-'}"
                               f" ({'higher' if model.get('higher_is_better') else 'lower'} is better"
                               + (f", floor {model['primary_metric_floor']}" if model.get("primary_metric_floor")
                                  is not None else "") + ")"),
            ("created", f"{short_time(model.get('created_at'))} by {model.get('created_by') or '-'}"),
        ])
        live = model.get("live") or []
        ctx.out.line()
        ctx.out.table(live, [("environment", "environment"), ("version", lambda r: f"v{r['version']}"),
                             ("version id", "version_id"), ("deployment", "deployment"),
                             ("since", lambda r: short_time(r.get("since")))],
                      empty="Not live anywhere.")

    ctx.out.emit(model, human)
    return exitcodes.OK


def create_model(ctx) -> int:
    a = ctx.args
    body = {"tenant": a.team, "name": a.name}
    for key, value in (("mlflow_name", a.mlflow_name), ("description", a.description), ("owner", a.owner),
                       ("oncall", a.oncall), ("sla_p99_ms", a.sla_p99_ms), ("primary_metric", a.primary_metric),
                       ("primary_metric_floor", a.primary_metric_floor)):
        if value is not None:
            body[key] = value
    if a.lower_is_better:
        body["higher_is_better"] = False
    model = ctx.client().post("/api/v1/models/", body)
    ctx.out.emit(model, lambda: ctx.out.info(
        f"Registered {model['name']} (#{model['id']}) in {model['tenant']}, mirroring MLflow model "
        f"{model['mlflow_name']!r}. Next: `slipway versions import {model['name']} VERSION`."))
    return exitcodes.OK
