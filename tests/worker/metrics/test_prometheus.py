"""PrometheusProvider against a real Prometheus scraping the dev cluster (SPEC §3 "Metrics").

The dev cluster's traffic is deterministic (exact counts, no randomness), so the truth of a
window is known: a workload with `rps` R behind a route share s serves R·s requests a
second, `error_rate` of them 5xx, with a latency distribution whose 99th percentile is
`p99_ms`. Prometheus sees that through 1 s scrapes. Tolerances, from how PromQL estimates a
window (measured over 144 windows of 10-20 s: counts within 0.6 %, error rates within
0.0003, p99 within 0.6 %):
- counts: the simulator's counters move once a second and the scrapes run at an unrelated
  phase, so `increase()` over W seconds may gain or lose one second's worth at an edge of
  the window: ±1/W → ±10 % at W = 10 s;
- error rate: numerator and denominator share the window and the dev cluster spreads errors
  exactly, so edge effects cancel: ±0.005 absolute, a fifth of the distance between the
  1 % advance line and the figures used here (0.1 %, 0.2 %; 10 % against the 5 % line);
- p99: `histogram_quantile` interpolates linearly inside buckets 10-25 % wide (the dev
  cluster's README measures ~2 % with exact counts) and bucket counts are exported floored:
  ±5 %.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from apps.deployments import services
from apps.deployments.choices import DeploymentStatus, Phase, Verdict
from apps.deployments.models import Analysis, Environment, Rollout
from tests import factories
from tests.deployments.conftest import SMALL, make_version
from tests.worker.metrics.conftest import IDLE, NAMESPACE, SCENARIOS, free_port
from worker.cluster import get_cluster
from worker.engine.plan import Gates, analyse
from worker.engine.reconcile import Engine, reconcile
from worker.metrics import MetricsUnavailable, get_provider
from worker.metrics.prometheus import DEFAULT_QUERIES, PrometheusProvider, render, validate_queries

WINDOW = 10
COUNT_TOLERANCE = 0.10
RATE_TOLERANCE = 0.005
P99_TOLERANCE = 0.05


def provider(stack, **config) -> PrometheusProvider:
    return PrometheusProvider({"url": stack.prom.url, **config})


def share(model: str, version: int) -> float:
    weight = SCENARIOS[model][2]
    return (weight if version == 2 else 100 - weight) / 100


def expected(model: str, version: int, seconds: int) -> dict:
    behaviour = SCENARIOS[model][version - 1]
    return {"requests": behaviour["rps"] * share(model, version) * seconds,
            "error_rate": behaviour["error_rate"], "p99_ms": behaviour["p99_ms"]}


# --- figures ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "version"), [("ctr", 2), ("ctr", 1), ("rank", 2), ("search", 2)])
def test_window_returns_requests_error_rate_and_p99_close_to_the_truth(stack, model, version):
    stats = provider(stack).window(namespace=NAMESPACE, workload=f"{model}-v{version}", seconds=WINDOW)
    truth = expected(model, version, WINDOW)
    assert stats.requests == pytest.approx(truth["requests"], rel=COUNT_TOLERANCE)
    assert stats.error_rate == pytest.approx(truth["error_rate"], abs=RATE_TOLERANCE)
    assert stats.errors == round(stats.error_rate * stats.requests)
    assert stats.p99_ms == pytest.approx(truth["p99_ms"], rel=P99_TOLERANCE)
    # The dev cluster's own exact window agrees with the construction above.
    exact = stack.truth(f"{model}-v{version}", WINDOW)
    assert exact["requests"] == pytest.approx(truth["requests"], rel=0.05)


def test_error_rate_is_exact_enough_to_separate_the_gates(stack):
    """10 % vs 0.2 % canaries: far on either side of the 1 % advance and 5 % rollback lines."""
    bad = provider(stack).window(namespace=NAMESPACE, workload="ctr-v2", seconds=WINDOW)
    good = provider(stack).window(namespace=NAMESPACE, workload="rank-v2", seconds=WINDOW)
    assert bad.error_rate > 0.05 and good.error_rate < 0.01


def test_a_longer_window_counts_proportionally_more(stack):
    short = provider(stack).window(namespace=NAMESPACE, workload="rank-v1", seconds=WINDOW // 2)
    long = provider(stack).window(namespace=NAMESPACE, workload="rank-v1", seconds=WINDOW)
    assert long.requests / short.requests == pytest.approx(2.0, rel=2 * COUNT_TOLERANCE)


def test_min_window_seconds_raises_short_windows(stack):
    """With slow scrapes a short window has < 2 samples; the environment sets a floor."""
    floored = provider(stack, min_window_seconds=WINDOW).window(namespace=NAMESPACE, workload="rank-v1", seconds=2)
    assert floored.requests == pytest.approx(expected("rank", 1, WINDOW)["requests"], rel=COUNT_TOLERANCE)


# --- templates ----------------------------------------------------------------------------------------

def test_custom_templates_from_metrics_config_are_used(stack):
    """Plain-PromQL templates (single braces): only 200s as 'requests', the median as 'p99'."""
    queries = {
        "requests": 'sum(increase(devcluster_requests_total{namespace="{namespace}",workload="{workload}",'
                    'code="200"}[{window}s]))',
        "p99_ms": "1000 * histogram_quantile(0.5, sum by (le) (rate(devcluster_request_duration_seconds_bucket"
                  '{namespace="{namespace}",workload="{workload}"}[{window}s])))',
    }
    custom = get_provider(Environment(metrics_provider="prometheus",
                                      metrics_config={"url": stack.prom.url, "queries": queries}))
    assert isinstance(custom, PrometheusProvider)
    stats = custom.window(namespace=NAMESPACE, workload="ctr-v2", seconds=WINDOW)
    truth = expected("ctr", 2, WINDOW)
    assert stats.requests == pytest.approx(truth["requests"] * 0.9, rel=COUNT_TOLERANCE)  # 10 % are 500s
    # Log-normal (σ = 0.5) scaled to p99 = 400 ms: the median is 400 · e^(−0.5 · z₀.₉₉) ≈ 125 ms.
    median = truth["p99_ms"] * math.exp(-0.5 * 2.3263)
    assert stats.p99_ms == pytest.approx(median, rel=P99_TOLERANCE)
    assert stats.error_rate == pytest.approx(0.1, abs=RATE_TOLERANCE)  # the default error_rate template still runs


def test_format_style_templates_and_an_errors_count_still_work(stack):
    """`str.format` templates double PromQL's braces; an `errors` count without `error_rate` → ratio."""
    selector = 'namespace="{namespace}",workload="{workload}"'
    queries = {"errors": "sum(increase(devcluster_requests_total{{" + selector + ',code=~"5.."}}[{window}s]))',
               "requests": "sum(increase(devcluster_requests_total{{" + selector + "}}[{window}s]))"}
    stats = provider(stack, queries=queries).window(namespace=NAMESPACE, workload="ctr-v2", seconds=WINDOW)
    assert stats.requests == pytest.approx(expected("ctr", 2, WINDOW)["requests"], rel=COUNT_TOLERANCE)
    assert stats.error_rate == pytest.approx(0.1, abs=RATE_TOLERANCE)
    assert stats.error_rate == stats.errors / stats.requests


