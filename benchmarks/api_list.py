"""Benchmark: `GET /api/v1/models/` against a trivial JSON view of the same app (SPEC §10).

    .venv/bin/python benchmarks/api_list.py [--requests 600] [--rounds 3] [--threads 4] [--workers 2]

Builds (or reuses) a database with 20 teams, 10,000 models and 50,000 versions — SQLite under
var/bench by default, PostgreSQL when DATABASE_URL is set — serves the app with gunicorn on
127.0.0.1 (a free port), and loads, in turns, a trivial JSON view and the models list (page of
50, Bearer-authenticated as a platform engineer and as a team member) from a few client
threads. Prints requests/s, p50/p99 latency, the list/trivial ratio (target ≥ 0.25), the
server CPU time per request (gunicorn workers, from /proc: not skewed by the client sharing
the machine), and the database queries per list request.

The trivial view exists only in this benchmark: gunicorn serves this module's `application`,
whose URLconf adds `/bench/trivial/` in front of `portal.urls`. The benchmark users get high
rate limits (team limit, token limit); throttling stays on and is part of what is measured.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEAMS, MODELS, VERSIONS_PER_MODEL = 20, 10_000, 5
HIGH_LIMIT = 10_000_000  # requests/minute: far above anything this benchmark sends


def configure_environment() -> None:
    """Settings for the benchmark (inherited by the gunicorn processes)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if not os.environ.get("DATABASE_URL"):
        # Its own folder: the SQLite file, the file cache (rate-limit counters), the broker.
        os.environ.setdefault("SLIPWAY_VAR_DIR", str(ROOT / "var" / "bench"))
        os.environ.setdefault("SQLITE_PATH", str(ROOT / "var" / "bench" / "api_list.sqlite3"))
    os.environ["DEBUG"] = "false"  # production mode: no query log, no debug pages
    # Plain HTTP on loopback: no redirect to https (production behind TLS would redirect).
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ["SLIPWAY_TOKEN_RATE_PER_MINUTE"] = str(HIGH_LIMIT)
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


# --- what gunicorn serves ---------------------------------------------------------------

def trivial(request):
    from django.http import JsonResponse

    return JsonResponse({"status": "ok"})


def __getattr__(name: str):
    """`application` and `urlpatterns`, built on first use (gunicorn imports this module)."""
    if name == "urlpatterns":
        from django.urls import include, path

        return [path("bench/trivial/", trivial), path("", include("portal.urls"))]
    if name == "application":
        configure_environment()
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        app = get_wsgi_application()
        settings.ROOT_URLCONF = __name__ if __name__ != "__main__" else "benchmarks.api_list"
        return app
    raise AttributeError(name)


# --- data ---------------------------------------------------------------------------------

def build_data() -> tuple:
    """20 teams, 10,000 models, 50,000 versions (bulk_create); reused when already there."""
    from django.core.management import call_command

    from apps.registry.models import Model, ModelVersion
    from apps.tenancy.models import Membership, Tenant, User

    call_command("migrate", verbosity=0, interactive=False)
    slugs = [f"bench-{i:02d}" for i in range(TEAMS)]
    platform, _ = User.objects.get_or_create(username="bench-platform", defaults={"is_platform": True})
    member, _ = User.objects.get_or_create(username="bench-member")
    have = Model.objects.filter(tenant__slug__in=slugs).count()
    have_versions = ModelVersion.objects.filter(model__tenant__slug__in=slugs).count()
    if have == MODELS and have_versions == MODELS * VERSIONS_PER_MODEL:
        print(f"reusing the benchmark data ({have} models, {have_versions} versions)")
    else:
        started = time.perf_counter()
        Model.objects.filter(tenant__slug__in=slugs).delete()
        Tenant.objects.bulk_create([Tenant(slug=s, name=f"Bench team {s[-2:]}") for s in slugs],
                                   ignore_conflicts=True)
        tenants = list(Tenant.objects.filter(slug__in=slugs).order_by("slug"))
        Model.objects.bulk_create([
            Model(tenant=tenants[i % TEAMS], name=f"model-{i:05d}", mlflow_name=f"model-{i:05d}",
                  description=f"Benchmark model {i}: ranks things for team {i % TEAMS}.",
                  owner="owner@example.com", oncall="#oncall", primary_metric="auc", primary_metric_floor=0.7,
                  created_by=platform)
            for i in range(MODELS)], batch_size=2000)
        model_ids = list(Model.objects.filter(tenant__in=tenants).values_list("pk", flat=True))
        for start in range(0, len(model_ids), 1000):
            ModelVersion.objects.bulk_create([
                ModelVersion(model_id=pk, version=v, mlflow_run_id=f"{pk:016x}{v:016x}",
                             artifact_uri=f"models:/m-{pk}-{v}", artifact_digest="sha256:" + f"{pk:032x}{v:032x}",
                             metrics={"auc": 0.8}, params={"random_seed": "42"}, mlflow_status="READY")
                for pk in model_ids[start:start + 1000] for v in range(1, VERSIONS_PER_MODEL + 1)],
                batch_size=5000)
        print(f"built {len(model_ids)} models and {len(model_ids) * VERSIONS_PER_MODEL} versions "
              f"in {time.perf_counter() - started:.1f} s")
    analyze()
    # High limits for the benchmark's own teams (their members are rate-limited per team).
    Tenant.objects.filter(slug__in=slugs).update(rate_limit_per_minute=HIGH_LIMIT)
    member_team = Tenant.objects.get(slug=slugs[0])
    Membership.objects.get_or_create(user=member, tenant=member_team, defaults={"role": "data_scientist"})
    return platform, member


