"""Playwright against live_server, driving Debian's Chromium (never a downloaded browser).

One Chromium per test session; one fresh browser context (cookies, storage) per test, at the
1366×768 laptop size the pages are designed for. Screenshots go to /tmp/slipway-shots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import factories

SHOTS = Path("/tmp/slipway-shots")
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.js_errors = errors
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def sign_in(page):
    def _sign_in(user, *, tab=None):
        tab = tab or page
        tab.goto("/login/")
        tab.fill("#id_username", user.username)
        tab.fill("#id_password", factories.PASSWORD)
        tab.click("button[type=submit]")
        tab.wait_for_url(lambda url: "/login/" not in url)
        return tab
    return _sign_in


@pytest.fixture
def shot():
    SHOTS.mkdir(parents=True, exist_ok=True)

    def _shot(tab, name: str, *, full_page: bool = False) -> Path:
        path = SHOTS / f"{name}.png"
        tab.screenshot(path=str(path), full_page=full_page)
        return path
    return _shot


@pytest.fixture(scope="session")
def browser_versions(mlflow_store) -> dict[str, int]:
    """Real MLflow versions of `churn-predictor`, logged once per session."""
    good = mlflow_store.log_version("churn-predictor", metrics={"auc": 0.91, "logloss": 0.31},
                                    params=factories.REPRODUCIBLE_PARAMS, tags=factories.REPRODUCIBLE_TAGS)
    bare = mlflow_store.log_version("churn-predictor", metrics={"auc": 0.64})
    return {"good": good, "bare": bare}
