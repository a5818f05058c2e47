"""Rate limits hold under 50 concurrent clients against live_server (threads, real HTTP).

The counters live in the shared cache: Redis when REDIS_URL is set (as in CI), so this also
proves the increments are atomic across the server's request threads. Exactly the limit
succeeds in a one-minute window; every other request gets 429, a problem detail, and
Retry-After no longer than the rest of the window.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings as django_settings

from apps.tenancy import throttling
from apps.tenancy.models import Tenant
from apps.tenancy.services import issue_token

CLIENTS = 50


@pytest.fixture
def shared_cache(settings):
    """The real shared cache (Redis when configured), emptied of rate-limit keys for this test."""
    if django_settings.REDIS_URL:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": django_settings.REDIS_URL}}
    from django.core.cache import cache

    cache.delete_many([k for k in _rl_keys()])
    throttling._limits.clear()
    yield
    throttling._limits.clear()


def _rl_keys() -> list[str]:
    window = int(time.time() // throttling.WINDOW_SECONDS)
    return [f"rl:{kind}:{i}:{w}" for kind in ("token", "tenant") for i in range(1, 200) for w in (window, window + 1)]


def wait_for_a_fresh_window(margin: float = 12.0) -> None:
    """Fixed one-minute windows: start with at least `margin` seconds left in the window."""
    left = throttling.WINDOW_SECONDS - time.time() % throttling.WINDOW_SECONDS
    if left < margin:
        time.sleep(left + 0.2)


def burst(url: str, secrets: list[str]) -> list[requests.Response]:
    """One request per secret, all released at once from their own threads and connections."""
    barrier = threading.Barrier(len(secrets))

    def one(secret: str) -> requests.Response:
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=60)

    with ThreadPoolExecutor(max_workers=len(secrets)) as pool:
        return list(pool.map(one, secrets))


def check_refusals(responses, limit: int, label: str) -> Counter:
    statuses = Counter(r.status_code for r in responses)
    print(f"\n{label}: {len(responses)} concurrent clients, limit {limit}: {dict(statuses)}")
    assert statuses == {200: limit, 429: len(responses) - limit}, statuses
    for response in responses:
        if response.status_code == 429:
            assert response.headers["Content-Type"].startswith("application/problem+json")
            retry = int(response.headers["Retry-After"])
            assert 1 <= retry <= throttling.WINDOW_SECONDS
            assert response.json()["retry_after"] == retry
    return statuses


def test_tenant_limit_holds_under_50_concurrent_clients(live_server, shared_cache, recsys, ada, vera):
    Tenant.objects.filter(pk=recsys.pk).update(rate_limit_per_minute=20)
    # 50 different tokens of two members: only the team's limit applies.
    secrets = [issue_token(user, actor=user, name=f"c{i}").secret for i in range(CLIENTS // 2) for user in (ada, vera)]
    wait_for_a_fresh_window()
    responses = burst(f"{live_server.url}/api/v1/me/", secrets)
    check_refusals(responses, 20, "tenant limit")
    # Another team is not affected by recsys's burst.
    from tests import factories

    grace = factories.user("grace", tenant=factories.tenant("search"))
    response = requests.get(f"{live_server.url}/api/v1/me/",
                            headers={"Authorization": f"Bearer {issue_token(grace, actor=grace, name='g').secret}"},
                            timeout=30)
    assert response.status_code == 200


def test_token_limit_holds_under_50_concurrent_clients(live_server, shared_cache, settings, linus):
    settings.SLIPWAY_TOKEN_RATE_PER_MINUTE = 25
    secret = issue_token(linus, actor=linus, name="shared").secret  # platform: no tenant limit, only the token's
    wait_for_a_fresh_window()
    responses = burst(f"{live_server.url}/api/v1/environments/", [secret] * CLIENTS)
    check_refusals(responses, 25, "token limit")
    # A second token of the same user has its own budget.
    other = issue_token(linus, actor=linus, name="other").secret
    assert requests.get(f"{live_server.url}/api/v1/environments/", headers={"Authorization": f"Bearer {other}"},
                        timeout=30).status_code == 200
