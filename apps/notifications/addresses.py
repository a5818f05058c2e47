"""Which webhook URLs Slipway may call: the server-side request forgery guard.

A destination URL is checked when it is saved and again, resolved afresh, right before every
attempt (a host name can be re-pointed at an internal address after it was saved — DNS
rebinding); the attempt then connects to exactly the address that passed the check.

Refused always: cloud metadata endpoints (169.254.169.254, fd00:ec2::254), link-local,
unspecified, multicast and reserved addresses. Refused unless
SLIPWAY_NOTIFY_ALLOW_LOOPBACK (on with DEBUG, for a local receiver): 127.0.0.0/8 and ::1.
Plain http is refused unless SLIPWAY_NOTIFY_ALLOW_HTTP (on with DEBUG).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.errors import ValidationFailed
from apps.notifications.errors import NotificationErrorCode as Code

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}  # AWS (v4, v6) and Alibaba metadata services


@dataclass(frozen=True)
class Target:
    """A vetted URL: where to connect (only the checked addresses, in resolver order) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (a literal address resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def refusal(address: str) -> str | None:
    """Why `address` may not be called, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified or ip.is_multicast:
        return "not a unicast address"
    if ip.is_loopback:
        return None if settings.SLIPWAY_NOTIFY_ALLOW_LOOPBACK else "a loopback address (this server itself)"
    if ip.is_reserved:
        return "a reserved address"
    return None


def check_url(url: str, *, field: str = "url") -> Target:
    """Parse, resolve and vet a webhook URL; raise ValidationFailed naming `field` otherwise."""
    def fail(code: str, message: str):
        raise ValidationFailed([(field, code, message)])

    if not isinstance(url, str) or not url or len(url) > 500 or any(c.isspace() for c in url):
        fail(Code.INVALID_URL, "Give an absolute http(s) URL of at most 500 characters, without spaces.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        fail(Code.INVALID_URL, "The URL cannot be parsed (check the port and brackets).")
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        fail(Code.INVALID_URL, "Give an absolute URL starting with https://.")
    if parts.username or parts.password:
        fail(Code.INVALID_URL, "Credentials in the URL are not accepted; the signature authenticates Slipway.")
    if scheme == "http" and not settings.SLIPWAY_NOTIFY_ALLOW_HTTP:
        fail(Code.HTTPS_REQUIRED, "Webhooks must use https:// (plain http is allowed only in development).")
    host = parts.hostname
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        fail(Code.UNRESOLVABLE, f"The host name {host!r} does not resolve.")
    if not addresses:
        fail(Code.UNRESOLVABLE, f"The host name {host!r} does not resolve.")
    for address in addresses:
        reason = refusal(address)
        if reason:
            fail(Code.ADDRESS_REFUSED, f"{host} resolves to {address}, {reason}; Slipway does not call it.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses))
