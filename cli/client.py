"""A small client of the Slipway REST API v1 (requests-based).

- `Authorization: Bearer <token>`; JSON in and out.
- Errors: every non-2xx answer becomes `ApiError` carrying the RFC 9457 problem detail
  (`title`, `detail`, `code`, `errors: [{code, field, message}]`); a body that is not a
  problem (a proxy's HTML page) still gives a readable ApiError.
- Retries: 429 and 503 are retried after `Retry-After` (or an exponential backoff when the
  header is missing), at most `max_retries` times and never waiting longer than `max_wait`
  seconds for one retry; connection failures are retried for GETs only (a POST whose answer
  was lost may have been applied). Every request has a connect and a read timeout.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests

from cli import __version__

RETRY_STATUSES = frozenset({429, 503})
DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


class ApiError(Exception):
    """The API answered with an error status; `problem` is its problem detail."""

    def __init__(self, status: int, problem: dict, *, method: str = "", path: str = ""):
        self.status = status
        self.problem = problem
        self.method = method
        self.path = path
        super().__init__(f"{status} {self.title}: {self.detail}")

    @property
    def title(self) -> str:
        return str(self.problem.get("title") or f"HTTP {self.status}")

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or "")

    @property
    def code(self) -> str:
        return str(self.problem.get("code") or "")

    @property
    def errors(self) -> list[dict]:
        errors = self.problem.get("errors")
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


class NetworkError(Exception):
    """The portal could not be reached (refused, DNS, timeout, TLS)."""


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class Client:
    """`Client(url, token).get("/api/v1/me/")` → the decoded JSON body."""

    def __init__(self, url: str, token: str | None, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 max_retries: int = 4, max_wait: float = 60.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": f"slipway-cli/{__version__}"})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.retries_done = 0  # for tests and --verbose

    # --- verbs ---------------------------------------------------------------------------

    def get(self, path: str, params: dict | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict | None = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})

    def patch(self, path: str, body: dict) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def paginate(self, path: str, params: dict | None = None, *, limit: int | None = None) -> Iterator[dict]:
        """Every `results` row of a paginated list, following `next` (up to `limit` rows)."""
        page = self.get(path, params)
        seen = 0
        while True:
            rows = page.get("results", []) if isinstance(page, dict) else page
            for row in rows:
                yield row
                seen += 1
                if limit is not None and seen >= limit:
                    return
            following = page.get("next") if isinstance(page, dict) else None
            if not following:
                return
            # Follow the path and query only: the server may know itself by another host name.
            parts = urlsplit(following)
            page = self.get(parts.path + (f"?{parts.query}" if parts.query else ""))

    # --- the one place requests are made --------------------------------------------------

    def _url(self, path: str) -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        attempt = 0
        while True:
            try:
                response = self.session.request(method, self._url(path), params=params, json=json,
                                                timeout=self.timeout)
            except requests.RequestException as exc:
                if method == "GET" and attempt < min(2, self.max_retries):
                    attempt += 1
                    self.retries_done += 1
                    self.sleep(0.5 * attempt)
                    continue
                raise NetworkError(describe_network_error(self.url, exc)) from exc
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = min(2.0 ** attempt, self.max_wait)
                if wait <= self.max_wait:
                    attempt += 1
                    self.retries_done += 1
                    self.sleep(wait)
                    continue
            if response.status_code >= 400:
                raise ApiError(response.status_code, _problem(response), method=method, path=path)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ApiError(response.status_code, {
                    "title": "Unexpected answer",
                    "detail": f"{method} {path} answered {response.status_code} with a body that is not JSON "
                              f"(is {self.url} a Slipway portal?)."}, method=method, path=path) from None


def _problem(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        body.setdefault("status", response.status_code)
        if "title" not in body and "detail" not in body and "error" in body:
            body["detail"] = str(body["error"])
        if response.headers.get("Retry-After"):
            body.setdefault("retry_after", response.headers["Retry-After"])
        return body
    text = " ".join(response.text.split())[:200]
    return {"status": response.status_code, "title": response.reason or f"HTTP {response.status_code}",
            "detail": text or "The server gave no details."}


def describe_network_error(url: str, exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"{url} did not answer in time ({type(exc).__name__})."
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS handshake with {url} failed: {exc}"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot reach {url}: connection failed (is the portal running, and is SLIPWAY_URL right?)"
    return f"request to {url} failed: {exc}"