def test_render_fills_only_the_three_placeholders():
    promql = render('sum(rate(x{ns="{namespace}",w="{workload}",code=~"5.."}[{window}s]))',
                    namespace="prom-test", workload="ctr-v2", seconds=30)
    assert promql == 'sum(rate(x{ns="prom-test",w="ctr-v2",code=~"5.."}[30s]))'
    assert render(DEFAULT_QUERIES["requests"], namespace='a"b', workload="w", seconds=0).count('\\"') == 1
    assert validate_queries(DEFAULT_QUERIES) == []
    assert validate_queries({"p99": "x", "requests": 'x{m="{model}"}', "p99_ms": " "}) == [
        ("p99", "unknown query; allowed: error_rate, errors, p99_ms, requests"),
        ("requests", "unknown placeholder {model}; use {namespace}, {workload}, {window}"),
        ("p99_ms", "must be a non-empty PromQL string"),
    ]


# --- no data ------------------------------------------------------------------------------------------

def test_no_traffic_nan_becomes_none_never_zero(stack):
    """The idle version's series exist but stand still: increase 0, 0/0 = NaN rate and quantile."""
    prom = provider(stack)
    raw = prom.query(prom.render("error_rate", namespace=NAMESPACE, workload=f"{IDLE}-v1", seconds=5))
    assert raw is None  # Prometheus answered NaN; clean() made it None
    body = requests.get(f"{stack.prom.url}/api/v1/query", timeout=5, params={"query": render(
        DEFAULT_QUERIES["p99_ms"], namespace=NAMESPACE, workload=f"{IDLE}-v1", seconds=5)}).json()
    assert body["data"]["result"][0]["value"][1] == "NaN"  # really a NaN on the wire, not an empty answer
    stats = prom.window(namespace=NAMESPACE, workload=f"{IDLE}-v1", seconds=5)
    assert stats.requests == 0
    assert stats.error_rate is None and stats.p99_ms is None and stats.errors is None
    decision = analyse(stats, None, Gates(sla_p99_ms=200))
    assert decision.verdict == Verdict.INCONCLUSIVE and decision.gate == "sample_size"


