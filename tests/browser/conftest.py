"""Browser-test data. The Playwright fixtures (browser, page, sign_in, shot) live in
tests/conftest.py so that every folder shares the one Chromium of the session — a second
sync Playwright in the same process is refused."""

from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import SHOTS, VIEWPORT  # noqa: F401  (re-exported for the tests)


@pytest.fixture(scope="session")
def browser_versions(mlflow_store) -> dict[str, int]:
    """Real MLflow versions of `churn-predictor`, logged once per session."""
    good = mlflow_store.log_version("churn-predictor", metrics={"auc": 0.91, "logloss": 0.31},
                                    params=factories.REPRODUCIBLE_PARAMS, tags=factories.REPRODUCIBLE_TAGS)
    bare = mlflow_store.log_version("churn-predictor", metrics={"auc": 0.64})
    return {"good": good, "bare": bare}
