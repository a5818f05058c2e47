"""Top-level routes: pages per app, the REST API under /api/v1/, schema and docs, operations."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from apps.core import ops
from apps.core.metrics import metrics_view

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("portal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("admin/", admin.site.urls),
    path("", include("apps.tenancy.urls")),
    path("", include("apps.core.urls")),
    path("", include("apps.registry.urls")),
    path("", include("apps.readiness.urls")),
    path("", include("apps.deployments.urls")),
    path("", include("apps.drift.urls")),
    path("", include("apps.costs.urls")),
    path("", include("apps.runbooks.urls")),
    path("", include("apps.notifications.urls")),
]

if settings.OIDC_ENABLED:  # single sign-on (apps.tenancy.oidc): /oidc/authenticate/, /oidc/callback/
    urlpatterns.insert(0, path("oidc/", include("mozilla_django_oidc.urls")))

handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
handler403 = "apps.core.views.forbidden"
