"""Drift REST API: baselines, observations, reports, acknowledgement, policy; bad input stores nothing."""

from __future__ import annotations

import json

import pytest

from apps.core.models import AuditEvent
from apps.drift.models import Baseline, DriftReport, ObservationWindow
from tests.api.conftest import assert_problem
from tests.drift.conftest import sample

pytestmark = pytest.mark.django_db

BASELINES, OBSERVATIONS, REPORTS = "/api/v1/drift/baselines/", "/api/v1/drift/observations/", "/api/v1/drift/reports/"


class Stored:
    """Everything a refused drift post must leave unchanged."""

    def __init__(self):
        self.before = self.snapshot()

    @staticmethod
    def snapshot():
        windows = list(ObservationWindow.objects.values_list("pk", "rows", "batches"))
        drift_events = AuditEvent.objects.filter(action__startswith="drift.").count()
        return (Baseline.objects.count(), windows, DriftReport.objects.count(), drift_events)

    def unchanged(self) -> bool:
        return self.snapshot() == self.before


def test_upload_baseline_learns_buckets(as_user, ada, v2):
    body = {"version": v2.pk, **sample(1000)}
    response = as_user(ada).post(BASELINES, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["version"] == v2.pk and data["rows"] == 1000 and data["revision"] == 1
    age = data["features"]["age"]
    assert age["kind"] == "numeric" and len(age["edges"]) == 9 and age["buckets"] == 11
    assert sum(age["counts"]) == 1000
    country = data["features"]["country"]
    assert country["kind"] == "categorical" and sorted(country["categories"]) == ["de", "fr", "uk", "us"]
    assert country["buckets"] == 6  # four countries, other, missing
    assert data["prediction"]["kind"] == "numeric"
    assert AuditEvent.objects.filter(action="drift.baseline_uploaded").count() == 1


def test_observations_are_stored_as_hourly_bucket_counts(as_user, ada, v2, baseline):
    client = as_user(ada)
    for seed in (1, 2, 3):
        response = client.post(OBSERVATIONS, {"version": v2.pk, **sample(500, seed=seed)})
        assert response.status_code == 201, response.content
    assert response.json()["rows_in_window"] == 1500 and response.json()["batches_in_window"] == 3
    window = ObservationWindow.objects.get(version=v2)  # one row for the hour, whatever the traffic
    assert sum(window.counts["age"]) == 1500
    assert len(window.counts["age"]) == len(baseline.features["age"]["counts"])
    assert sum(window.prediction_counts) == 1500


def test_report_on_demand_and_listed_by_version(as_user, ada, v2, baseline):
    client = as_user(ada)
    client.post(OBSERVATIONS, {"version": v2.pk, **sample(1000, shift=1.5, seed=4)})
    response = client.post(REPORTS, {"version": v2.pk})
    assert response.status_code == 201, response.content
    report = response.json()
    assert report["severity"] == "high" and report["psi"]["age"] > 0.25
    assert report["top_feature"] in ("age", "income", "prediction")
    assert report["psi"]["country"] < 0.1                     # countries did not move
    listed = client.get(REPORTS, {"version": v2.pk}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == report["id"]
    assert client.get(REPORTS, {"version": v2.pk + 999}).json()["count"] == 0
    assert client.get(f"{REPORTS}{report['id']}/").json()["severity"] == "high"


def test_report_without_observations_is_a_conflict(as_user, ada, v2, baseline):
    assert_problem(as_user(ada).post(REPORTS, {"version": v2.pk}), 409, field="version", code="no_observations")


def test_observations_before_a_baseline_are_refused(as_user, ada, v1):
    stored = Stored()
    assert_problem(as_user(ada).post(OBSERVATIONS, {"version": v1.pk, **sample(10)}), 409, code="no_baseline")
    assert stored.unchanged()


def test_unknown_feature_is_refused_and_nothing_stored(as_user, ada, v2, baseline):
    stored = Stored()
    body = {"version": v2.pk, "features": {"age": [30, 40], "shoe_size": [42, 43]}}
    body_problem = assert_problem(as_user(ada).post(OBSERVATIONS, body), 400, field="features.shoe_size",
                                  code="unknown_feature")
    assert "shoe_size" in body_problem["detail"]
    assert stored.unchanged()


def test_strings_in_a_numeric_feature_are_refused(as_user, ada, v2, baseline):
    stored = Stored()
    body = {"version": v2.pk, "features": {"age": [30, "forty", 50], "country": ["de", "fr", "us"]}}
    problem = assert_problem(as_user(ada).post(OBSERVATIONS, body), 400, field="features.age", code="not_numeric")
    assert "features.age[1]" in problem["detail"]
    assert stored.unchanged()


@pytest.mark.parametrize("values", [[True, False], [{"x": 1}, 2], [[1], [2]]])
def test_other_non_numbers_in_a_numeric_feature_are_refused(as_user, ada, v2, baseline, values):
    stored = Stored()
    assert_problem(as_user(ada).post(OBSERVATIONS, {"version": v2.pk, "features": {"age": values}}), 400,
                   field="features.age")
    assert stored.unchanged()


def test_numbers_in_a_categorical_feature_are_refused(as_user, ada, v2, baseline):
    stored = Stored()
    assert_problem(as_user(ada).post(OBSERVATIONS, {"version": v2.pk, "features": {"country": ["de", 7]}}), 400,
                   field="features.country", code="not_categorical")
    assert stored.unchanged()


def test_ten_million_values_in_one_post_are_refused_with_413(as_user, ada, v2, baseline):
    stored = Stored()
    values = ",".join(["1"] * 10_000_000)
    raw = f'{{"version": {v2.pk}, "features": {{"age": [{values}]}}}}'
    problem = assert_problem(as_user(ada).post(OBSERVATIONS, raw=raw), 413, field="features", code="too_large")
    assert "MiB" in problem["detail"]
    assert stored.unchanged()


def test_too_many_values_in_one_field_name_the_field(as_user, ada, v2, baseline, settings):
    settings.SLIPWAY_DRIFT_MAX_VALUES_PER_FIELD = 1000
    stored = Stored()
    body = {"version": v2.pk, "features": {"age": [30.0] * 1001}}
    assert_problem(as_user(ada).post(OBSERVATIONS, body), 413, field="features.age", code="too_large")
    body = {"version": v2.pk, "features": {"age": [30.0]}, "predictions": [0.5] * 1001}
    assert_problem(as_user(ada).post(OBSERVATIONS, body), 413, field="predictions", code="too_large")
    assert stored.unchanged()


def test_another_teams_version_is_404_and_nothing_stored(as_user, grace, v2, baseline):
    stored = Stored()
    client = as_user(grace)
    assert_problem(client.post(OBSERVATIONS, {"version": v2.pk, **sample(10)}), 404, field="version")
    assert_problem(client.post(BASELINES, {"version": v2.pk, **sample(10)}), 404, field="version")
    assert_problem(client.post(REPORTS, {"version": v2.pk}), 404, field="version")
    assert stored.unchanged()


def test_a_missing_version_is_404_like_another_teams(as_user, ada, db):
    assert_problem(as_user(ada).post(OBSERVATIONS, {"version": 999_999, **sample(5)}), 404, field="version")


@pytest.mark.parametrize("body", [
    {"features": {"age": [1]}},                                   # no version
    {"version": True, "features": {"age": [1]}},                  # a boolean is no id
    {"version": "abc", "features": {"age": [1]}},
    {"version": "V", "features": [1, 2, 3]},                      # features must be an object
    {"version": "V", "features": {"age": 5}},                     # values must be a list
    {"version": "V", "features": {"age": [1]}, "predictions": "x"},
    {"version": "V", "features": {"age": [1]}, "extra": 1},       # unknown key
])
def test_malformed_bodies_are_400(as_user, ada, v2, baseline, body):
    if body.get("version") == "V":
        body = {**body, "version": v2.pk}
    stored = Stored()
    assert_problem(as_user(ada).post(OBSERVATIONS, body), 400)
    assert stored.unchanged()


def test_baseline_with_mixed_types_or_no_values_is_refused(as_user, ada, v2):
    client = as_user(ada)
    assert_problem(client.post(BASELINES, {"version": v2.pk, "features": {"a": [1, "x"]}}), 400, field="features.a")
    assert_problem(client.post(BASELINES, {"version": v2.pk, "features": {"a": [None, None]}}), 400,
                   field="features.a", code="empty")
    assert_problem(client.post(BASELINES, {"version": v2.pk, "features": {}}), 400, field="features")
    assert not Baseline.objects.exists()


def test_viewer_cannot_post(as_user, vera, v2, baseline):
    stored = Stored()
    client = as_user(vera)
    assert_problem(client.post(OBSERVATIONS, {"version": v2.pk, **sample(10)}), 403)
    assert_problem(client.post(BASELINES, {"version": v2.pk, **sample(10)}), 403)
    assert stored.unchanged()
    assert client.get(REPORTS).status_code == 200


def test_reports_and_baselines_are_invisible_to_another_team(as_user, ada, grace, v2, baseline):
    as_user(ada).post(OBSERVATIONS, {"version": v2.pk, **sample(500, shift=1)})
    report = as_user(ada).post(REPORTS, {"version": v2.pk}).json()
    client = as_user(grace)
    assert client.get(REPORTS).json()["count"] == 0
    assert client.get(REPORTS, {"version": v2.pk}).json()["count"] == 0
    assert client.get(BASELINES).json()["count"] == 0
    assert_problem(client.get(f"{REPORTS}{report['id']}/"), 404)
    assert_problem(client.post(f"{REPORTS}{report['id']}/acknowledge/", {}), 404)
    assert_problem(client.get(f"/api/v1/drift/policies/{v2.model_id}/"), 404)
    assert_problem(client.patch(f"/api/v1/drift/policies/{v2.model_id}/", {"action": "rollback"}), 404)
    assert "ranker" not in json.dumps(client.get(REPORTS).json())


def test_acknowledge_through_the_api(as_user, ada, v2, baseline):
    client = as_user(ada)
    client.post(OBSERVATIONS, {"version": v2.pk, **sample(800, shift=1.5)})
    report = client.post(REPORTS, {"version": v2.pk}).json()
    response = client.post(f"{REPORTS}{report['id']}/acknowledge/", {"note": "new market launched"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["acknowledged_by"] == "ada"
    assert [a["kind"] for a in body["actions"]][-1] == "acknowledged"
    assert_problem(client.post(f"{REPORTS}{report['id']}/acknowledge/", {}), 409)


def test_policy_read_and_update(as_user, ada, vera, ranker):
    url = f"/api/v1/drift/policies/{ranker.pk}/"
    client = as_user(ada)
    assert client.get(url).json() == {"model": ranker.pk, "action": "notify", "low_threshold": 0.1,
                                      "medium_threshold": 0.2, "high_threshold": 0.25, "window_hours": 1,
                                      "min_rows": 100}
    response = client.patch(url, {"action": "rollback", "high_threshold": 0.3})
    assert response.status_code == 200 and response.json()["action"] == "rollback"
    assert_problem(client.patch(url, {"low_threshold": 0.5}), 400, code="invalid_thresholds")
    assert_problem(client.patch(url, {"action": "explode"}), 400, field="action")
    assert_problem(as_user(vera).patch(url, {"action": "notify"}), 403)
    assert client.get(url).json()["high_threshold"] == 0.3


def test_report_list_queries_do_not_grow(as_user, ada, v2, baseline, django_assert_max_num_queries):
    from apps.drift.services import compute_report

    client = as_user(ada)
    client.post(OBSERVATIONS, {"version": v2.pk, **sample(500, shift=1)})
    for _ in range(3):
        compute_report(v2, actor=ada, trigger="manual")
    with django_assert_max_num_queries(12) as few:
        client.get(REPORTS)
    for _ in range(20):
        compute_report(v2, actor=ada, trigger="manual")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(REPORTS).json()["count"] == 23
