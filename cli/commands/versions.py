"""`slipway versions list | import | show`."""

from __future__ import annotations

from cli import exitcodes, lookup
from cli.client import ApiError
from cli.output import short_time


def register(subparsers, common) -> None:
    group = subparsers.add_parser("versions", parents=[common], help="model versions (imported from MLflow)")
    sub = group.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("list", parents=[common], help="the imported versions of a model")
    p.add_argument("model", metavar="MODEL", help="model name or id")
    p.add_argument("--team", help="the team, when two teams use the name")
    p.set_defaults(func=list_versions)

    p = sub.add_parser("import", parents=[common], help="import a version from the MLflow registry")
    p.add_argument("model", metavar="MODEL", help="model name or id")
    p.add_argument("version", metavar="VERSION", help="the MLflow version number, e.g. 3")
    p.add_argument("--team", help="the team, when two teams use the name")
    p.add_argument("--exist-ok", action="store_true",
                   help="a version imported already is success (re-runnable pipelines); prints it")
    p.set_defaults(func=import_version)

    p = sub.add_parser("show", parents=[common], help="one version: provenance, metrics, readiness")
    p.add_argument("version_id", metavar="VERSION_ID", type=int, help="version id (see `versions list`)")
    p.set_defaults(func=show_version)


def readiness_cell(v: dict) -> str:
    summary = v.get("checklist") or {}
    text = f"{summary.get('satisfied', 0)}/{summary.get('total', 0)}"
    return f"ready ({text})" if v.get("ready") else f"not ready ({text})"


COLUMNS = [("id", "id"), ("version", lambda v: f"v{v['version']}"), ("readiness", readiness_cell),
           ("failing", lambda v: (v.get("checklist") or {}).get("failing")), ("run", "mlflow_run_id"),
           ("imported", lambda v: short_time(v.get("created_at")))]


def list_versions(ctx) -> int:
    client = ctx.client()
    model = lookup.model(client, ctx.args.model, team=ctx.args.team)
    rows = list(client.paginate(f"/api/v1/models/{model['id']}/versions/"))
    ctx.out.emit(rows, lambda: ctx.out.table(rows, COLUMNS, empty=f"{model['name']} has no versions yet; import "
                                                                  f"one with `slipway versions import`."))
    return exitcodes.OK


def import_version(ctx) -> int:
    client = ctx.client()
    number = lookup.version_number(ctx.args.version)
    model = lookup.model(client, ctx.args.model, team=ctx.args.team)
    try:
        version = client.post(f"/api/v1/models/{model['id']}/versions/", {"mlflow_version": str(number)})
        verb = "Imported"
    except ApiError as exc:
        if not (ctx.args.exist_ok and exc.code == "version_exists"):
            raise
        version = client.get(f"/api/v1/versions/{lookup.version(client, model, number)['id']}/")
        verb = "Already imported:"

    def human() -> None:
        ctx.out.info(f"{verb} {model['name']} v{version['version']} from MLflow as version id {version['id']}.")
        render_version(ctx.out, version)

    ctx.out.emit(version, human)
    return exitcodes.OK


def show_version(ctx) -> int:
    version = ctx.client().get(f"/api/v1/versions/{ctx.args.version_id}/")
    ctx.out.emit(version, lambda: render_version(ctx.out, version))
    return exitcodes.OK


def render_version(out, v: dict) -> None:
    out.pairs([
        ("version", f"{v.get('model_name', '')} v{v['version']} (id {v['id']}, team {v.get('tenant', '-')})"),
        ("mlflow run", v.get("mlflow_run_id")),
        ("artifact", v.get("artifact_uri")),
        ("artifact digest", v.get("artifact_digest")),
        ("git commit", v.get("git_commit") or "-"),
        ("dataset", v.get("dataset_version") or "-"),
        ("image digest", v.get("image_digest") or "-"),
        ("random seed", v.get("random_seed") or "-"),
        ("metrics", v.get("metrics") or "-"),
        ("readiness", readiness_cell(v)),
    ])
    failing = v.get("failing_items") or []
    if failing:
        out.line()
        out.table(failing, [("failing item", "key"), ("status", "status"), ("why", "detail")])
