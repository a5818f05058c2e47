"""Models pages: list (search, team filter, query counts), create, edit, delete, detail, import, sync."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.registry.models import Model, ModelVersion
from tests import factories

pytestmark = pytest.mark.django_db


def test_models_list_shows_my_teams_models_only(logged_in, ada, recsys, search):
    factories.model(recsys, "churn")
    factories.model(search, "query-ranker")
    response = logged_in(ada).get("/models/")
    assert response.status_code == 200
    assert b"churn" in response.content
    assert b"query-ranker" not in response.content


def test_models_list_search_and_team_filter(logged_in, linus, recsys, search):
    factories.model(recsys, "churn", description="subscriber churn")
    factories.model(recsys, "basket")
    factories.model(search, "query-ranker")
    client = logged_in(linus)
    body = client.get("/models/", {"q": "churn"}).content.decode()
    assert "churn" in body and "basket" not in body and "query-ranker" not in body
    body = client.get("/models/", {"tenant": "search"}).content.decode()
    assert "query-ranker" in body and "churn" not in body


def test_models_list_htmx_request_gets_only_the_results_fragment(logged_in, ada, recsys):
    factories.model(recsys, "churn")
    response = logged_in(ada).get("/models/", {"q": "chu"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="model-results"')
    assert "<html" not in body and "churn" in body


def test_models_list_search_too_long_is_a_field_error_not_a_500(logged_in, ada):
    response = logged_in(ada).get("/models/", {"q": "x" * 500})
    assert response.status_code == 200
    assert "Search: Ensure this value has at most 100 characters" in response.content.decode()


def test_team_switcher_filters_the_list_and_ignores_foreign_teams(logged_in, ada, recsys, search):
    factories.model(recsys, "churn")
    other = factories.tenant("ads")
    client = logged_in(ada)
    response = client.post("/team/", {"team": "recsys", "next": "/models/?tenant=&page=2"})
    assert response.status_code == 302 and response["Location"] == "/models/"
    assert client.session["team"] == "recsys"
    assert client.post("/team/", {"team": "search", "next": "/models/"}).status_code == 404
    assert client.post("/team/", {"team": other.slug}).status_code == 404
    assert client.session["team"] == "recsys"
    response = client.post("/team/", {"team": "", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert "team" not in client.session


def test_models_list_query_count_is_constant(logged_in, ada, recsys, django_assert_max_num_queries):
    client = logged_in(ada)
    for i in range(2):
        factories.model(recsys, f"m-{i}")
    client.get("/models/")  # warm the session
    with django_assert_max_num_queries(8) as small:
        client.get("/models/")
    for i in range(2, 22):
        factories.model(recsys, f"m-{i}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/models/").status_code == 200


def test_create_model_happy_path(logged_in, ada, recsys):
    response = logged_in(ada).post("/models/new/", {
        "team": recsys.pk, "name": "churn", "mlflow_name": "", "description": "d", "owner": "ada",
        "oncall": "#oncall", "sla_p99_ms": 150, "primary_metric": "auc", "primary_metric_floor": "0.7",
        "higher_is_better": "on"})
    model = Model.objects.get(name="churn")
    assert response.status_code == 302 and response["Location"] == f"/models/{model.pk}/"
    assert model.mlflow_name == "churn" and model.sla_p99_ms == 150 and model.created_by == ada
    assert AuditEvent.objects.filter(action="model.created", object_id=str(model.pk), source="ui").exists()


@pytest.mark.parametrize("data, field_error", [
    ({"name": ""}, "Name: Give the model a name."),
    ({"name": "Bad Name!"}, "Name: Use 1-63 lowercase letters"),
    ({"name": "x" * 64}, "Name: Ensure this value has at most 63 characters"),
    ({"name": "ok", "description": "d" * 5001}, "Description: Ensure this value has at most 5000 characters"),
    ({"name": "ok", "owner": "a\x00b"}, "Owner: Null characters are not allowed."),
    ({"name": "ok", "sla_p99_ms": "0"}, "Latency SLA (p99 ms): Ensure this value is greater than or equal to 1."),
    ({"name": "ok", "sla_p99_ms": "abc"}, "Latency SLA (p99 ms): Enter a whole number."),
])
def test_create_model_bad_input_shows_field_errors_and_writes_nothing(logged_in, ada, recsys, data, field_error):
    payload = {"team": recsys.pk, "sla_p99_ms": 200, **data}
    response = logged_in(ada).post("/models/new/", payload)
    assert response.status_code == 422
    assert field_error in response.content.decode()
    assert not Model.objects.exists()


def test_create_model_duplicate_name_in_team_is_a_field_error(logged_in, ada, recsys):
    factories.model(recsys, "churn")
    response = logged_in(ada).post("/models/new/", {"team": recsys.pk, "name": "churn", "sla_p99_ms": 200})
    assert response.status_code == 422
    assert "Name: This team already has a model named &#x27;churn&#x27;." in response.content.decode()
    assert Model.objects.count() == 1


def test_create_model_in_a_team_i_am_not_in_is_refused(logged_in, ada, search):
    response = logged_in(ada).post("/models/new/", {"team": search.pk, "name": "sneaky", "sla_p99_ms": 200})
    assert response.status_code == 422
    assert "Team: Select a valid choice" in response.content.decode()
    assert not Model.objects.exists()


def test_viewer_cannot_create_models(logged_in, vera, recsys):
    client = logged_in(vera)
    assert client.get("/models/new/").status_code == 403
    response = client.post("/models/new/", {"team": recsys.pk, "name": "x", "sla_p99_ms": 200})
    assert response.status_code == 403
    assert not Model.objects.exists()


def test_edit_model_happy_path_and_errors(logged_in, ada, recsys):
    model = factories.model(recsys, "churn")
    factories.model(recsys, "basket")
    client = logged_in(ada)
    assert client.get(f"/models/{model.pk}/edit/").status_code == 200
    base = {"name": "churn", "mlflow_name": "churn", "sla_p99_ms": 300, "owner": "grace"}
    response = client.post(f"/models/{model.pk}/edit/", base)
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.sla_p99_ms == 300 and model.owner == "grace"
    response = client.post(f"/models/{model.pk}/edit/", {**base, "name": "basket"})
    assert response.status_code == 422
    assert "This team already has a model named" in response.content.decode()
    response = client.post(f"/models/{model.pk}/edit/", {**base, "mlflow_name": ""})
    assert response.status_code == 422
    assert "MLflow registered model: This field cannot be blank." in response.content.decode()
    model.refresh_from_db()
    assert model.name == "churn" and model.mlflow_name == "churn"


def test_other_team_gets_404_on_every_model_page(logged_in, grace, recsys):
    model = factories.model(recsys, "churn")
    client = logged_in(grace)
    for url in (f"/models/{model.pk}/", f"/models/{model.pk}/edit/", f"/models/{model.pk}/delete/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "can’t find that page" in response.content.decode()
        assert "churn" not in response.content.decode()
    for url in (f"/models/{model.pk}/edit/", f"/models/{model.pk}/delete/", f"/models/{model.pk}/import/",
                f"/models/{model.pk}/sync/"):
        assert client.post(url, {"name": "x", "mlflow_version": 1}).status_code == 404, url
    assert Model.objects.filter(pk=model.pk, name="churn").exists()


def test_viewer_sees_no_write_controls_and_gets_403_on_writes(logged_in, vera, recsys):
    model = factories.model(recsys, "churn")
    client = logged_in(vera)
    body = client.get(f"/models/{model.pk}/").content.decode()
    for control in ("Import version", "Sync from MLflow", f"/models/{model.pk}/edit/", f"/models/{model.pk}/delete/"):
        assert control not in body
    assert "New model" not in client.get("/models/").content.decode()
    assert "New model" not in client.get("/").content.decode()
    assert client.get(f"/models/{model.pk}/edit/").status_code == 403
    assert client.post(f"/models/{model.pk}/edit/", {"name": "x", "mlflow_name": "x", "sla_p99_ms": 1}).status_code == 403
    assert client.get(f"/models/{model.pk}/delete/").status_code == 403
    assert client.post(f"/models/{model.pk}/delete/").status_code == 403
    assert client.post(f"/models/{model.pk}/import/", {"mlflow_version": 1}).status_code == 403
    assert client.post(f"/models/{model.pk}/sync/").status_code == 403
    assert Model.objects.filter(pk=model.pk, name="churn").exists()


def test_delete_asks_for_confirmation_then_deletes(logged_in, ada, recsys):
    model = factories.model(recsys, "churn")
    client = logged_in(ada)
    response = client.get(f"/models/{model.pk}/delete/")
    assert response.status_code == 200 and "Delete churn?" in response.content.decode()
    assert Model.objects.filter(pk=model.pk).exists()
    response = client.post(f"/models/{model.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/models/"
    assert not Model.objects.filter(pk=model.pk).exists()
    assert AuditEvent.objects.filter(action="model.deleted", object_id=str(model.pk)).exists()


def test_detail_shows_versions_with_readiness_and_owner(logged_in, ada, churn_v):
    body = logged_in(ada).get(f"/models/{churn_v.model_id}/").content.decode()
    assert f"v{churn_v.version}" in body
    assert "Not ready" in body and "/10" in body
    assert "#recsys-oncall" in body and "p99 ≤ 200 ms" in body


def test_import_version_happy_path_opens_the_version(logged_in, ada, churn, mlflow, churn_versions):
    response = logged_in(ada).post(f"/models/{churn.pk}/import/", {"mlflow_version": churn_versions[1]})
    version = ModelVersion.objects.get(model=churn, version=churn_versions[1])
    assert response.status_code == 302 and response["Location"] == f"/versions/{version.pk}/"
    assert version.checklist.count() == 10


def test_import_version_htmx_success_redirects_the_browser(logged_in, ada, churn, mlflow, churn_versions):
    response = logged_in(ada).post(f"/models/{churn.pk}/import/", {"mlflow_version": churn_versions[0]},
                                   HTTP_HX_REQUEST="true")
    version = ModelVersion.objects.get(model=churn, version=churn_versions[0])
    assert response["HX-Redirect"] == f"/versions/{version.pk}/"


@pytest.mark.parametrize("value, status, message", [
    ("", 422, "MLflow version: Give the MLflow version number to import."),
    ("abc", 422, "MLflow version: Enter a version number"),
    ("0", 422, "MLflow version: Ensure this value is greater than or equal to 1."),
    ("999", 422, "has no version 999"),
])
def test_import_version_bad_input_is_a_form_error(logged_in, ada, churn, mlflow, churn_versions, value, status,
                                                  message):
    response = logged_in(ada).post(f"/models/{churn.pk}/import/", {"mlflow_version": value})
    assert response.status_code == status
    assert message in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_import_version_twice_is_a_conflict_message(logged_in, ada, churn_v, churn_versions):
    response = logged_in(ada).post(f"/models/{churn_v.model_id}/import/", {"mlflow_version": churn_versions[0]},
                                   HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "is already imported" in response.content.decode()
    assert response.content.decode().lstrip().startswith('<section class="card card-flush" id="versions"')


def test_import_version_when_mlflow_is_unreachable_is_a_clear_message(logged_in, ada, churn, settings):
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_REGISTRY_URI = "http://127.0.0.1:9"
    response = logged_in(ada).post(f"/models/{churn.pk}/import/", {"mlflow_version": 1})
    assert response.status_code == 503
    assert "did not answer" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_sync_imports_missing_versions_and_reports(logged_in, ada, churn, mlflow, churn_versions):
    client = logged_in(ada)
    response = client.post(f"/models/{churn.pk}/sync/", follow=True)
    assert ModelVersion.objects.filter(model=churn).count() == len(churn_versions)
    assert "new version(s) from MLflow" in response.content.decode()
    response = client.post(f"/models/{churn.pk}/sync/", follow=True)
    assert "is up to date with MLflow" in response.content.decode()


def test_sync_when_mlflow_is_unreachable_is_a_message_not_a_500(logged_in, ada, churn, settings):
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_REGISTRY_URI = "http://127.0.0.1:9"
    response = logged_in(ada).post(f"/models/{churn.pk}/sync/", follow=True)
    assert response.status_code == 200
    assert "Sync failed: MLflow at" in response.content.decode()


def test_anonymous_is_sent_to_login(client):
    response = client.get("/models/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("tenancy:login"))