def test_a_workload_prometheus_never_saw_is_no_data(stack):
    stats = provider(stack).window(namespace=NAMESPACE, workload="nobody-v9", seconds=WINDOW)
    assert (stats.requests, stats.errors, stats.error_rate, stats.p99_ms) == (None, None, None, None)
    assert analyse(stats, None, Gates(sla_p99_ms=200)).verdict == Verdict.INCONCLUSIVE


# --- failures -----------------------------------------------------------------------------------------

def _raises_quickly(prom: PrometheusProvider, limit: float, match: str) -> None:
    started = time.monotonic()
    with pytest.raises(MetricsUnavailable, match=match):
        prom.window(namespace=NAMESPACE, workload="ctr-v2", seconds=WINDOW)
    assert time.monotonic() - started < limit


def test_a_query_prometheus_rejects_raises_metrics_unavailable(stack):
    broken = provider(stack, queries={"p99_ms": "histogram_quantile(0.99, rate(x[{window}s]"})
    _raises_quickly(broken, 2.0, r"refused the query \(400\).*parse error")


def test_an_unknown_placeholder_raises_metrics_unavailable_not_a_crash(stack):
    typo = provider(stack, queries={"requests": 'sum(x{model="{model}"})'})
    _raises_quickly(typo, 1.0, r"template 'requests' is unusable: unknown placeholder \{model\}")


def test_a_template_answering_several_series_is_refused(stack):
    """Without `sum`, one series per status code: picking one would be a guess."""
    ambiguous = provider(stack, queries={"requests": 'increase(devcluster_requests_total{namespace="{namespace}",'
                                                     'workload="{workload}"}[{window}s])'})
    _raises_quickly(ambiguous, 2.0, r"[23] series .* must aggregate to one series")


def test_an_error_rate_outside_zero_one_is_refused(stack):
    wrong = provider(stack, queries={"error_rate": "sum(increase(devcluster_requests_total{namespace="
                                                   '"{namespace}",workload="{workload}"}[{window}s]))'})
    _raises_quickly(wrong, 2.0, r"error_rate template answered .* not a ratio")


def test_prometheus_down_raises_quickly():
    closed = PrometheusProvider({"url": f"http://127.0.0.1:{free_port()}"})
    _raises_quickly(closed, 1.0, r"ConnectionError")


def test_prometheus_that_never_answers_times_out_quickly():
    """A listening socket nobody reads: the request times out after `timeout_seconds`."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        hung = PrometheusProvider({"url": f"http://127.0.0.1:{port}", "timeout_seconds": 0.5})
        _raises_quickly(hung, 2.0, r"Timeout")


def test_prometheus_answering_garbage_raises_metrics_unavailable():
    """A proxy's HTML error page instead of the API's JSON."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]

        def answer():
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 13\r\n"
                             b"Connection: close\r\n\r\n<h1>oops</h1>")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        _raises_quickly(PrometheusProvider({"url": f"http://127.0.0.1:{port}"}), 2.0, r"JSONDecodeError")
        thread.join(timeout=2)


# --- the gates on these numbers -----------------------------------------------------------------------

@pytest.mark.parametrize(("model", "verdict", "gate"), [
    ("ctr", Verdict.ROLLBACK, "error_rate"),  # 10 % errors > 5 %
    ("search", Verdict.ROLLBACK, "latency"),  # p99 400 ms > 2 × stable 80 ms (and < the 1 s SLA)
    ("rank", Verdict.ADVANCE, ""),  # 0.2 % errors < 1 %, p99 90 ms < SLA
])
def test_the_gate_decision_from_prometheus_figures(stack, model, verdict, gate):
    prom = provider(stack)
    canary = prom.window(namespace=NAMESPACE, workload=f"{model}-v2", seconds=WINDOW)
    stable = prom.window(namespace=NAMESPACE, workload=f"{model}-v1", seconds=WINDOW)
    decision = analyse(canary, stable, Gates(sla_p99_ms=1000))
    assert (decision.verdict, decision.gate) == (verdict, gate), decision.reason


