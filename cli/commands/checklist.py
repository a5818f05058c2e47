"""`slipway checklist show | attest | waive | evaluate` (the readiness checklist of a version)."""

from __future__ import annotations

from cli import exitcodes
from cli.output import short_time


def register(subparsers, common) -> None:
    group = subparsers.add_parser("checklist", parents=[common], help="a version's readiness checklist")
    sub = group.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("show", parents=[common], help="every item, its status and why")
    p.add_argument("version_id", metavar="VERSION_ID", type=int)
    p.set_defaults(func=show)

    p = sub.add_parser("attest", parents=[common], help="attest an item (pass or fail) with evidence")
    p.add_argument("version_id", metavar="VERSION_ID", type=int)
    p.add_argument("key", metavar="KEY", help="item key, e.g. bias_review, fallback, data_validation")
    p.add_argument("--status", choices=["pass", "fail"], default="pass")
    p.add_argument("--evidence", default="", help="what shows it: a link, a report")
    p.set_defaults(func=attest)

    p = sub.add_parser("waive", parents=[common], help="waive an item (platform engineers) with a reason")
    p.add_argument("version_id", metavar="VERSION_ID", type=int)
    p.add_argument("key", metavar="KEY")
    p.add_argument("--reason", default="", help="why the item may be skipped")
    p.set_defaults(func=waive)

    p = sub.add_parser("evaluate", parents=[common], help="re-run the automatic items")
    p.add_argument("version_id", metavar="VERSION_ID", type=int)
    p.set_defaults(func=evaluate)


COLUMNS = [("key", "key"), ("status", "status"), ("kind", "kind"), ("detail", "detail"),
           ("by", "decided_by"), ("when", lambda i: short_time(i.get("decided_at") or i.get("evaluated_at")))]


def show(ctx) -> int:
    items = list(ctx.client().paginate(f"/api/v1/versions/{ctx.args.version_id}/checklist/"))

    def human() -> None:
        ctx.out.table(items, COLUMNS)
        done = sum(1 for i in items if i["status"] in ("pass", "waived"))
        ctx.out.line()
        ctx.out.line(f"{done}/{len(items)} passed or waived" + (" — ready." if done == len(items) else "."))

    ctx.out.emit(items, human)
    return exitcodes.OK


def _decide(ctx, body: dict, verb: str) -> int:
    a = ctx.args
    item = ctx.client().post(f"/api/v1/versions/{a.version_id}/checklist/{a.key}/", body)
    ctx.out.emit(item, lambda: ctx.out.info(f"{item['key']}: {item['status']} ({verb} by {item.get('decided_by')})."))
    return exitcodes.OK


def attest(ctx) -> int:
    return _decide(ctx, {"status": ctx.args.status, "evidence": ctx.args.evidence}, "attested")


def waive(ctx) -> int:
    return _decide(ctx, {"status": "waived", "reason": ctx.args.reason}, "waived")


def evaluate(ctx) -> int:
    result = ctx.client().post(f"/api/v1/versions/{ctx.args.version_id}/checklist/evaluate/")
    ctx.out.emit(result, lambda: ctx.out.info(
        f"Re-evaluation {result.get('status', 'queued')}; see `slipway checklist show {ctx.args.version_id}`."))
    return exitcodes.OK
