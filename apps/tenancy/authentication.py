"""DRF authentication with `Authorization: Bearer <token>` personal API tokens."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from apps.tenancy.services import authenticate_token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) == 0 or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <token>'.")
        token = authenticate_token(parts[1])
        if token is None:
            raise exceptions.AuthenticationFailed("The token is unknown, expired or revoked.")
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
