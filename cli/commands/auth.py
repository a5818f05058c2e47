"""`slipway login`, `logout`, `whoami`."""

from __future__ import annotations

import getpass
import sys

from cli import config as config_module
from cli import exitcodes
from cli.client import ApiError


def register(subparsers, common) -> None:
    p = subparsers.add_parser("login", parents=[common], help="store the portal URL and an API token",
                              description="Ask for the portal URL and an API token, check them with "
                                          "/api/v1/me/, and store them (file mode 0600).")
    p.add_argument("--url", help="portal URL, e.g. http://127.0.0.1:8000 (asked when omitted)")
    p.add_argument("--token-stdin", action="store_true",
                   help="read the token from stdin (for scripts; never put a token in argv)")
    p.set_defaults(func=login)

    p = subparsers.add_parser("logout", parents=[common], help="forget the stored URL and token")
    p.set_defaults(func=logout)

    p = subparsers.add_parser("whoami", parents=[common], help="who the token belongs to, their teams and roles")
    p.set_defaults(func=whoami)


def _ask(prompt: str, default: str | None = None) -> str:
    shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
    sys.stderr.write(shown)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer:
        raise EOFError
    return answer.strip() or (default or "")


def _ask_secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt + ": ", stream=sys.stderr).strip()
    return _ask(prompt)


def login(ctx) -> int:
    from cli.main import make_client

    out = ctx.out
    path = ctx.settings.path
    try:
        url = ctx.args.url or _ask("Slipway URL", ctx.settings.url or "http://127.0.0.1:8000")
        if ctx.args.token_stdin:
            token = sys.stdin.readline().strip()
        else:
            token = _ask_secret("API token (create one at /tokens/, or `manage.py issue_token USER`)")
    except EOFError:
        out.error("login needs a URL and a token (stdin closed).")
        return exitcodes.USAGE
    if not url or not token:
        out.error("login needs both a URL and a token; nothing saved.")
        return exitcodes.USAGE
    url = config_module.normalize_url(url)
    client = make_client(url, token)
    try:
        me = client.get("/api/v1/me/")
    except ApiError as exc:
        if exc.status == 401:
            out.problem(exc)
            out.info(f"  {url} refused the token; nothing saved.")
            return exitcodes.UNAUTHENTICATED
        raise
    if not isinstance(me, dict) or "username" not in me:
        out.error(f"{url}/api/v1/me/ did not answer like a Slipway portal; nothing saved.")
        return exitcodes.USAGE
    config_module.save(path, url=url, token=token)
    out.emit({"url": url, "username": me["username"], "config": str(path)}, lambda: out.info(
        f"Logged in to {url} as {me['username']}{_teams(me)}. Saved to {path} (readable by you only)."))
    return exitcodes.OK


def logout(ctx) -> int:
    path = ctx.settings.path
    removed = config_module.forget(path)
    ctx.out.emit({"config": str(path), "removed": removed}, lambda: ctx.out.info(
        f"Removed {path}." if removed else f"No stored login at {path}."))
    return exitcodes.OK


def _teams(me: dict) -> str:
    teams = [f"{t['slug']} ({t['role'].replace('_', ' ')})" for t in me.get("tenants", [])]
    if me.get("is_platform"):
        teams.insert(0, "platform engineer")
    return f" — {', '.join(teams)}" if teams else ""


def whoami(ctx) -> int:
    client = ctx.client()
    me = client.get("/api/v1/me/")
    settings = ctx.settings

    def human() -> None:
        ctx.out.pairs([
            ("user", me["username"]),
            ("name", me.get("display_name")),
            ("email", me.get("email") or "-"),
            ("platform engineer", bool(me.get("is_platform"))),
            ("teams", [f"{t['slug']} ({t['role']})" for t in me.get("tenants", [])] or "none"),
            ("portal", f"{settings.url} (from {'SLIPWAY_URL' if settings.url_from == 'env' else settings.path})"),
        ])

    ctx.out.emit({**me, "url": settings.url}, human)
    return exitcodes.OK
