"""Reading the MLflow model registry (the only place model versions come from).

Wraps `MlflowClient` so the rest of Slipway sees plain dataclasses and domain errors:
a missing model or version is `MlflowNotFound` (404), an unreachable or broken MLflow is
`MlflowUnavailable` (503). Nothing here writes to Slipway's database.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from apps.core.errors import NotFound, ServiceUnavailable

# Fail fast instead of MLflow's default minutes of retries when a server is down.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(getattr(settings, "MLFLOW_TIMEOUT_SECONDS", 10)))

# Where reproducibility facts are read from: the first tag or param that is set wins.
GIT_COMMIT_KEYS = ("mlflow.source.git.commit", "git_commit", "git.commit")
DATASET_VERSION_KEYS = ("dataset_version", "dataset.version", "data_version")
IMAGE_DIGEST_KEYS = ("image_digest", "container_image_digest", "docker.image.digest")
RANDOM_SEED_KEYS = ("random_seed", "seed")
DATA_VALIDATION_KEYS = ("data_validation", "data_validation.status")


class MlflowNotFound(NotFound):
    title = "Not found in MLflow"
    default_code = "mlflow_not_found"


class MlflowUnavailable(ServiceUnavailable):
    title = "MLflow unavailable"
    default_code = "mlflow_unavailable"


@dataclass(frozen=True)
class MlflowVersion:
    """What Slipway imports from one MLflow model version and its run."""

    name: str
    version: int
    run_id: str
    artifact_uri: str
    artifact_digest: str
    status: str
    created_at: datetime | None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def first(self, keys: tuple[str, ...]) -> str:
        for key in keys:
            value = self.tags.get(key) or self.params.get(key)
            if value:
                return str(value)
        return ""


def get_client():
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.MLFLOW_TRACKING_URI, registry_uri=settings.MLFLOW_REGISTRY_URI)


def _is_not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def _unavailable(exc: Exception) -> MlflowUnavailable:
    return MlflowUnavailable(f"MLflow at {_public_uri()} did not answer: {type(exc).__name__}: {str(exc)[:200]}")


def _public_uri() -> str:
    uri = settings.MLFLOW_TRACKING_URI
    return "the embedded store" if uri.startswith("sqlite:") else uri.split("@")[-1]


def ping() -> None:
    """Raise MlflowUnavailable unless the registry answers a trivial query."""
    try:
        get_client().search_registered_models(max_results=1)
    except Exception as exc:
        raise _unavailable(exc) from exc


def list_versions(mlflow_name: str) -> list[int]:
    """All version numbers of the registered model, ascending (every result page)."""
    client = get_client()
    numbers: set[int] = set()
    try:
        client.get_registered_model(mlflow_name)
        page_token = None
        while True:
            page = client.search_model_versions(filter_string=f"name = {_quote(mlflow_name)}",
                                                page_token=page_token)
            numbers.update(int(v.version) for v in page)
            page_token = getattr(page, "token", None)
            if not page_token:
                break
    except Exception as exc:
        if _is_not_found(exc):
            raise MlflowNotFound(f"MLflow has no registered model named '{mlflow_name}'.",
                                 field="mlflow_name") from exc
        raise _unavailable(exc) from exc
    return sorted(numbers)


def _quote(value: str) -> str:
    """A filter-string literal; MLflow's parser has no escapes, so pick the quote the name lacks."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def _artifact_location(client, source: str) -> str:
    """MLflow 3 versions point at a logged model (`models:/m-…`); older ones at run artifacts."""
    if source.startswith("models:/"):
        model_id = source[len("models:/"):].strip("/").split("/")[-1]
        return client.get_logged_model(model_id).artifact_location
    return source


def _digest(client, source: str) -> str:
    """sha256 of the version's MLmodel file; of the artifact listing when there is none."""
    import mlflow

    location = _artifact_location(client, source).rstrip("/")
    # `runs:/` and `mlflow-artifacts:/` URIs are resolved through the tracking server: pass
    # Slipway's, never the process-global default (./mlruns).
    uris = {"tracking_uri": settings.MLFLOW_TRACKING_URI}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=f"{location}/MLmodel", dst_path=tmp,
                                                       registry_uri=settings.MLFLOW_REGISTRY_URI, **uris)
            with open(path, "rb") as fh:
                return "sha256:" + hashlib.sha256(fh.read()).hexdigest()
        except Exception as exc:
            if not _is_not_found(exc) and not isinstance(exc, (FileNotFoundError, OSError)):
                raise
    listing = sorted(f"{item.path}\t{item.file_size}"
                     for item in mlflow.artifacts.list_artifacts(artifact_uri=location, **uris) or [])
    return "sha256:" + hashlib.sha256("\n".join(listing).encode()).hexdigest()


def fetch_version(mlflow_name: str, version: int | str) -> MlflowVersion:
    """Read one model version, its run (metrics, params, tags) and its artifact digest."""
    try:
        number = int(str(version).strip())
        if number < 1:
            raise ValueError
    except ValueError:
        raise MlflowNotFound(f"'{version}' is not a version number (1, 2, 3, …).", field="mlflow_version") from None
    client = get_client()
    try:
        mv = client.get_model_version(mlflow_name, str(number))
    except Exception as exc:
        if _is_not_found(exc):
            raise MlflowNotFound(f"MLflow model '{mlflow_name}' has no version {number}.",
                                 field="mlflow_version") from exc
        raise _unavailable(exc) from exc
    try:
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        tags: dict[str, str] = dict(mv.tags or {})
        if mv.run_id:
            run = client.get_run(mv.run_id)
            metrics = {k: float(v) for k, v in run.data.metrics.items()}
            params = dict(run.data.params)
            tags = {**{k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.log-model")}, **tags}
        digest = _digest(client, mv.source)
    except MlflowNotFound:
        raise
    except Exception as exc:
        if _is_not_found(exc):  # the run or logged model was deleted under the version
            raise MlflowNotFound(f"MLflow model '{mlflow_name}' version {number} points at a run or "
                                 f"artifact that no longer exists.", field="mlflow_version") from exc
        raise _unavailable(exc) from exc
    created = (datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC)
               if mv.creation_timestamp else None)
    return MlflowVersion(
        name=mlflow_name, version=number, run_id=mv.run_id or "", artifact_uri=mv.source or "",
        artifact_digest=digest, status=str(mv.status or ""), created_at=created,
        metrics=metrics, params=params, tags=tags,
    )


def artifact_digest(mlflow_name: str, version: int) -> str:
    """The current digest of a version's artifact (re-checked before a rollout starts)."""
    return fetch_version(mlflow_name, version).artifact_digest


def set_alias(mlflow_name: str, alias: str, version: int) -> None:
    """Point the MLflow alias (e.g. 'production') at `version`."""
    try:
        get_client().set_registered_model_alias(mlflow_name, alias, str(version))
    except Exception as exc:
        if _is_not_found(exc):
            raise MlflowNotFound(f"MLflow model '{mlflow_name}' has no version {version}.") from exc
        raise _unavailable(exc) from exc
