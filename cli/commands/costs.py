"""`slipway costs [report|anomalies|recommendations|budget]`."""

from __future__ import annotations

from cli import exitcodes

GROUPS = ("day", "model", "tenant", "environment")


def register(subparsers, common) -> None:
    p = subparsers.add_parser("costs", parents=[common], help="cost per model/team/environment/day, anomalies, "
                                                              "advice, budgets")
    p.add_argument("what", nargs="?", default="report", choices=["report", "anomalies", "recommendations", "budget"],
                   help="report (default): USD, GPU-hours, requests and USD per 1,000 predictions")
    p.add_argument("--group-by", default="model", metavar="G",
                   help=f"report: one of {', '.join(GROUPS)}, or two joined by a comma (default model)")
    p.add_argument("--start", metavar="YYYY-MM-DD", help="report: first day (default: 30 days ago)")
    p.add_argument("--end", metavar="YYYY-MM-DD", help="report: last day, inclusive (default: today)")
    p.add_argument("--team", help="only this team (slug)")
    p.add_argument("--limit", type=int, default=1000, help="report: at most this many rows")
    p.set_defaults(func=costs)


def _usd(value) -> str | None:
    """Money as the API gives it (a number, or a decimal string) → `$1,234.56`."""
    if value is None:
        return None
    try:
        return f"${float(value):,.2f}"
    except (TypeError, ValueError):
        return str(value)


def costs(ctx) -> int:
    return {"report": report, "anomalies": anomalies, "recommendations": recommendations,
            "budget": budget}[ctx.args.what](ctx)


def report(ctx) -> int:
    a = ctx.args
    params = {"group_by": a.group_by}
    for key, value in (("start", a.start), ("end", a.end), ("tenant", a.team)):
        if value:
            params[key] = value
    client = ctx.client()
    first = client.get("/api/v1/costs/", params)
    rows = list(first.get("results", []))
    if first.get("next") and len(rows) < a.limit:
        rows = list(client.paginate("/api/v1/costs/", params, limit=a.limit))
    data = {"group_by": first.get("group_by"), "start": first.get("start"), "end": first.get("end"),
            "totals": first.get("totals"), "results": rows}
    keys = [k for k in ("day", "tenant", "model", "environment") if k in (first.get("group_by") or [])]

    def human() -> None:
        columns = [(k, k) for k in keys] + [
            ("usd", lambda r: _usd(r.get("usd"))), ("actual", lambda r: _usd(r.get("actual_usd"))),
            ("gpu-hours", lambda r: f"{r.get('gpu_hours', 0):,.1f}"), ("requests", "requests"),
            ("usd/1k", lambda r: f"${r['usd_per_1k']:.4f}" if r.get("usd_per_1k") is not None
             else (r.get("usd_per_1k_note") or None))]
        ctx.out.line(f"Costs {data['start']} … {data['end']} by {', '.join(keys)}")
        ctx.out.table(rows, columns, empty="No costs recorded in this period.")
        totals = data.get("totals") or {}
        if rows and totals:
            ctx.out.line(f"Total: {_usd(totals.get('usd'))}, {totals.get('gpu_hours', 0):,.1f} GPU-hours, "
                         f"{totals.get('requests') or 0:,} requests"
                         + (f", ${totals['usd_per_1k']:.4f} per 1,000 predictions"
                            if totals.get("usd_per_1k") is not None else ""))

    ctx.out.emit(data, human)
    return exitcodes.OK


def anomalies(ctx) -> int:
    params = {"tenant": ctx.args.team} if ctx.args.team else {}
    rows = list(ctx.client().paginate("/api/v1/costs/anomalies/", params, limit=200))
    ctx.out.emit(rows, lambda: ctx.out.table(rows, [
        ("day", "day"), ("team", "tenant"), ("model", "model"), ("usd", lambda r: _usd(r.get("usd"))),
        ("7-day mean", lambda r: _usd(r.get("baseline_usd"))),
        ("increase", lambda r: f"+{r['increase'] * 100:.0f} %" if isinstance(r.get("increase"), (int, float))
         else r.get("increase"))], empty="No cost anomalies."))
    return exitcodes.OK


def recommendations(ctx) -> int:
    params = {"tenant": ctx.args.team} if ctx.args.team else {}
    rows = ctx.client().get("/api/v1/costs/recommendations/", params)
    ctx.out.emit(rows, lambda: ctx.out.table(rows, [
        ("kind", "kind"), ("team", "tenant"), ("model", "model"), ("environment", "environment"),
        ("saves/month", lambda r: _usd(r.get("monthly_savings_usd"))), ("advice", "title")],
        empty="No savings advice right now."))
    return exitcodes.OK


def budget(ctx) -> int:
    rows = ctx.client().get("/api/v1/costs/budget/")
    if ctx.args.team:
        rows = [r for r in rows if r.get("tenant") == ctx.args.team]
    ctx.out.emit(rows, lambda: ctx.out.table(rows, [
        ("team", "tenant"), ("month", "month"), ("month to date", lambda r: _usd(r.get("mtd_usd"))),
        ("budget", lambda r: _usd(r.get("budget_usd"))),
        ("used", lambda r: f"{r['percent']:.0f} %" if r.get("percent") is not None else None),
        ("forecast", lambda r: _usd(r.get("forecast_usd")))], empty="No budgets."))
    return exitcodes.OK
