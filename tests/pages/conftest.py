"""Fixtures for the page tests: a model of recsys with a version imported from a real MLflow store."""

from __future__ import annotations

import pytest

from apps.registry import services as registry
from tests import factories

MODEL_NAME = "pages-churn"


@pytest.fixture(scope="session")
def churn_versions(mlflow_store) -> list[int]:
    """Two real MLflow versions of `pages-churn`, logged once per session: v_a reproducible, v_b not."""
    good = mlflow_store.log_version(MODEL_NAME, metrics={"auc": 0.91, "logloss": 0.31},
                                    params=factories.REPRODUCIBLE_PARAMS, tags=factories.REPRODUCIBLE_TAGS)
    bare = mlflow_store.log_version(MODEL_NAME, metrics={"auc": 0.88})
    return [good, bare]


@pytest.fixture
def churn(recsys, ada):
    return factories.model(recsys, MODEL_NAME, description="Predicts which subscribers churn next month.")


@pytest.fixture
def churn_v(churn, ada, mlflow, churn_versions):
    """The reproducible version, imported through the service (its checklist evaluated)."""
    return registry.import_version(churn, actor=ada, mlflow_version=churn_versions[0])


@pytest.fixture
def logged_in(client):
    def login(user):
        client.force_login(user)
        return client
    return login
