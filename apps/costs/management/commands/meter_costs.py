"""`python manage.py meter_costs --start 2025-07-01 --end 2025-07-08`: backfill metered hours.

Meters every hour in [start, end) with the real metering code; rerunning replaces rows.
Hours whose requests the metrics provider can no longer answer are recorded as not measured.
Add `--anomalies` to run anomaly detection over each day of the range afterwards.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError

from apps.core.audit import audit_context
from apps.core.errors import DomainError
from apps.core.models import AuditSource


def _parse(value: str, name: str) -> datetime:
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} must be YYYY-MM-DD or an ISO 8601 date-time, not {value!r}.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Backfill cost metering for a date range (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, help="First day or date-time (UTC), inclusive.")
        parser.add_argument("--end", required=True, help="Last day (inclusive) or date-time (exclusive), UTC.")
        parser.add_argument("--anomalies", action="store_true", help="Also detect anomalies for each day.")

    def handle(self, *args, start: str, end: str, anomalies: bool, **options):
        from apps.costs.services import detect_anomalies, meter_range

        start_at = _parse(start, "start")
        end_at = _parse(end, "end") + (timedelta(days=1) if len(end) == 10 else timedelta())
        try:
            with audit_context(source=AuditSource.SYSTEM):
                rows = meter_range(start_at, end_at)
                found = 0
                if anomalies:
                    day = start_at.date()
                    while day < end_at.date():
                        found += len(detect_anomalies(day))
                        day += timedelta(days=1)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Metered {rows} deployment-hour(s) from {start_at:%Y-%m-%d %H:%M} to "
                          f"{end_at:%Y-%m-%d %H:%M} UTC" + (f"; {found} anomaly(ies)." if anomalies else "."))
