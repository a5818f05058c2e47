"""The checklist's `monitoring` item (SPEC §2): a drift baseline exists for this version and
the team has an alert destination (its notification webhook URL).

Registered into apps.readiness.evaluators.EVALUATORS when the app loads.
"""

from __future__ import annotations

from apps.readiness.choices import ItemStatus


def monitoring(version):
    from apps.drift.models import Baseline

    baseline = Baseline.objects.filter(version=version).only("id", "rows", "features", "revision").first()
    tenant = version.model.tenant
    missing = []
    if baseline is None:
        missing.append("no drift baseline for this version (POST /api/v1/drift/baselines/)")
    if not tenant.webhook_url:
        missing.append(f"team {tenant.slug} has no alert destination (notification webhook URL)")
    if missing:
        return ItemStatus.FAIL, "Not monitored yet: " + "; ".join(missing) + "."
    return ItemStatus.PASS, (f"Drift baseline of {baseline.rows:,} rows over {len(baseline.features)} feature(s) "
                             f"(revision {baseline.revision}); alerts go to team {tenant.slug}'s webhook.")


def register() -> None:
    from apps.readiness.evaluators import EVALUATORS

    EVALUATORS.setdefault("monitoring", monitoring)
