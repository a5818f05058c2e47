"""/metrics: HTTP and Celery counts in Prometheus text, summed over processes in multiprocess mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return _samples(response.content.decode())


def test_metrics_count_http_requests_and_their_latency(client, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    labels = {"method": "GET", "view": "healthz", "status": "200"}
    before = REGISTRY.get_sample_value("slipway_http_requests_total", labels) or 0.0
    for _ in range(3):
        client.get("/healthz")
    samples = _scrape(client)
    key = ("slipway_http_requests_total", tuple(sorted(labels.items())))
    assert samples[key] == before + 3
    count_key = ("slipway_http_request_duration_seconds_count", (("method", "GET"), ("view", "healthz")))
    assert samples[count_key] >= 3


def test_unknown_paths_share_one_label_instead_of_one_series_each(client, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    client.get("/no-such-page-1")
    client.get("/no-such-page-2")
    text = client.get("/metrics").content.decode()
    assert 'view="unmatched"' in text
    assert "no-such-page" not in text


def test_metrics_count_celery_tasks_by_name_and_state(client, db, monkeypatch):
    from worker.tasks import evaluate_checklist

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    labels = {"task": "evaluate_checklist", "state": "SUCCESS"}
    before = REGISTRY.get_sample_value("slipway_celery_tasks_total", labels) or 0.0
    evaluate_checklist.delay(987654321)  # eager in tests; an unknown id is a no-op that succeeds
    samples = _scrape(client)
    assert samples[("slipway_celery_tasks_total", tuple(sorted(labels.items())))] == before + 1


def _count_in_subprocess(folder: Path, tasks: int, requests: int) -> None:
    code = (
        "from apps.core.metrics import TASKS, HTTP_REQUESTS\n"
        f"TASKS.labels('sync_all_models', 'SUCCESS').inc({tasks})\n"
        f"HTTP_REQUESTS.labels('GET', 'dashboard', '200').inc({requests})\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)


def test_multiprocess_mode_sums_samples_written_by_other_processes(client, tmp_path, monkeypatch):
    # given two processes (a worker and a web process, say) that counted into one folder
    folder = tmp_path / "prometheus"
    folder.mkdir()
    _count_in_subprocess(folder, tasks=2, requests=5)
    _count_in_subprocess(folder, tasks=3, requests=1)
    assert len(list(folder.glob("counter_*.db"))) == 2  # one file per process
    # when /metrics is scraped in multiprocess mode
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    samples = _scrape(client)
    # then it shows the sum over both processes
    assert samples[("slipway_celery_tasks_total", (("state", "SUCCESS"), ("task", "sync_all_models")))] == 5
    assert samples[("slipway_http_requests_total",
                    (("method", "GET"), ("status", "200"), ("view", "dashboard")))] == 6
