"""Logging real pyfunc models into an MLflow store (demo data and tests).

Slipway itself never writes model versions — this exists so that `make run` and the
tests have a real registry to import from: each call trains nothing heavy, but logs a
genuine pyfunc model (a small linear scorer) with real metrics, params and tags, and
registers it as the next version of the registered model.
"""

from __future__ import annotations

import threading

import numpy as np

try:
    import mlflow.pyfunc

    _Base = mlflow.pyfunc.PythonModel
except ImportError:  # pragma: no cover - mlflow-skinny is a hard dependency
    _Base = object

_lock = threading.Lock()  # mlflow's tracking URI is process-global


class LinearScorer(_Base):
    """score = sigmoid(x · w + b): small, real, and loadable by `mlflow.pyfunc.load_model`."""

    def __init__(self, weights: list[float], bias: float):
        self.weights = np.asarray(weights, dtype=float)
        self.bias = float(bias)

    def predict(self, context, model_input, params=None):
        x = np.asarray(model_input, dtype=float).reshape(-1, len(self.weights))
        return (1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))).tolist()


def fit_scorer(seed: int, n_features: int = 4, n_rows: int = 2000) -> tuple[LinearScorer, dict[str, float]]:
    """Fit a logistic scorer on synthetic data by gradient descent; return it and its metrics."""
    rng = np.random.default_rng(seed)
    true_w = rng.normal(size=n_features)
    x = rng.normal(size=(n_rows, n_features))
    y = (x @ true_w + rng.normal(scale=1.0, size=n_rows) > 0).astype(float)
    w = np.zeros(n_features)
    b = 0.0
    for _ in range(200):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        w -= 0.5 * (x.T @ (p - y)) / n_rows
        b -= 0.5 * float(np.mean(p - y))
    p = 1 / (1 + np.exp(-(x @ w + b)))
    order = np.argsort(p)
    ranks = np.empty(n_rows)
    ranks[order] = np.arange(1, n_rows + 1)
    positives = y.sum()
    auc = (ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * (n_rows - positives))
    accuracy = float(np.mean((p > 0.5) == y))
    logloss = float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
    return LinearScorer(w.tolist(), b), {"auc": round(float(auc), 4), "accuracy": round(accuracy, 4),
                                         "logloss": round(logloss, 4)}


def log_pyfunc_version(tracking_uri: str, artifact_root: str, name: str, *, metrics: dict, params: dict,
                       tags: dict, seed: int | None = None, experiment: str = "slipway-demo") -> int:
    """Log a pyfunc model in a new run and register it as the next version of `name`."""
    import mlflow
    from mlflow import MlflowClient

    with _lock:
        previous_uri, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        try:
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            found = client.get_experiment_by_name(experiment)
            experiment_id = (found.experiment_id if found is not None else
                             client.create_experiment(experiment, artifact_location=artifact_root))
            scorer, fitted = fit_scorer(seed if seed is not None else abs(hash((name, len(tags)))) % 10_000)
            with mlflow.start_run(experiment_id=experiment_id) as run:
                mlflow.log_metrics({**fitted, **metrics})
                if params:
                    mlflow.log_params(params)
                if tags:
                    mlflow.set_tags(tags)
                info = mlflow.pyfunc.log_model(name="model", python_model=scorer, registered_model_name=name)
            version = client.search_model_versions(f"name = '{name}' and run_id = '{run.info.run_id}'")
            return int(version[0].version) if version else int(info.registered_model_version)
        finally:
            # Both URIs are process-global: leave them as they were for the rest of the process.
            mlflow.set_tracking_uri(previous_uri)
            mlflow.set_registry_uri(previous_registry)
