"""REST API v1 routes.

Each app's `api.py` may define `register(router) -> list[URLPattern]`: it registers its
viewsets on the shared DRF router and returns extra paths (nested resources such as
`models/<id>/versions/`). New apps plug in by adding that function; nothing here changes.
Anything under /api/v1/ that matches no route answers a 404 problem detail, also with
DEBUG on (Django's HTML debug page is no answer for an API client).
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.urls import re_path
from rest_framework.routers import DefaultRouter

from apps.core.api import api_not_found

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False

extra_patterns: list = []
for config in apps.get_app_configs():
    if not config.name.startswith("apps.") or find_spec(f"{config.name}.api") is None:
        continue
    register = getattr(import_module(f"{config.name}.api"), "register", None)
    if register is not None:
        extra_patterns += register(router)

urlpatterns = [*extra_patterns, *router.urls, re_path(r"^.*$", api_not_found, name="api-not-found")]
