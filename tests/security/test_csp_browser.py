"""Every page satisfies the Content-Security-Policy in a real Chromium (no violation reported).

The pages are found generically: every UI route with a route-walker case that ada may read
(owner_read 200), with the walker's kwargs, plus the login page and the API docs. Each is
opened as a signed-in data scientist; `securitypolicyviolation` events (recorded by an init
script, which CSP does not govern) and console CSP messages must be none.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.security.test_route_walker import load_cases, required_routes, world  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


def readable_pages(world) -> list[str]:  # noqa: F811
    cases = load_cases()
    urls = []
    for route in required_routes():
        case = cases.get(route.name)
        if case is None or route.pattern.startswith("api/") or "GET" not in case.reads or case.owner_read != 200:
            continue
        urls.append(reverse(route.name, kwargs=case.kwargs(world)))
    return urls


def test_no_page_violates_the_content_security_policy(page, sign_in, world, live_server):  # noqa: F811
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.context.add_init_script(RECORD_VIOLATIONS)

    def visit(url: str) -> list[str]:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status < 400, f"{url}: {response.status if response else None}"
        csp = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp, url
        page.wait_for_timeout(150)  # let deferred scripts and htmx's first swaps run
        return page.evaluate("window.__csp || []")

    violations: dict[str, list[str]] = {}
    found = visit("/login/")
    if found:
        violations["/login/"] = found
    sign_in(world.ada)
    urls = readable_pages(world) + ["/api/docs/"]
    opened = 1
    for url in urls:
        if not page.request.get(url).headers.get("content-type", "").startswith("text/html"):
            continue  # a download (CSV export), not a page
        found = visit(url)
        opened += 1
        if found:
            violations[url] = found
    # The detector works: an inline <style> injected into a product page is reported.
    assert visit("/") == []
    walk_console = list(console)
    page.evaluate("""() => { const s = document.createElement('style'); s.textContent = 'body { color: red }';
                             document.head.appendChild(s); }""")
    page.wait_for_timeout(200)
    control = page.evaluate("window.__csp")
    assert any("style-src" in v for v in control), control
    print(f"\nCSP in Chromium: {opened} pages opened, {sum(map(len, violations.values()))} violations, "
          f"{len(walk_console)} console CSP messages; the injected control was caught ({len(control)})")
    assert len(urls) >= 20
    assert not violations, violations
    assert not walk_console, walk_console
