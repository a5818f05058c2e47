"""Security response headers: a strict Content-Security-Policy, Permissions-Policy and friends.

Django 5.2 has no built-in CSP, and django-csp would be a dependency for ten lines, so this
middleware sets it. The pages are built for the strict policy: no inline <script> (behaviour
lives in static/js/slipway.js and htmx attributes), no style="..." attributes, no <style>
blocks; htmx is configured in a <meta> tag with eval and injected styles off.

Django's SecurityMiddleware already sets X-Content-Type-Options (SECURE_CONTENT_TYPE_NOSNIFF),
Referrer-Policy (SECURE_REFERRER_POLICY), Cross-Origin-Opener-Policy
(SECURE_CROSS_ORIGIN_OPENER_POLICY) and, with DEBUG=false, HSTS. This middleware fills any of
those a response lacks (a response built before SecurityMiddleware ran, e.g. a 404 from a
middleware) so every answer carries the same set.
"""

from __future__ import annotations

from django.conf import settings

# One directive per line so a diff shows exactly what changed.
CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
}

# The third-party API documentation pages (Swagger UI, ReDoc) are not ours: both inject
# <style> elements at run time (React / styled-components) and their shipped templates carry
# a <style> block, so style-src 'self' would leave them unstyled. They still run no inline
# script (Swagger UI is served by SpectacularSwaggerSplitView, its init script as a file);
# ReDoc renders in a blob: web worker. Only these paths get the relaxed style policy.
DOC_PATHS = ("/api/docs/", "/api/redoc/")
DOC_OVERRIDES: dict[str, str] = {
    "style-src": "'self' 'unsafe-inline'",
    "worker-src": "'self' blob:",
}

PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "display-capture", "geolocation", "gyroscope", "magnetometer",
    "microphone", "payment", "usb", "interest-cohort"))


def build_csp(path: str = "/") -> str:
    directives = dict(CSP_DIRECTIVES)
    if path.startswith(DOC_PATHS):
        directives.update(DOC_OVERRIDES)
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Adds CSP, Permissions-Policy, and the Django security headers a response is missing."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.default_csp = build_csp("/")
        self.docs_csp = build_csp(DOC_PATHS[0])

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = (
                self.docs_csp if request.path.startswith(DOC_PATHS) else self.default_csp)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # Static files (WhiteNoise answers before XFrameOptionsMiddleware runs) get it here.
        response.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", settings.SECURE_REFERRER_POLICY or "same-origin")
        response.setdefault("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY or "same-origin")
        return response
