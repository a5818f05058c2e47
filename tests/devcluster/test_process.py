"""``python -m devcluster`` as a real process: real-time traffic from the background ticker."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client

from tests.devcluster.conftest import GATEWAY, canary, sim

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Url:
    def __init__(self, url: str) -> None:
        self.url = url


def test_module_runs_as_a_process_with_real_time_traffic():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devcluster", "--host", "127.0.0.1", "--port", str(port), "--ready-delay", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "listening on" in proc.stdout.readline()
        target = _Url(f"http://127.0.0.1:{port}")
        api = client.ApiClient(client.Configuration(host=target.url))
        core, apps, custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
        core.create_namespace({"metadata": {"name": "live"}})
        canary(apps, core, custom, "live", {"ranker-v1": 100})
        assert custom.get_namespaced_custom_object(*GATEWAY, "live", "httproutes", "ranker")["metadata"]["generation"] == 1
        deadline = time.monotonic() + 10
        stats = {}
        while time.monotonic() < deadline:  # the 1 s ticker simulates traffic without any advance call
            stats = sim(target, "GET", "/_sim/stats?namespace=live&workload=ranker-v1&window=60")[1]
            if stats["requests"] >= 20:
                break
            time.sleep(0.2)
        assert stats["requests"] >= 20 and stats["requests"] % 20 == 0
        assert "devcluster_requests_total" in sim(target, "GET", "/metrics")[1]
        api.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
