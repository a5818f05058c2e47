"""Sign-in, dashboard, audit log and API token pages."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEvent
from apps.tenancy.models import ApiToken
from apps.tenancy.services import issue_token
from tests import factories

pytestmark = pytest.mark.django_db


def test_login_page_signs_in_and_audits(client, ada):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "ada", "password": factories.PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert AuditEvent.objects.filter(action="auth.login", actor_label="ada").exists()


def test_login_with_a_wrong_password_says_so(client, ada):
    response = client.post("/login/", {"username": "ada", "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_logout_is_a_post_from_the_user_menu(logged_in, ada):
    client = logged_in(ada)
    assert 'action="/logout/"' in client.get("/").content.decode()
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_dashboard_empty_state_tells_a_new_user_what_to_do(logged_in, ada):
    body = logged_in(ada).get("/").content.decode()
    assert "No models yet." in body and "Create the model in Slipway" in body


def test_dashboard_for_someone_without_a_team(logged_in):
    loner = factories.user("loner")
    body = logged_in(loner).get("/").content.decode()
    assert "You are not in a team yet" in body


def test_dashboard_lists_my_models_awaiting_versions_and_activity(logged_in, ada, churn_v, grace, search):
    factories.model(search, "query-ranker")
    body = logged_in(ada).get("/").content.decode()
    assert "pages-churn" in body and "query-ranker" not in body
    assert f"pages-churn v{churn_v.version}" in body  # awaiting checklist items
    assert "version.imported" in body


def test_dashboard_query_count_is_constant(logged_in, ada, recsys, django_assert_max_num_queries):
    client = logged_in(ada)
    model = factories.model(recsys, "m-0")
    factories.version(model, 1)
    client.get("/")
    with django_assert_max_num_queries(20) as small:
        client.get("/")
    for i in range(1, 12):
        factories.version(factories.model(recsys, f"m-{i}"), 1)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/").status_code == 200


def test_audit_log_shows_my_teams_only_and_filters(logged_in, ada, grace, recsys, search):
    from apps.registry.services import create_model

    create_model(recsys, actor=ada, name="churn")
    create_model(search, actor=grace, name="secret-ranker")
    client = logged_in(ada)
    body = client.get("/audit/").content.decode()
    assert '<code class="action">model.created</code>' in body and "churn" in body
    assert "secret-ranker" not in body
    body = client.get("/audit/", {"action": "auth."}).content.decode()
    assert '<code class="action">model.created</code>' not in body
    assert '<code class="action">auth.login</code>' in body or "No events match." in body
    body = client.get("/audit/", {"tenant": "search"}).content.decode()
    assert "secret-ranker" not in body and "No events match." in body


def test_audit_log_bad_filter_is_a_field_error(logged_in, ada):
    response = logged_in(ada).get("/audit/", {"since": "yesterday", "source": "fax"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "Since: Enter a valid date/time." in body and "Source: Select a valid choice." in body


def test_audit_log_htmx_gets_the_results_fragment(logged_in, ada):
    response = logged_in(ada).get("/audit/", {"actor": "ada"}, HTTP_HX_REQUEST="true")
    assert response.content.decode().lstrip().startswith('<section id="audit-results"')


def test_audit_log_paginates_with_constant_queries(logged_in, ada, recsys, django_assert_max_num_queries):
    from apps.core import audit

    client = logged_in(ada)
    for i in range(3):
        audit.record("test.event", actor=ada, tenant=recsys, object_repr=f"row {i}")
    client.get("/audit/")
    with django_assert_max_num_queries(12) as small:
        client.get("/audit/")
    for i in range(3, 120):
        audit.record("test.event", actor=ada, tenant=recsys, object_repr=f"row {i}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = client.get("/audit/", {"page": 2}).content.decode()
    assert "Page 2 of 3" in body


def test_token_created_shows_the_secret_once(logged_in, ada):
    client = logged_in(ada)
    response = client.post("/tokens/", {"name": "ci", "expires_in_days": 30})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    token = ApiToken.objects.get(user=ada, name="ci")
    assert f'value="slw_{token.prefix}_' in body and "only time Slipway shows it" in body
    again = client.get("/tokens/").content.decode()
    assert f"slw_{token.prefix}_" not in again and "ci" in again


@pytest.mark.parametrize("data, message", [
    ({"name": "", "expires_in_days": 90}, "Name: Give the token a name"),
    ({"name": "x" * 101, "expires_in_days": 90}, "Name: Ensure this value has at most 100 characters"),
    ({"name": "a\x00b", "expires_in_days": 90}, "Name: Null characters are not allowed."),
    ({"name": "ok", "expires_in_days": 7}, "Expires: Select a valid choice."),
])
def test_token_bad_input_is_a_form_error(logged_in, ada, data, message):
    response = logged_in(ada).post("/tokens/", data)
    assert response.status_code == 422 and message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_token_revoke_asks_then_revokes(logged_in, ada):
    issued = issue_token(ada, actor=ada, name="ci")
    client = logged_in(ada)
    response = client.get(f"/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 200 and "Revoke “ci”?" in response.content.decode()
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None
    response = client.post(f"/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 302
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None


def test_someone_elses_token_is_404(logged_in, ada, grace):
    issued = issue_token(grace, actor=grace, name="hers")
    client = logged_in(ada)
    assert client.get(f"/tokens/{issued.token.pk}/revoke/").status_code == 404
    assert client.post(f"/tokens/{issued.token.pk}/revoke/").status_code == 404
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None
    assert "hers" not in client.get("/tokens/").content.decode()


def test_unknown_page_is_the_friendly_404_and_api_keeps_problem_details(logged_in, ada):
    client = logged_in(ada)
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and "can’t find that page" in response.content.decode()
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/problem+json")


def test_every_page_has_csrf_in_hx_headers_and_no_inline_script(logged_in, ada, churn_v):
    client = logged_in(ada)
    for url in ("/", "/models/", f"/models/{churn_v.model_id}/", f"/versions/{churn_v.pk}/", "/audit/", "/tokens/"):
        body = client.get(url).content.decode()
        assert "hx-headers='{\"X-CSRFToken\": \"" in body, url
        assert "<script>" not in body and "<script " not in body.replace('<script src=', ''), url
        assert "htmx.min.js" in body
