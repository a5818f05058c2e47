"""Errors the CLI raises itself (the API's own errors are `cli.client.ApiError`)."""

from __future__ import annotations

from cli import exitcodes


class CliError(Exception):
    """A problem to report on stderr, with the exit code to leave with."""

    exit_code = exitcodes.USAGE

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CliError):
    """Bad or ambiguous arguments (exit 1)."""


class NotConfigured(CliError):
    """No portal URL (exit 1) or no token (exit 7)."""
