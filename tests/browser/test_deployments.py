"""Deployments in a real browser, with the real engine driving real rollouts.

Each test runs the dev cluster in-process (real-time traffic, pods ready after half a second)
and a background thread that does what the beat and the workers do: every 0.5 s it reconciles
every due rollout with the real clock, the real cluster adapter and the dev cluster's metrics.
The environments get short smoke, soak and guard windows so a rollout takes seconds.

1. ada deploys a ready version to staging through the form and watches it go live.
2. ada requests production, linus approves it in the queue, the canary walks its steps.
3. the "misbehave" button makes the canary fail; the gates roll it back and the page says why.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from apps.deployments import services
from apps.deployments.models import Deployment, Rollout
from apps.readiness.choices import ItemStatus
from apps.registry import services as registry
from tests import factories
from tests.browser.conftest import VIEWPORT
from tests.engine_loop import running_engine

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MODEL = "dep-browser"
SLOW = 30_000  # ms: the longest a rollout phase may take to show up on the page


@pytest.fixture(scope="session")
def dep_versions(mlflow_store) -> list[int]:
    """Two real MLflow versions, logged once per session."""
    return [mlflow_store.log_version(MODEL, metrics={"auc": 0.9 + i / 100}, params=factories.REPRODUCIBLE_PARAMS,
                                     tags=factories.REPRODUCIBLE_TAGS) for i in range(2)]


@pytest.fixture
def versions(recsys, ada, mlflow, dep_versions):
    """ctr-feed v1 and v2 imported from MLflow through the service, their checklists all passed."""
    model = factories.model(recsys, "ctr-feed", mlflow_name=MODEL, description="Ranks the home feed.")
    out = []
    for number in dep_versions:
        version = registry.import_version(model, actor=ada, mlflow_version=number)
        version.checklist.update(status=ItemStatus.PASS, detail="passed for the browser test")
        out.append(version)
    return out


@pytest.fixture
def cluster(live_server, settings, monkeypatch):
    """The dev cluster, environments pointed at it with short windows, and the engine loop."""
    with running_engine(settings, monkeypatch, owner="browser-engine", interval=0.5) as dc:
        yield dc


def wait_for(deployment: Deployment, status: str, *, seconds: float = 30) -> Deployment:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        deployment.refresh_from_db()
        synced = Rollout.objects.filter(deployment=deployment, cluster_synced=True).exists()
        if deployment.status == status and (synced or status != "live"):
            return deployment
        time.sleep(0.25)
    events = "\n".join(f"{e.created_at:%H:%M:%S.%f} {e.message}" for e in deployment.events.all())
    raise AssertionError(f"#{deployment.pk} is {deployment.status}, not {status}, after {seconds} s: "
                         f"{deployment.status_reason}\n{events}")


def live_in(version, environment: str, ada, linus) -> Deployment:
    """v1 live in `environment` through the services and the engine (the stable side of a canary)."""
    deployment = services.request_deployment(
        version, environment=environment, actor=ada,
        config={"instance_type": "g5.xlarge", "min_replicas": 1, "max_replicas": 2, "soak_seconds": 2})
    if deployment.status == "pending_approval":
        services.approve(deployment, actor=linus, comment="stable side for the browser test")
    return wait_for(deployment, "live")


def new_tab(browser, live_server):
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(15_000)
    return context, context.new_page()


def test_ada_deploys_to_staging_and_watches_it_go_live(page, sign_in, shot, ada, versions, cluster):
    v1 = versions[0]
    sign_in(ada)
    page.goto(f"/versions/{v1.pk}/")
    page.get_by_role("link", name="Deploy", exact=True).click()
    page.wait_for_url(re.compile(rf"/versions/{v1.pk}/deploy/$"))
    expect(page.locator("#deploy-preview")).to_contain_text("Needs 1 GPU(s) at peak; the team uses 0 of 8, 8 free.")

    # The live preview follows the form (htmx): two replicas of a g5.xlarge at 50 % spot.
    page.fill("#id_min_replicas", "2")
    page.fill("#id_spot_percent", "50")
    page.locator("#id_spot_percent").dispatch_event("change")
    expect(page.locator("#deploy-preview")).to_contain_text("Needs 2 GPU(s) at peak")
    expect(page.locator("#deploy-preview .price")).to_contain_text("$1.41")  # 2 × (1.006 + 0.4024) / 2
    # A bad value shows its error next to the field before submitting, with the numbers.
    page.fill("#id_max_replicas", "1")
    page.locator("#id_max_replicas").dispatch_event("change")
    expect(page.locator("#fe-max_replicas")).to_contain_text("min_replicas (2) must be ≤ max_replicas (1).")
    shot(page, "dep-01-deploy-form-error", full_page=True)
    page.fill("#id_max_replicas", "3")
    page.locator("#id_max_replicas").dispatch_event("change")
    expect(page.locator("#fe-max_replicas")).to_be_empty()
    shot(page, "dep-02-deploy-form", full_page=True)

    page.get_by_role("button", name="Deploy to Staging").click()
    page.wait_for_url(re.compile(r"/deployments/\d+/$"))
    deployment = Deployment.objects.get(version=v1)
    expect(page.locator(".messages")).to_contain_text("Deploying ctr-feed v1 to Staging")
    expect(page.locator("#rollout-status")).to_contain_text("first deployment: smoke test at 100 %")

    # The page updates itself until the rollout is live, then stops polling (286).
    page.evaluate("window.__marker = 'same page'")
    expect(page.locator("#status-badge")).to_contain_text("Progressing", timeout=SLOW)
    shot(page, "dep-03-rollout-progressing")
    expect(page.locator("#status-badge")).to_contain_text("Live", timeout=SLOW)
    expect(page.locator("#rollout-status")).to_contain_text("serves 100 % of staging traffic")
    expect(page.locator("#rollout-live")).not_to_have_attribute("hx-trigger", "every 2s")
    expect(page.locator(".analyses")).to_contain_text("smoke")
    expect(page.locator("svg.chart")).to_be_visible()
    assert page.evaluate("window.__marker") == "same page"  # no reload: htmx did it
    shot(page, "dep-04-rollout-live", full_page=True)
    deployment.refresh_from_db()
    assert deployment.status == "live" and deployment.config["min_replicas"] == 2

    # The model page says which version is live where, and since when.
    page.goto(f"/models/{v1.model.pk}/")
    expect(page.locator("#live-where")).to_contain_text("v1")
    expect(page.locator("#live-where")).to_contain_text(f"since {deployment.live_since:%Y-%m-%d}")
    shot(page, "dep-05-model-live-where")
    page.goto("/deployments/")
    expect(page.locator("#deployment-results")).to_contain_text("Live")
    shot(page, "dep-06-deployment-list")


def test_linus_approves_production_and_the_canary_walks_its_steps(browser, live_server, page, sign_in, shot, ada,
                                                                  linus, versions, cluster):
    v1, v2 = versions
    live_in(v1, "production", ada, linus)

    # ada requests production for v2 through the form.
    sign_in(ada)
    page.goto(f"/versions/{v2.pk}/deploy/?environment=production")
    expect(page.locator("#deploy-preview")).to_contain_text("Production needs approval.")
    expect(page.locator("#deploy-preview")).to_contain_text("Canary against v1")
    page.fill("#id_steps", "50, 100")
    page.fill("#id_soak_seconds", "2")
    page.locator("#id_soak_seconds").dispatch_event("change")
    expect(page.locator("#deploy-preview")).to_contain_text("50 → 100 % of traffic, 2 s soak per step")
    shot(page, "dep-07-deploy-production", full_page=True)
    page.get_by_role("button", name="Request approval for Production").click()
    page.wait_for_url(re.compile(r"/deployments/\d+/$"))
    deployment = Deployment.objects.get(version=v2)
    expect(page.locator("#rollout-status")).to_contain_text("Waiting for approval.")
    expect(page.locator("#rollout-controls")).to_contain_text("Waiting for a platform engineer")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # linus approves it in the queue, in his own browser session.
    context, tab = new_tab(browser, live_server)
    try:
        sign_in(linus, tab=tab)
        expect(tab.locator("#dashboard-rollouts")).to_contain_text("ctr-feed v2 → production")
        shot(tab, "dep-08a-dashboard-approvals-waiting")
        tab.goto("/approvals/")
        request = tab.locator(f"#request-{deployment.pk}")
        expect(request).to_contain_text("ctr-feed v2 → Production")
        expect(request).to_contain_text("canary 50/100 · soak 2 s")
        shot(tab, "dep-08-approval-queue")
        request.locator("summary", has_text="Approve").click()
        request.locator(f"#id_{deployment.pk}_approve_comment").fill("Canary plan looks right.")
        shot(tab, "dep-09-approval-confirm")
        request.get_by_role("button", name="Yes, approve").click()
        expect(tab.locator(".messages")).to_contain_text(f"Deployment #{deployment.pk} approved.")
        expect(tab.locator("#pending")).to_contain_text("Nothing is waiting.")
    finally:
        context.close()

    # ada's page follows: the canary takes 50 %, then 100 %, then goes live.
    expect(page.locator("#status-badge")).to_contain_text("Progressing", timeout=SLOW)
    expect(page.locator("#rollout-status")).to_contain_text("stable v1 · 50 %", timeout=SLOW)
    expect(page.locator("#rollout-status")).to_contain_text("canary v2 · 50 %")
    shot(page, "dep-10-rollout-step", full_page=True)
    expect(page.locator("#status-badge")).to_contain_text("Live", timeout=SLOW)
    events = page.locator("#rollout-events")
    expect(events).to_contain_text("Step 1/2: 50 % to ctr-feed-v2, 50 % to ctr-feed-v1.")
    expect(events).to_contain_text("Step 2/2: 100 % to ctr-feed-v2")
    expect(events).to_contain_text("Approved by linus: Canary plan looks right.")
    expect(page.locator(".analyses")).to_contain_text("Advance")
    shot(page, "dep-11-rollout-live-production", full_page=True)
    deployment.refresh_from_db()
    assert deployment.status == "live" and deployment.previous.version == v1
    assert deployment.previous.status == "superseded"


def test_a_misbehaving_canary_rolls_back_and_the_page_says_why(page, sign_in, shot, ada, linus, versions, cluster):
    v1, v2 = versions
    live_in(v1, "staging", ada, linus)
    canary = services.request_deployment(
        v2, environment="staging", actor=ada,
        config={"instance_type": "g5.xlarge", "min_replicas": 1, "max_replicas": 2, "steps": [50, 100],
                "soak_seconds": 120})
    sign_in(ada)
    page.goto(f"/deployments/{canary.pk}/")
    expect(page.locator("#rollout-status")).to_contain_text("canary v2 · 50 %", timeout=SLOW)
    page.evaluate("window.__marker = 'same page'")
    shot(page, "dep-12-rollout-before-misbehave", full_page=True)
    # Meanwhile, in another tab: the dashboard's live rollouts and the no-JS confirmation page.
    other = page.context.new_page()
    other.goto("/")
    expect(other.locator("#dashboard-rollouts")).to_contain_text("ctr-feed v2 → staging")
    shot(other, "dep-12a-dashboard-live-rollout")
    other.goto(f"/deployments/{canary.pk}/abort/")
    expect(other.locator(".confirm-card")).to_contain_text("Abort ctr-feed v2 in staging?")
    shot(other, "dep-12b-abort-confirm-page")
    other.close()

    page.get_by_role("button", name="Error rate 20 %").click()
    expect(page.locator(".messages")).to_contain_text("ctr-feed-v2 now behaves: error rate 20 %")
    expect(page.locator("#status-badge")).to_contain_text("Rolled back", timeout=SLOW)
    status = page.locator("#rollout-status")
    expect(status).to_contain_text(re.compile(r"gate error_rate — canary error rate \d+\.\d\d % > 5\.00 % over \d+ "
                                              r"requests"))
    expect(page.locator(".analyses")).to_contain_text("Roll back")
    expect(page.locator("svg.chart .marker-rollback")).not_to_have_count(0)
    expect(page.locator("#rollout-events")).to_contain_text("made ctr-feed-v2 misbehave in the dev cluster")
    expect(page.locator("#rollout-events")).to_contain_text("Rolled back: 100 % to ctr-feed-v1", timeout=SLOW)
    expect(page.locator("#local-mode")).to_be_empty()  # nothing left to misbehave
    expect(page.locator("#rollout-controls form")).to_have_count(0)
    shot(page, "dep-13-rollout-rolled-back", full_page=True)
    canary.refresh_from_db()
    assert canary.status == "rolled_back" and "gate error_rate" in canary.status_reason
    assert services.live_version(v1.model, "staging") == v1
