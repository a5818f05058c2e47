from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class MetricsUnavailable(Exception):
    """The provider did not answer, or answered something unusable."""


@dataclass(frozen=True)
class WindowStats:
    """Figures of one workload over a window. None means "no data", never zero."""

    requests: int | None
    errors: int | None
    error_rate: float | None
    p99_ms: float | None

    @staticmethod
    def clean(value):
        """NaN and infinities (e.g. PromQL 0/0) become None: no data, not a number to trust."""
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return None if math.isnan(number) or math.isinf(number) else number


class MetricsProvider(Protocol):
    def window(self, *, namespace: str, workload: str, seconds: int) -> WindowStats: ...
