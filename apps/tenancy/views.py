"""Sign-in and sign-out pages, the header's team switcher, and personal API tokens."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from apps.core.errors import DomainError
from apps.core.ui import SESSION_TEAM_KEY, add_domain_errors, raise_for_access, safe_next, status_for
from apps.tenancy.forms import TokenForm
from apps.tenancy.models import ApiToken, Tenant
from apps.tenancy.services import issue_token, revoke_token


class LoginView(auth_views.LoginView):
    template_name = "tenancy/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): the user menu's "Sign out" is a form button."""


class TeamSwitchView(LoginRequiredMixin, View):
    """Remember one team (or all) in the session; lists then show only that team."""

    def post(self, request):
        slug = (request.POST.get("team") or "").strip()
        if slug and not Tenant.objects.for_user(request.user, "view").filter(slug=slug).exists():
            raise Http404("No such team.")
        if slug:
            request.session[SESSION_TEAM_KEY] = slug
        else:
            request.session.pop(SESSION_TEAM_KEY, None)
        target = _without_team_params(safe_next(request, request.POST.get("next"), reverse("core:dashboard")))
        if request.htmx:
            return HttpResponseClientRedirect(target)
        return HttpResponseRedirect(target)


def _without_team_params(url: str) -> str:
    """Going back after a switch: drop ?tenant= (it would override the new choice) and ?page=."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("tenant", "page")]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def _tokens(user):
    return list(ApiToken.objects.filter(user=user))


class TokenListView(LoginRequiredMixin, View):
    """My API tokens; creating one shows its secret exactly once, in that response."""

    template = "tenancy/token_list.html"

    def get(self, request):
        return render(request, self.template, {"form": TokenForm(), "tokens": _tokens(request.user)})

    def post(self, request):
        form = TokenForm(request.POST)
        status = 422
        if form.is_valid():
            try:
                issued = issue_token(request.user, actor=request.user, name=form.cleaned_data["name"],
                                     expires_in_days=form.cleaned_data["expires_in_days"])
            except DomainError as exc:
                raise_for_access(exc)
                add_domain_errors(form, exc)
                status = status_for(exc)
            else:
                # Rendered, not redirected: the secret is never stored, not even in the session.
                response = render(request, self.template, {"form": TokenForm(), "tokens": _tokens(request.user),
                                                           "issued": issued}, status=201)
                add_never_cache_headers(response)
                return response
        return render(request, self.template, {"form": form, "tokens": _tokens(request.user)}, status=status)


class TokenRevokeView(LoginRequiredMixin, View):
    """Confirm (GET), then revoke (POST) one of my tokens; someone else's token is a 404."""

    def _token(self, request, pk: int) -> ApiToken:
        token = ApiToken.objects.filter(user=request.user, pk=pk).first()
        if token is None:
            raise Http404("No such token.")
        return token

    def get(self, request, pk: int):
        return render(request, "tenancy/token_confirm_revoke.html", {"token": self._token(request, pk)})

    def post(self, request, pk: int):
        token = self._token(request, pk)
        try:
            revoke_token(token, actor=request.user)
        except DomainError as exc:
            raise_for_access(exc)
            raise
        messages.success(request, f"Token “{token.name}” ({token.prefix}…) is revoked; requests using it now get 401.")
        return HttpResponseRedirect(reverse("tenancy:token_list"))
