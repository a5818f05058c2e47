"""Error pages: problem details under /api/, friendly pages elsewhere."""

from __future__ import annotations

from django.shortcuts import render

from apps.core.api import problem_response


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return problem_response(404, "Not found", "No such resource, or it is not visible to you.", code="not_found")
    return render(request, "404.html", status=404)


def forbidden(request, exception=None):
    if request.path.startswith("/api/"):
        return problem_response(403, "Not permitted", "You may not do this.", code="not_permitted")
    return render(request, "403.html", status=403)


def server_error(request):
    if request.path.startswith("/api/"):
        return problem_response(500, "Server error", "Something went wrong on our side; it has been logged.",
                                code="server_error")
    return render(request, "500.html", status=500)
