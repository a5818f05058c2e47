"""The demo's drifting model, and the drift pages: overview, model page, buttons, isolation, query counts."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.drift.demo import seed_drift
from apps.drift.models import Baseline, DriftPolicy, DriftReport
from tests import factories
from tests.drift.conftest import sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_model(recsys, ada):
    model = factories.model(recsys, "ctr-ranker")
    factories.version(model, 1)
    version = factories.version(model, 2)
    assert seed_drift(log=lambda *_: None) > 0
    return model, version


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_demo_drifts_from_real_observations_and_is_idempotent(demo_model):
    model, version = demo_model
    reports = list(DriftReport.objects.filter(version=version).order_by("created_at"))
    assert len(reports) >= 10
    assert reports[0].severity == "none"                 # calm at first …
    assert reports[-1].severity == "high"                # … then drifting
    assert reports[-1].top_feature in reports[-1].psi or reports[-1].top_feature == "prediction"
    assert Baseline.objects.get(version=version).source == "demo"
    assert seed_drift(log=lambda *_: None) == 0           # a re-run adds nothing
    assert DriftReport.objects.filter(version=version).count() == len(reports)


def test_overview_lists_drifting_models_first(demo_model, ada, recsys):
    from apps.drift import services

    calm = factories.model(recsys, "calm-model")
    calm_version = factories.version(calm, 1)
    data = sample(1000, seed=31)
    services.upload_baseline(calm_version, actor=ada, features=data["features"])
    services.record_observations(calm_version, actor=ada, features=sample(1000, seed=32)["features"])
    services.compute_report(calm_version, actor=ada, trigger="manual")
    html = client_for(ada).get("/drift/").content.decode()
    assert html.index("ctr-ranker") < html.index("calm-model")
    assert "Needs acknowledgement" in html


def test_model_page_shows_heatmap_histograms_timeline_and_actions(demo_model, ada):
    model, version = demo_model
    response = client_for(ada).get(f"/drift/models/{model.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="chart heatmap"' in html and "PSI per feature over time" in html
    assert 'class="chart histogram"' in html and "Top drifting features" in html
    assert 'class="chart timeline"' in html
    assert "Team notified" in html and "Acknowledge drift" in html
    latest = DriftReport.objects.filter(version=version).order_by("-created_at").first()
    assert latest.top_feature in html


def test_compute_and_acknowledge_buttons(demo_model, ada):
    model, version = demo_model
    client = client_for(ada)
    response = client.post(f"/drift/models/{model.pk}/compute/", {"version": version.pk})
    assert response.status_code == 302
    latest = DriftReport.objects.filter(version=version).order_by("-created_at", "-id").first()
    assert latest.trigger == "manual" and latest.requested_by == ada
    response = client.post(f"/drift/reports/{latest.pk}/acknowledge/", {"note": "known: app release"})
    assert response.status_code == 302
    latest.refresh_from_db()
    assert latest.acknowledged_by == ada and latest.acknowledge_note == "known: app release"
    page = client.get(response["Location"]).content.decode()
    assert "Acknowledge drift" not in page and "acknowledged" in page.lower()


def test_policy_form_saves_and_refuses_bad_thresholds(ada, recsys):
    model = factories.model(recsys, "ranker")
    client = client_for(ada)
    good = {"action": "rollback", "low_threshold": 0.05, "medium_threshold": 0.1, "high_threshold": 0.2,
            "window_hours": 2, "min_rows": 50}
    assert client.post(f"/drift/models/{model.pk}/policy/", good).status_code == 302
    assert DriftPolicy.objects.get(model=model).action == "rollback"
    bad = {**good, "low_threshold": 0.5}
    response = client.post(f"/drift/models/{model.pk}/policy/", bad)
    assert response.status_code == 422 and "Thresholds must rise" in response.content.decode()
    assert DriftPolicy.objects.get(model=model).low_threshold == 0.05


def test_viewer_sees_no_buttons_and_cannot_post(demo_model, vera):
    model, version = demo_model
    client = client_for(vera)
    html = client.get(f"/drift/models/{model.pk}/").content.decode()
    assert "Compute now" not in html and "Acknowledge drift" not in html and "Save policy" not in html
    assert client.post(f"/drift/models/{model.pk}/compute/", {"version": version.pk}).status_code == 403
    report = DriftReport.objects.filter(version=version).first()
    assert client.post(f"/drift/reports/{report.pk}/acknowledge/", {}).status_code == 403


def test_another_team_sees_nothing(demo_model, grace):
    model, version = demo_model
    client = client_for(grace)
    assert client.get(f"/drift/models/{model.pk}/").status_code == 404
    assert client.get(f"/drift/models/{model.pk}/?version={version.pk}").status_code == 404
    overview = client.get("/drift/").content.decode()
    assert "ctr-ranker" not in overview
    dashboard = client.get("/").content.decode()
    assert "ctr-ranker" not in dashboard
    report = DriftReport.objects.filter(version=version).first()
    assert client.post(f"/drift/reports/{report.pk}/acknowledge/", {}).status_code == 404


def test_dashboard_and_model_page_show_the_drift(demo_model, ada):
    model, _ = demo_model
    client = client_for(ada)
    assert "Drift alerts" in client.get("/").content.decode()
    assert 'id="drift-panel"' in client.get(f"/models/{model.pk}/").content.decode()


def test_page_queries_do_not_grow_with_reports(demo_model, ada, django_assert_max_num_queries):
    from apps.drift import services

    model, version = demo_model
    client = client_for(ada)
    client.get(f"/drift/models/{model.pk}/")
    with django_assert_max_num_queries(40) as first:
        client.get(f"/drift/models/{model.pk}/")
    with django_assert_max_num_queries(40) as first_overview:
        client.get("/drift/")
    for _ in range(5):
        services.compute_report(version, actor=ada, trigger="manual")
    with django_assert_max_num_queries(len(first.captured_queries)):
        client.get(f"/drift/models/{model.pk}/")
    with django_assert_max_num_queries(len(first_overview.captured_queries)):
        client.get("/drift/")
