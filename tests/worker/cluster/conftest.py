"""Shared specs and schema loaders for the cluster adapter tests."""

from __future__ import annotations

import copy
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from worker.cluster.spec import RouteSpec, TenantSpec, WorkloadSpec

# tests/worker/cluster/conftest.py → repository root is three levels up; the shared folder sits beside it.
REPO_ROOT = Path(__file__).resolve().parents[3]
CRD_NAME = "gateway.networking.k8s.io_httproutes.yaml"


def _find_crd() -> Path:
    """The Gateway API CRD from the project's shared/schemas (never copied into the repository):
    beside this checkout (CI), or beside the local repository it was cloned from (a fresh clone
    elsewhere, e.g. the newcomer check). The first candidate is returned when none exists, so
    the test fails naming where it looked."""
    candidates = [REPO_ROOT.parent / "shared" / "schemas" / CRD_NAME]
    try:
        origin = subprocess.run(["git", "-C", str(REPO_ROOT), "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin and "://" not in origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / "shared" / "schemas" / CRD_NAME)
    return next((path for path in candidates if path.is_file()), candidates[0])


HTTPROUTE_CRD = _find_crd()


def _close_objects(schema: Any) -> Any:
    """Make the CRD schema strict like kubernetes-validate's -strict schemas: no unknown fields.

    (The API server prunes unknown fields of a structural CRD silently; we want to hear about them.)
    """
    if isinstance(schema, dict):
        schema = {k: _close_objects(v) for k, v in schema.items()}
        if (schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_close_objects(v) for v in schema]
    return schema


@cache
def httproute_schema() -> dict[str, Any]:
    crd = yaml.safe_load(HTTPROUTE_CRD.read_text())
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return _close_objects(copy.deepcopy(v1["schema"]["openAPIV3Schema"]))


def workload(**overrides: Any) -> WorkloadSpec:
    values: dict[str, Any] = dict(
        tenant="recsys", namespace="slipway-recsys", model="ctr-ranker", version=3, deployment_id=42,
        name="ctr-ranker-v3", image="registry.local/slipway/pyfunc-server:2.17", model_uri="models:/ctr-ranker/3",
        replicas=2, min_replicas=2, max_replicas=6, gpus_per_replica=1, instance_type="g5.xlarge", gpu_node=True,
        spot_percent=0, cpu="3", memory="12Gi", queue_depth_target=8, gpu_util_target=70,
        extra_labels={"team-cost-center": "cc-1234"},
    )
    values.update(overrides)
    return WorkloadSpec(**values)


def tenant(**overrides: Any) -> TenantSpec:
    values: dict[str, Any] = dict(slug="recsys", namespace="slipway-recsys", gpu_quota=16)
    values.update(overrides)
    return TenantSpec(**values)


def route(*backends: tuple[str, int], model: str = "ctr-ranker") -> RouteSpec:
    return RouteSpec(namespace="slipway-recsys", tenant="recsys", model=model,
                     backends=backends or (("ctr-ranker-v2", 80), ("ctr-ranker-v3", 20)), deployment_id=42)