def analyze() -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL would otherwise guess row counts)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE registry_model, registry_modelversion, tenancy_tenant, tenancy_user")
        else:
            cursor.execute("ANALYZE")


def issue(user) -> str:
    from apps.tenancy.models import ApiToken
    from apps.tenancy.services import issue_token

    ApiToken.objects.filter(user=user, name="benchmark").delete()
    return issue_token(user, actor=user, name="benchmark", expires_in_days=1).secret


def queries_per_request(tokens: dict[str, str]) -> dict[str, int]:
    """Queries of one list request, in-process (warm: after one request per token)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    counts = {}
    for label, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        for page in (1, 5):
            client.get("/api/v1/models/", {"page": page}, headers=headers)
            with CaptureQueriesContext(connection) as ctx:
                response = client.get("/api/v1/models/", {"page": page}, headers=headers)
            assert response.status_code == 200, response.content[:300]
            counts[f"{label} page {page}"] = len(ctx.captured_queries)
    return counts


# --- load ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int) -> subprocess.Popen:
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "benchmarks.api_list:application",
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--chdir", str(ROOT),
               "--log-level", "warning", "--backlog", "256"]
    proc = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            status, _ = request(port, "/bench/trivial/", {})
            if status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited while starting")
    raise SystemExit("gunicorn did not answer within 60 s")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError):
            pass
    return total / ticks


def request(port: int, path: str, headers: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_round(port: int, path: str, headers: dict, total: int, threads: int) -> tuple[float, list[float], int]:
    """`total` requests from `threads` threads; returns (elapsed seconds, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = [total]

    def client():
        nonlocal errors
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            status, _ = request(port, path, headers)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    errors += 1

    pool = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, latencies, errors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per target per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    configure_environment()
    import django

    django.setup()
    from django.conf import settings

    settings.ROOT_URLCONF = "benchmarks.api_list"
    platform, member = build_data()
    tokens = {"platform engineer": issue(platform), "team member": issue(member)}
    database = settings.DATABASES["default"]
    print(f"database: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}; "
          f"cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}")
    query_counts = queries_per_request(tokens)

    targets = {"trivial JSON view": ("/bench/trivial/", {})}
    for label, token in tokens.items():
        targets[f"models list ({label})"] = ("/api/v1/models/?page=3", {"Authorization": f"Bearer {token}"})

    port = free_port()
    server = start_server(port, args.workers)
    try:
        workers = worker_pids(server.pid)
        for path, headers in targets.values():  # warm every worker (imports, connections)
            for _ in range(args.workers * 4):
                status, body = request(port, path, headers)
                if status != 200:
                    raise SystemExit(f"{path} answered {status}: {body[:300]!r}")
        results = {name: {"elapsed": 0.0, "latencies": [], "errors": 0, "cpu": 0.0} for name in targets}
        for _ in range(args.rounds):  # in turns, so drift (thermal, caches) hits every target alike
            for name, (path, headers) in targets.items():
                cpu_before = cpu_seconds(workers)
                elapsed, latencies, errors = run_round(port, path, headers, args.requests, args.threads)
                results[name]["cpu"] += cpu_seconds(workers) - cpu_before
                results[name]["elapsed"] += elapsed
                results[name]["latencies"] += latencies
                results[name]["errors"] += errors
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)

    print(f"\n{args.rounds} rounds x {args.requests} requests per target, {args.threads} client threads, "
          f"{args.workers} gunicorn workers, {os.cpu_count()} CPUs\n")
    print(f"{'target':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'srv CPU ms/req':>15} {'errors':>7}")
    summary = {}
    for name, r in results.items():
        n = len(r["latencies"])
        rps = n / r["elapsed"]
        cpu_ms = 1000 * r["cpu"] / n
        summary[name] = (rps, cpu_ms)
        print(f"{name:38} {rps:8.0f} {1000 * statistics.median(r['latencies']):8.2f} "
              f"{1000 * percentile(r['latencies'], 0.99):8.2f} {cpu_ms:15.2f} {r['errors']:7d}")
    base_rps, base_cpu = summary["trivial JSON view"]
    print()
    for name, (rps, cpu_ms) in summary.items():
        if name != "trivial JSON view":
            print(f"ratio {name}: throughput {rps / base_rps:.2f} (target >= 0.25); "
                  f"server CPU {base_cpu / cpu_ms:.2f}")
    print("\nqueries per list request: " + ", ".join(f"{k}: {v}" for k, v in query_counts.items()))
    if any(r["errors"] for r in results.values()):
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
