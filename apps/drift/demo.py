"""Demo drift for `make run` (SPEC §9, issue 5): one model that visibly drifts.

`seed_drift()` gives recsys's `ctr-ranker` v2 a baseline (a training-like sample of four
features and the predicted click-through rate) and twelve hours of production batches whose
inputs shift step by step (users on a new app version: more mobile traffic, fresher items,
lower positions), all through the same service functions the API calls
(`upload_baseline`, `record_observations`). Reports are then computed from those counts by
`compute_report`, one per hour — no PSI is typed in. Reports are dated at the end of the hour
they cover so the page shows a history. Idempotent: a version that has a baseline is left alone.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from apps.core.audit import audit_context
from apps.core.models import AuditSource
from apps.drift import services
from apps.drift.models import Baseline, DriftReport
from apps.registry.models import ModelVersion

TEAM, MODEL, VERSION = "recsys", "ctr-ranker", 2
HOURS = 12
ROWS_PER_HOUR = 2000


def _sample(rng: np.random.Generator, rows: int, shift: float) -> dict:
    """Rows of the ranker's inputs; `shift` in [0, 1] moves them away from training."""
    mobile = 0.35 + 0.4 * shift
    device = rng.choice(["desktop", "mobile", "tablet"], rows, p=[0.9 - mobile, mobile, 0.1]).tolist()
    item_age = rng.gamma(2.0, 6.0 * (1 - 0.6 * shift), rows).round(2)
    tenure = rng.lognormal(4.0 - 0.8 * shift, 0.9, rows).round(1)
    position = rng.integers(1, 21 + int(20 * shift), rows).astype(float)
    missing = rng.random(rows) < 0.01 + 0.05 * shift   # a client bug drops the tenure more often
    tenure_list = [None if m else float(t) for m, t in zip(missing, tenure, strict=True)]
    logit = -2.0 - 0.08 * position + 0.4 * (np.array(device) == "mobile") - 0.02 * item_age
    predictions = (1 / (1 + np.exp(-logit))).round(5)
    return {"features": {"item_age_days": item_age.tolist(), "user_tenure_days": tenure_list,
                         "position": position.tolist(), "device": device},
            "predictions": predictions.tolist()}


def seed_drift(*, log=print) -> int:
    """Create the demo drift history; returns how many reports were computed (0 on a re-run)."""
    version = (ModelVersion.objects.select_related("model__tenant")
               .filter(model__tenant__slug=TEAM, model__name=MODEL, version=VERSION).first())
    if version is None or Baseline.objects.filter(version=version).exists():
        return 0
    rng = np.random.default_rng(2026)
    made = 0
    with audit_context(source=AuditSource.CLI):
        training = _sample(rng, 20_000, 0.0)
        services.upload_baseline(version, actor=None, features=training["features"],
                                 predictions=training["predictions"], source="demo")
        now = timezone.now()
        for hour in range(HOURS, 0, -1):
            at = now - timedelta(hours=hour)
            shift = max(0.0, (HOURS - hour - 3) / (HOURS - 3))  # calm for a few hours, then drifting
            batch = _sample(rng, ROWS_PER_HOUR, shift)
            services.record_observations(version, actor=None, features=batch["features"],
                                         predictions=batch["predictions"], at=at)
            report = services.compute_report(version, actor=None, now=at.replace(minute=59, second=0))
            if report is not None:
                # Date the report at the end of the hour it covers (they are all computed now).
                DriftReport.objects.filter(pk=report.pk).update(created_at=at.replace(minute=59, second=0))
                made += 1
    log(f"  Drift: {MODEL} v{VERSION} baseline + {HOURS} hours of shifted observations, {made} reports")
    return made
