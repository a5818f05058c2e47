"""Every list endpoint answers in a number of queries that does not grow with its rows."""

from __future__ import annotations

import pytest

from apps.core import audit
from apps.readiness.services import ensure_items
from apps.registry.models import ModelVersion
from apps.tenancy.services import issue_token
from tests import factories

pytestmark = pytest.mark.django_db


def grow(recsys, ada, ranker, n: int) -> None:
    """Add n models, n versions (with checklists), n audit events and n tokens."""
    start = ModelVersion.objects.filter(model=ranker).count()
    for i in range(n):
        model = factories.model(recsys, f"grown-{start + i}")
        version = ModelVersion.objects.create(model=ranker, version=start + i + 1, imported_by=ada)
        ensure_items(version)
        audit.record("model.updated", actor=ada, tenant=recsys, obj=model, after={"i": i})
        issue_token(ada, actor=ada, name=f"t{start + i}")


LISTS = [
    ("/api/v1/models/", {}),
    ("/api/v1/models/", {"q": "grown", "tenant": "recsys"}),
    ("/api/v1/tenants/", {}),
    ("/api/v1/audit/", {}),
    ("/api/v1/audit/", {"action": "model.", "tenant": "recsys"}),
    ("/api/v1/tokens/", {}),
    ("versions", {}),
    ("checklist", {}),
    ("/api/v1/me/", {}),
    ("version", {}),
]


def resolve(url: str, ranker) -> str:
    if url == "versions":
        return f"/api/v1/models/{ranker.pk}/versions/"
    if url == "checklist":
        version = ModelVersion.objects.filter(model=ranker).first()
        return f"/api/v1/versions/{version.pk}/checklist/"
    if url == "version":
        return f"/api/v1/versions/{ModelVersion.objects.filter(model=ranker).first().pk}/"
    return url


@pytest.mark.parametrize("who", ["ada", "linus"])
@pytest.mark.parametrize(("url", "params"), LISTS)
def test_query_count_is_constant_in_rows(as_user, bearer, recsys, ada, linus, ranker, who, url, params,
                                         django_assert_max_num_queries):
    user = ada if who == "ada" else linus
    # Bearer-authenticated: the token lookup is part of every automation request.
    client = bearer(user)
    grow(recsys, ada, ranker, 3)
    client.get(resolve(url, ranker), params)  # warm: token last_used_at stamp, caches
    with django_assert_max_num_queries(8) as small:
        assert client.get(resolve(url, ranker), params).status_code == 200
    grow(recsys, ada, ranker, 30)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        response = client.get(resolve(url, ranker), params)
        assert response.status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
