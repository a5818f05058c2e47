"""`slipway drift VERSION_ID`: the version's drift reports (PSI per feature, severity)."""

from __future__ import annotations

from cli import exitcodes
from cli.output import short_time


def register(subparsers, common) -> None:
    p = subparsers.add_parser("drift", parents=[common], help="drift reports of a version (PSI, severity)")
    p.add_argument("version_id", metavar="VERSION_ID", type=int)
    p.add_argument("--limit", type=int, default=10, help="at most this many reports, newest first (default 10)")
    p.add_argument("--acknowledge", action="store_true",
                   help="acknowledge the newest unacknowledged medium/high report (a production request of a "
                        "drifting version waits for this)")
    p.add_argument("--note", default="", help="with --acknowledge: what you checked")
    p.set_defaults(func=drift)


DRIFTING = ("medium", "high")


def acknowledge(ctx) -> int:
    client = ctx.client()
    pending = next((r for r in client.paginate("/api/v1/drift/reports/", {"version": ctx.args.version_id,
                                                                         "severity": list(DRIFTING)})
                    if not r.get("acknowledged_at")), None)
    if pending is None:
        ctx.out.emit({"acknowledged": None}, lambda: ctx.out.info(
            f"Nothing to acknowledge: version {ctx.args.version_id} has no unacknowledged medium or high report."))
        return exitcodes.OK
    report = client.post(f"/api/v1/drift/reports/{pending['id']}/acknowledge/", {"note": ctx.args.note})
    ctx.out.emit(report, lambda: ctx.out.info(
        f"Acknowledged drift report #{report['id']} ({report['severity']}, max PSI {report['max_psi']:.3f} on "
        f"{report.get('top_feature') or '-'}) of {report['model_name']} v{report['version_number']}."))
    return exitcodes.OK


def drift(ctx) -> int:
    if ctx.args.acknowledge:
        return acknowledge(ctx)
    client = ctx.client()
    rows = list(client.paginate("/api/v1/drift/reports/", {"version": ctx.args.version_id},
                                limit=max(1, ctx.args.limit)))

    def human() -> None:
        if not rows:
            ctx.out.line(f"No drift reports for version {ctx.args.version_id} yet.")
            return
        latest = rows[0]
        ctx.out.line(f"{latest['model_name']} v{latest['version_number']}: latest report "
                     f"{short_time(latest['created_at'])} — severity {latest['severity']}, max PSI "
                     f"{latest['max_psi']:.3f} ({latest.get('top_feature') or '-'}), {latest['rows']} rows")
        psi = sorted((latest.get("psi") or {}).items(), key=lambda kv: -kv[1])
        if latest.get("prediction_psi") is not None:
            psi.insert(0, ("(predictions)", latest["prediction_psi"]))
        ctx.out.line()
        ctx.out.table([{"feature": k, "psi": f"{v:.4f}"} for k, v in psi[:15]], [("feature", "feature"),
                                                                                 ("psi", "psi")])
        ctx.out.line()
        ctx.out.table(rows, [("report", "id"), ("when", lambda r: short_time(r.get("created_at"))),
                             ("severity", "severity"), ("max psi", lambda r: f"{r['max_psi']:.3f}"),
                             ("top feature", "top_feature"), ("rows", "rows"),
                             ("acknowledged", lambda r: r.get("acknowledged_by") or None)])

    ctx.out.emit(rows, human)
    return exitcodes.OK
