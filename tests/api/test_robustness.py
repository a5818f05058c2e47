"""Hostile and sloppy input: always a 4xx problem detail, never a 500, nothing written."""

from __future__ import annotations

import pytest

from tests.api.conftest import Counts, assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(as_user, ada):
    return as_user(ada)


@pytest.mark.parametrize("raw", [
    b"{not json", b"", b"\x00\x01\x02", b"[1, 2, 3]", b'"just a string"', b"null", b"42",
    b'{"name": "\\ud800"}', "{" * 5000 + "}" * 5000, b"[" * 100_000 + b"]" * 100_000,
])
def test_malformed_json_bodies_are_400(client, recsys, raw):
    counts = Counts()
    response = client.post("/api/v1/models/", raw=raw)
    assert_problem(response, 400)
    assert counts.unchanged()


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data",
                                          "application/xml"])
def test_non_json_bodies_are_415(client, recsys, content_type):
    counts = Counts()
    response = client.post("/api/v1/models/", raw="tenant=recsys&name=x", content_type=content_type)
    assert_problem(response, 415)
    assert counts.unchanged()


def test_oversized_body_is_refused(client, recsys, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    counts = Counts()
    response = client.post("/api/v1/models/", {"tenant": "recsys", "name": "big", "description": "x" * 20_000})
    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/problem+json")
    assert counts.unchanged()


@pytest.mark.parametrize("path", [
    "/api/v1/models/abc/", "/api/v1/models/-1/", "/api/v1/models/99999999999999999999999999/",
    "/api/v1/models/1e5/", "/api/v1/models/%00/", "/api/v1/versions/abc/", "/api/v1/versions/0x10/",
    "/api/v1/versions/abc/checklist/", "/api/v1/versions/99999999999999999999/checklist/fallback/",
    "/api/v1/models/abc/versions/", "/api/v1/audit/abc/", "/api/v1/audit/%E2%82%AC/",
    "/api/v1/no-such-endpoint/", "/api/v1/models/1/nope/",
])
def test_non_numeric_or_unknown_ids_are_404_problems(client, path):
    assert_problem(client.get(path), 404)


@pytest.mark.parametrize("path", ["/api/v1/models/abc/", "/api/v1/tokens/%00/", "/api/v1/models/99999999999999999999/"])
def test_writes_to_bad_ids_are_404(client, path):
    counts = Counts()
    assert_problem(client.delete(path), 404)
    assert counts.unchanged()


@pytest.mark.parametrize("params", [
    {"page": "99999999999999999999999"}, {"page": "0"}, {"page": "-3"}, {"page": "abc"}, {"page": "1e309"},
    {"page": "\x00"},
])
def test_bad_page_numbers_are_404_problems(client, ranker, params):
    assert_problem(client.get("/api/v1/models/", params), 404)


@pytest.mark.parametrize("params", [{"page_size": "100000000"}, {"page_size": "-5"}, {"page_size": "x"},
                                    {"page": "last"}])
def test_odd_page_sizes_fall_back_to_limits(client, ranker, params):
    response = client.get("/api/v1/models/", params)
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("params", [{"q": "\x00"}, {"q": "x" * 101}, {"tenant": "a\x00"}])
def test_bad_filter_values_are_400_naming_the_parameter(client, ranker, params):
    assert_problem(client.get("/api/v1/models/", params), 400, field=next(iter(params)))


def test_unicode_and_long_search_terms_are_fine(client, ranker):
    assert client.get("/api/v1/models/", {"q": "ränker 模型 🚀"}).status_code == 200
    assert client.get("/api/v1/models/", {"q": "%_%"}).json()["count"] == 0


def test_options_and_head_are_harmless(client, ranker):
    assert client.client.options("/api/v1/models/").status_code == 200
    assert client.client.head("/api/v1/models/").status_code == 200
