"""portal.urls with single sign-on switched on (portal/urls.py adds these when OIDC_RP_CLIENT_ID is set)."""

from django.urls import include, path

from portal.urls import handler403, handler404, handler500  # noqa: F401
from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [path("oidc/", include("mozilla_django_oidc.urls")), *portal_urlpatterns]