def test_provider_down_is_an_inconclusive_analysis_never_a_promotion():
    with pytest.raises(MetricsUnavailable) as down:
        PrometheusProvider({"url": f"http://127.0.0.1:{free_port()}"}).window(
            namespace=NAMESPACE, workload="rank-v2", seconds=WINDOW)
    decision = analyse(None, None, Gates(sla_p99_ms=1000), provider_error=str(down.value))
    assert (decision.verdict, decision.gate) == (Verdict.INCONCLUSIVE, "metrics")


# --- the engine with a prometheus environment ---------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = timezone.now()

    def __call__(self):
        return self.now


def test_engine_rolls_back_a_bad_canary_on_prometheus_figures(stack, recsys, ada, db):
    """The staging environment configured for Prometheus; the engine's default metrics factory
    (get_provider) reads it. v1 goes live on a smoke analysis from Prometheus; v2 serves 10 %
    errors and is rolled back by the every-tick gate once Prometheus has scraped enough of it."""
    Environment.objects.filter(name="staging").update(
        cluster={"kind": "url", "url": stack.dc.url}, metrics_provider="prometheus",
        metrics_config={"url": stack.prom.url, "timeout_seconds": 2}, smoke_seconds=30)
    clock = Clock()
    cluster = get_cluster({"kind": "url", "url": stack.dc.url}, environment="staging", sleep=lambda _s: None)
    engine = Engine(clock=clock, cluster_factory=lambda env: cluster, owner="prom-test",
                    set_alias=lambda *args: None)
    model = factories.model(recsys, "fraud")
    namespace = Environment.objects.get(name="staging").namespace_for(recsys.slug)
    for version in (1, 2):
        stack.behave(namespace, f"fraud-v{version}", rps=1000, p99_ms=80,
                     error_rate=0.001 if version == 1 else 0.1)

    def run(deployment, until: set[str], max_ticks: int = 25) -> int:
        rollout_id = Rollout.objects.get(deployment=deployment).pk
        for tick in range(max_ticks):
            deployment.refresh_from_db()
            if deployment.status in until and Rollout.objects.get(pk=rollout_id).cluster_synced:
                return tick
            clock.now += timedelta(seconds=10)
            reconcile(rollout_id, engine)
            time.sleep(1.0)  # real time for the dev cluster's ticker and Prometheus' scrapes
        analyses = [(a.kind, a.verdict, a.reason) for a in Analysis.objects.filter(rollout_id=rollout_id)]
        raise AssertionError(f"#{deployment.pk} still {deployment.status} ({Rollout.objects.get(pk=rollout_id)}); "
                             f"{deployment.status_reason}; analyses: {analyses}")

    old = services.request_deployment(make_version(model, 1), environment="staging", config=dict(SMALL), actor=ada)
    run(old, {DeploymentStatus.LIVE})
    smoke = Analysis.objects.get(rollout__deployment=old, kind="smoke")
    assert smoke.verdict == Verdict.ADVANCE and smoke.canary_requests >= 50

    new = services.request_deployment(make_version(model, 2), environment="staging",
                                      config={**SMALL, "steps": [25, 50, 100]}, actor=ada)
    run(new, {DeploymentStatus.ROLLED_BACK})
    breach = Analysis.objects.get(rollout__deployment=new, verdict=Verdict.ROLLBACK)
    assert breach.gate == "error_rate" and breach.canary_weight == 25
    assert breach.canary_error_rate == pytest.approx(0.1, abs=RATE_TOLERANCE)
    assert breach.stable_p99_ms == pytest.approx(80, rel=P99_TOLERANCE)
    assert cluster.get_route_weights(namespace, "fraud") == {"fraud-v1": 100, "fraud-v2": 0}
    assert Rollout.objects.get(deployment=new).phase == Phase.DONE
    # Every tick in STEP before the breach was visible recorded Prometheus figures, none promoted.
    assert not Analysis.objects.filter(rollout__deployment=new, verdict=Verdict.ADVANCE).exists()
