"""What the CLI prints: tables and key/value blocks for people, JSON for machines.

stdout carries the result only (a table, or with `--json` exactly one JSON document);
messages, errors and the `--wait` progress line go to stderr, so `slipway … --json | jq`
always reads clean JSON.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from cli.client import ApiError

Column = tuple[str, str | Callable[[dict], Any]]


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def short_time(value: str | None) -> str:
    """`2026-05-01T12:34:56.789+00:00` → `2026-05-01 12:34:56` (UTC as the API gives it)."""
    if not value:
        return "-"
    return value.replace("T", " ")[:19]


class Output:
    def __init__(self, *, json_mode: bool = False, stdout: TextIO | None = None, stderr: TextIO | None = None):
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    # --- results (stdout) ----------------------------------------------------------------

    def emit(self, data: Any, human: Callable[[], None] | None = None) -> None:
        """The command's result: JSON with --json, else what `human` prints."""
        if self.json_mode or human is None:
            self.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
        else:
            human()
        self.stdout.flush()

    def line(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def table(self, rows: Sequence[dict], columns: Sequence[Column], *, empty: str = "Nothing to show.") -> None:
        if not rows:
            self.line(empty)
            return
        headers = [header for header, _ in columns]
        body = [[cell(getter(row) if callable(getter) else row.get(getter)) for _, getter in columns]
                for row in rows]
        widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
        self.line("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        for r in body:
            self.line("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())

    def pairs(self, items: Iterable[tuple[str, Any]]) -> None:
        items = list(items)
        width = max((len(k) for k, _ in items), default=0)
        for key, value in items:
            self.line(f"{key + ':':<{width + 1}} {cell(value)}")

    # --- messages (stderr) ---------------------------------------------------------------

    def info(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def error(self, text: str) -> None:
        self.stderr.write(f"slipway: error: {text}\n")
        self.stderr.flush()

    def problem(self, exc: ApiError) -> None:
        """Every part of a problem detail a person needs: title, detail, each field error."""
        lines = [f"slipway: error: {exc.title} (HTTP {exc.status}"
                 + (f", {exc.code})" if exc.code else ")")]
        errors = exc.errors
        # A domain error repeats its detail as its (first) error: print it once, with its field.
        if exc.detail and not any(str(e.get("message") or "") == exc.detail for e in errors):
            lines.append(f"  {exc.detail}")
        for error in errors:
            message = str(error.get("message") or "")
            where = f"{error['field']}: " if error.get("field") else ""
            code = f" [{error['code']}]" if error.get("code") else ""
            lines.append(f"  - {where}{message}{code}")
        gpu = exc.problem.get("gpu")
        if isinstance(gpu, dict):
            lines.append("  GPUs: " + ", ".join(f"{k} {v}" for k, v in gpu.items()))
        if exc.problem.get("retry_after"):
            lines.append(f"  Retry after {exc.problem['retry_after']} s.")
        self.stderr.write("\n".join(lines) + "\n")
        self.stderr.flush()


class ProgressLine:
    """The `--wait` progress line on stderr: rewritten in place on a terminal, one line per
    change otherwise (CI logs keep every step)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last = ""
        self.open = False

    def update(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        if self.tty:
            width = shutil.get_terminal_size((120, 20)).columns - 1
            shown = text if len(text) <= width else text[: max(1, width - 1)] + "…"
            self.stream.write("\r\033[K" + shown)
            self.open = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False
