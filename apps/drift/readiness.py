"""The checklist's `monitoring` item (SPEC §2): a drift baseline exists for this version and
the team has an alert destination (an enabled notification destination, or its webhook URL).

Registered into apps.readiness.evaluators.EVALUATORS when the app loads.
"""

from __future__ import annotations

from apps.readiness.choices import ItemStatus


def _has_alert_destination(tenant) -> bool:
    """The team webhook URL, or (with apps.notifications) an enabled webhook/e-mail destination."""
    from django.apps import apps

    if apps.is_installed("apps.notifications"):
        from apps.notifications.services import has_alert_destination

        return has_alert_destination(tenant)
    return bool(tenant.webhook_url)


def monitoring(version):
    from apps.drift.models import Baseline

    baseline = Baseline.objects.filter(version=version).only("id", "rows", "features", "revision").first()
    tenant = version.model.tenant
    missing = []
    if baseline is None:
        missing.append("no drift baseline for this version (POST /api/v1/drift/baselines/)")
    if not _has_alert_destination(tenant):
        missing.append(f"team {tenant.slug} has no alert destination (an enabled notification destination "
                       "or the team webhook URL)")
    if missing:
        return ItemStatus.FAIL, "Not monitored yet: " + "; ".join(missing) + "."
    return ItemStatus.PASS, (f"Drift baseline of {baseline.rows:,} rows over {len(baseline.features)} feature(s) "
                             f"(revision {baseline.revision}); alerts go to team {tenant.slug}'s notification destinations.")


def register() -> None:
    from apps.readiness.evaluators import EVALUATORS

    EVALUATORS.setdefault("monitoring", monitoring)
