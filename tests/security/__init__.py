"""Security tests. The route walker (test_route_walker.py) and the case format it reads.

Every URL pattern registered in `portal.urls` needs a `RouteCase` — API routes in
`routes_api.py`, UI routes in `routes_ui.py` — each module exporting `CASES: list[RouteCase]`.
A route without a case fails the walker, naming the route; so does a case naming no route.

How to write a case (for the pages helper and whoever adds a route)
-------------------------------------------------------------------
    from tests.security import RouteCase

    CASES = [
        RouteCase("registry:model_detail", kwargs=lambda w: {"pk": w.model.pk}),
        RouteCase("registry:model_edit", kwargs=lambda w: {"pk": w.model.pk},
                  reads=("GET",), writes=("POST",), body=lambda w: {"name": "renamed"}),
        RouteCase("registry:model_list", other_team_read=200),        # a list: grace sees her own rows
        RouteCase("tenancy:login", anonymous=200, other_team_read=200),  # public page
    ]

`route` is the URL name exactly as `reverse()` takes it (namespace:name; API routes have no
namespace: "model-detail", "checklist-list"). `kwargs(world)` builds the reverse() kwargs
from the `World` below. `reads` / `writes` are the HTTP methods the route answers; they must
match what the view implements (for class-based views the walker checks this).

What the walker asserts for each method (the defaults follow STYLE §6):
  anonymous        API: 401 or 403 problem; UI: a redirect to the login page. Set an int
                   (e.g. 200 for the login page) to expect that status instead.
  other_team_read  status for grace (search) reading recsys's object: 404. For lists set 200.
  other_team_write status for grace writing recsys's object (with `body`): 404.
  viewer_write     status for vera (viewer in recsys) on writes: 403.
  owner_read       status for ada (data scientist in recsys) on reads: 200. Proves the
                   kwargs point at a real object, so the 404s above mean something.
  viewer_read      status for vera on reads: defaults to owner_read; 403 suits a form
                   page that only writers may open (e.g. an edit form).
Every 2xx answer to grace must not contain LEAK_MARKERS (recsys's model name and
description): 0 cross-team leaks. Writes are sent only as anonymous, grace and vera, and
are normally refused, so the walker does not change recsys's objects (a case may expect
success where the resource is the caller's own, e.g. creating a personal token).

`body(world)` is the request body for writes: JSON for API routes, form fields for UI
routes. Give a body that would be *valid* for a permitted user, so a refusal is proven to
come from the permission check and not from validation.

`World` holds: recsys, search (teams); ada (data scientist, recsys), vera (viewer, recsys),
grace (data scientist, search), linus (platform); model (recsys, named LEAK_MARKERS[0]),
version (of model, with its checklist), item_key ("bias_review"), ada_token (an ApiToken
of ada), audit_event (a recsys audit event). Objects of other apps: build them lazily with
`world.once("deployment", lambda: make_deployment(world))`, which caches per test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LEAK_MARKERS = ("secret-ranker", "recsys-only-marker-7f3a")


@dataclass
class World:
    """The objects route cases build their URLs from (see the module docstring)."""

    recsys: Any
    search: Any
    ada: Any
    vera: Any
    grace: Any
    linus: Any
    model: Any
    version: Any
    ada_token: Any
    audit_event: Any
    item_key: str = "bias_review"
    _cache: dict = field(default_factory=dict)

    def once(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]


def no_kwargs(world: World) -> dict:
    return {}


@dataclass(frozen=True)
class RouteCase:
    """How to reach one route and what each kind of caller must get (see module docstring)."""

    route: str
    kwargs: Callable[[World], dict] = no_kwargs
    reads: tuple[str, ...] = ("GET",)
    writes: tuple[str, ...] = ()
    body: Callable[[World], dict] | None = None
    anonymous: int | None = None  # None: API 401/403, UI redirect to login
    other_team_read: int = 404
    other_team_write: int = 404
    viewer_write: int = 403
    owner_read: int = 200
    viewer_read: int | None = None  # None: same as owner_read (set 403 for an edit form)
    note: str = ""
