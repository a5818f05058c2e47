"""Injected Kubernetes API faults (errors, latency, conflicts) and the optional bearer-token check.

Faults apply to Kubernetes API paths only, never to ``/_sim`` or ``/metrics``. Without a seed the
draws come from an unseeded generator; with one they are reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from devcluster.errors import ApiError, bad_request

UPDATE_METHODS = ("PUT", "PATCH")


@dataclass
class Faults:
    api_error_rate: float = 0.0
    api_latency_ms: float = 0.0
    conflict_rate: float = 0.0
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)
    injected: dict[str, int] = field(default_factory=lambda: {"errors": 0, "conflicts": 0, "delayed": 0})

    def as_dict(self) -> dict[str, Any]:
        return {
            "api_error_rate": self.api_error_rate,
            "api_latency_ms": self.api_latency_ms,
            "conflict_rate": self.conflict_rate,
            "seed": self.seed,
            "injected": dict(self.injected),
        }

    def configure(self, body: Any) -> None:
        """Replace the fault settings; omitted keys fall back to 0 (no fault)."""
        if not isinstance(body, dict):
            raise bad_request("body must be a JSON object")
        allowed = {"api_error_rate", "api_latency_ms", "conflict_rate", "seed"}
        unknown = set(body) - allowed
        if unknown:
            raise bad_request(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        values: dict[str, float] = {}
        for key in ("api_error_rate", "conflict_rate", "api_latency_ms"):
            value = body.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad_request(f"{key}: must be a number")
            if key != "api_latency_ms" and not 0 <= value <= 1:
                raise bad_request(f"{key}: must be between 0 and 1")
            if key == "api_latency_ms" and not 0 <= value <= 60000:
                raise bad_request("api_latency_ms: must be between 0 and 60000")
            values[key] = float(value)
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise bad_request("seed: must be an integer or null")
        self.api_error_rate = values["api_error_rate"]
        self.conflict_rate = values["conflict_rate"]
        self.api_latency_ms = values["api_latency_ms"]
        self.seed = seed
        self.rng = random.Random(seed) if seed is not None else random.Random()
        self.injected = {"errors": 0, "conflicts": 0, "delayed": 0}

    def draw(self, method: str) -> tuple[float, ApiError | None]:
        """Decide this request's fate: ``(seconds to sleep, error to answer or None)``.

        Conflicts are drawn only for updates (PUT/PATCH), the writes a real server can refuse on a
        stale resourceVersion; errors for any verb. The error is answered before the request runs.
        """
        delay = self.api_latency_ms / 1000
        if delay:
            self.injected["delayed"] += 1
        if self.api_error_rate and self.rng.random() < self.api_error_rate:
            self.injected["errors"] += 1
            if self.rng.random() < 0.5:
                return delay, ApiError(500, "InternalError", "Internal error occurred: injected by the dev cluster", {"causes": [{"message": "injected fault"}]})
            return delay, ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request (injected by the dev cluster)")
        if method in UPDATE_METHODS and self.conflict_rate and self.rng.random() < self.conflict_rate:
            self.injected["conflicts"] += 1
            return delay, ApiError(
                409,
                "Conflict",
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
            )
        return delay, None


@dataclass
class Auth:
    """Bearer tokens accepted on Kubernetes API paths; an empty set accepts any or no token."""

    tokens: set[str] = field(default_factory=set)

    def configure(self, body: Any) -> None:
        tokens = body.get("tokens") if isinstance(body, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
            raise bad_request("tokens: must be a list of non-empty strings ([] accepts any token)")
        self.tokens = set(tokens)

    def check(self, header: str | None) -> None:
        if not self.tokens:
            return
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.tokens:
            raise ApiError(401, "Unauthorized", "Unauthorized")
