"""Benchmark: cost aggregations through the API against bare SQL over the same rows (SPEC §10).

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/costs.py [--rounds 5] [--rebuild]

Builds (or reuses) 1,000 deployments × 90 days of hourly cost records (2.16 M rows) in the
PostgreSQL database of DATABASE_URL (its own teams, `bench-costs-*`; loaded with COPY), then
times, in the same run:

* month by model — `GET /api/v1/costs/?group_by=model&start=<month>&end=<month end>`
* day by tenant — `GET /api/v1/costs/?group_by=day,tenant&start=<90 days ago>&end=<today>`

each through the whole API path (Django test client in-process: middleware, session auth,
throttles, the FilterSet, the report, JSON rendering), against the bare
`SELECT …, SUM(usd), SUM(gpu_hours), … GROUP BY …` computing the same sums over the same rows.
Prints the medians and the ratio API / bare SQL (target: within 2×).

SQLite (no DATABASE_URL) is skipped with a message: the target is about PostgreSQL, and this
script is not part of `make test` (pytest collects tests/ only).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS, DAYS, TEAMS, MODELS_PER_TEAM = 1000, 90, 20, 25
PREFIX = "bench-costs-"


def setup_django() -> bool:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("benchmarks/costs.py: skipped — set DATABASE_URL to a PostgreSQL database "
              "(the 2.16 M-row cost aggregation benchmark targets PostgreSQL).")
        return False
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["DEBUG"] = "false"  # no query log
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.setdefault("SLIPWAY_TOKEN_RATE_PER_MINUTE", "10000000")
    import django

    django.setup()
    return True


def build(*, rebuild: bool) -> tuple[int, date]:
    """Teams, models, versions and deployments, then 2.16 M cost rows by COPY. Returns (rows, last day)."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from apps.costs.models import CostRecord
    from apps.deployments.models import Deployment, Environment
    from apps.registry.models import Model, ModelVersion
    from apps.tenancy.models import Tenant, User

    call_command("migrate", verbosity=0)
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=DAYS - 1)
    existing = CostRecord.objects.filter(tenant__slug__startswith=PREFIX)
    wanted = DEPLOYMENTS * DAYS * 24
    if not rebuild and existing.count() == wanted and existing.filter(day=today).exists():
        return wanted, today
    print(f"building {wanted:,} cost rows for {DEPLOYMENTS} deployments × {DAYS} days …", flush=True)
    started = time.perf_counter()
    with transaction.atomic():
        CostRecord.objects.filter(tenant__slug__startswith=PREFIX).delete()
        Deployment.objects.filter(tenant__slug__startswith=PREFIX).delete()
        ModelVersion.objects.filter(model__tenant__slug__startswith=PREFIX).delete()
        Model.objects.filter(tenant__slug__startswith=PREFIX).delete()
        Tenant.objects.filter(slug__startswith=PREFIX).delete()
        user, _ = User.objects.get_or_create(username="bench-costs-platform", defaults={"is_platform": True})
        tenants = Tenant.objects.bulk_create([Tenant(slug=f"{PREFIX}{i:02d}", name=f"Bench {i}")
                                              for i in range(TEAMS)])
        models = Model.objects.bulk_create([Model(tenant=t, name=f"model-{j:02d}", mlflow_name=f"{t.slug}-{j}")
                                            for t in tenants for j in range(MODELS_PER_TEAM)])
        versions = ModelVersion.objects.bulk_create([ModelVersion(model=m, version=v) for m in models
                                                     for v in (1, 2)])
        envs = list(Environment.objects.filter(name__in=["staging", "production"]).order_by("name"))
        deployments = []
        for index in range(DEPLOYMENTS):
            version = versions[index % len(versions)]
            deployments.append(Deployment(
                tenant_id=version.model.tenant_id, model=version.model, version=version,
                environment=envs[index % 2], status="live", config={"instance_type": "g5.xlarge",
                                                                     "gpus_per_replica": 1, "min_replicas": 2},
                config_hash="b" * 64, requested_by=user))
        deployments = Deployment.objects.bulk_create(deployments)
    columns = ("tenant_id", "model_id", "environment_id", "deployment_id", "version_number", "hour", "day",
               "instance_type", "gpus_per_replica", "replica_hours", "gpu_hours", "instance_hours", "spot_share",
               "on_demand_rate", "spot_rate", "on_demand_usd", "spot_usd", "usd", "requests", "gpu_utilization",
               "usage_source", "metered_at")
    now = datetime.now(UTC).isoformat()
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        sql = f"COPY costs_costrecord ({', '.join(columns)}) FROM STDIN"
        with raw.copy(sql) as copy:
            for d in deployments:
                for h in range(DAYS * 24):
                    at = start + timedelta(hours=h)
                    replicas = 2 + (h // 24 + d.pk) % 3
                    usd = replicas * 1.006
                    requests = (d.pk * 7 + h * 13) % 90_000 if h % 11 else 0
                    copy.write_row((d.tenant_id, d.model_id, d.environment_id, d.pk, d.version.version, at,
                                    at.date(), "g5.xlarge", 1, replicas, replicas, replicas, 0, "1.0060", "0.4024",
                                    f"{usd:.4f}", 0, f"{usd:.4f}", requests, 0.42, "simulated", now))
        cursor.execute("ANALYZE costs_costrecord")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return wanted, today


def median_seconds(fn, rounds: int) -> float:
    fn()  # warm caches and plans
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the rows even if they exist")
    args = parser.parse_args()
    if not setup_django():
        return 0
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from apps.tenancy.models import User

    setup_test_environment()  # the test client's "testserver" host
    rows, today = build(rebuild=args.rebuild)
    month_start = today.replace(day=1) - timedelta(days=1)
    month_start = month_start.replace(day=1)  # the last complete month (fully inside the 90 days)
    month_end = today.replace(day=1) - timedelta(days=1)
    first_day = today - timedelta(days=DAYS - 1)
    client = Client()
    client.force_login(User.objects.get(username="bench-costs-platform"))

    sums = ("SUM(usd), SUM(gpu_hours), SUM(replica_hours), SUM(requests), "
            "SUM(usd) FILTER (WHERE requests IS NOT NULL)")
    cases = [
        ("month by model", {"group_by": "model", "start": month_start.isoformat(), "end": month_end.isoformat(),
                            "page_size": 200},
         f"SELECT model_id, {sums} FROM costs_costrecord WHERE day BETWEEN %s AND %s GROUP BY model_id",
         (month_start, month_end)),
        ("day by tenant", {"group_by": "day,tenant", "start": first_day.isoformat(), "end": today.isoformat(),
                           "page_size": 200},
         f"SELECT day, tenant_id, {sums} FROM costs_costrecord WHERE day BETWEEN %s AND %s GROUP BY day, tenant_id",
         (first_day, today)),
    ]
    print(f"{rows:,} cost rows; {args.rounds} rounds each (median)")
    worst = 0.0
    for name, params, sql, sql_params in cases:
        def api(params=params):
            response = client.get("/api/v1/costs/", params, secure=True)  # production mode redirects http
            assert response.status_code == 200, response.content[:300]
            return response.json()["count"]

        def bare(sql=sql, sql_params=sql_params):
            with connection.cursor() as cursor:
                cursor.execute(sql, sql_params)
                return len(cursor.fetchall())

        groups_api, groups_sql = api(), bare()
        api_s, sql_s = median_seconds(api, args.rounds), median_seconds(bare, args.rounds)
        ratio = api_s / sql_s
        worst = max(worst, ratio)
        print(f"  {name:<15} API {api_s * 1000:8.1f} ms ({groups_api} groups)   bare SQL {sql_s * 1000:8.1f} ms "
              f"({groups_sql} groups)   ratio {ratio:4.2f}×")
    print(f"worst ratio {worst:.2f}× (target ≤ 2×): {'OK' if worst <= 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
