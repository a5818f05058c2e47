"""CSV export of a cost report (the page's "Download CSV" and `GET /api/v1/costs/export/`)."""

from __future__ import annotations

import csv
from decimal import Decimal

from django.http import HttpResponse

from apps.costs.reports import Report

FOUR_PLACES = {"usd", "actual_usd", "gpu_hours", "replica_hours"}
COLUMNS = ["usd", "actual_usd", "gpu_hours", "replica_hours", "requests", "usd_per_1k", "usd_per_1k_note"]


def _cell(value) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    # A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _fixed(column: str, value):
    """Money and hours with four decimals whatever the database returns (SQLite drops them)."""
    if column in FOUR_PLACES and isinstance(value, Decimal):
        return value.quantize(Decimal("0.0001"))
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_response(report: Report) -> HttpResponse:
    """All rows of `report` (already scoped to the caller) as a CSV download."""
    keys = list(report.group_by) + (["tenant"] if "model" in report.group_by and "tenant" not in report.group_by
                                    else [])
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"slipway-costs-{'-'.join(report.group_by)}-{report.start}-{report.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(keys + COLUMNS)
    for row in report.rows:
        writer.writerow([_cell(_fixed(k, row.get(k))) for k in keys + COLUMNS])
    writer.writerow(["total"] + [""] * (len(keys) - 1) + [_cell(_fixed(c, report.totals.get(c))) for c in COLUMNS])
    return response
