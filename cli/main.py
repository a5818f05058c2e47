"""`slipway` entry point: argument parsing, configuration, and error → exit code mapping.

Each module in `cli.commands` adds its sub-commands with `register(subparsers, common)`;
a command is a function `(ctx) -> exit code`. Problems the API answers with are printed
with every field error (cli.output.Output.problem) and mapped to the documented exit codes
(cli.exitcodes, docs/cli.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from cli import __version__, exitcodes
from cli import config as config_module
from cli.client import ApiError, Client, NetworkError
from cli.commands import auth, checklist, costs, deployments, drift, models, versions
from cli.errors import CliError, NotConfigured
from cli.output import Output

COMMAND_MODULES = (auth, models, versions, checklist, deployments, costs, drift)


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, but 2 means "rolled back" here: use 1."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(exitcodes.USAGE, f"{self.prog}: error: {message}\n")


class Context:
    """What a command needs: its arguments, the output, and (lazily) the API client."""

    def __init__(self, args: argparse.Namespace, out: Output):
        self.args = args
        self.out = out
        self._client: Client | None = None
        self._settings: config_module.Settings | None = None

    @property
    def settings(self) -> config_module.Settings:
        if self._settings is None:
            try:
                self._settings = config_module.load(self.args.config)
            except config_module.ConfigError as exc:
                raise CliError(str(exc)) from exc
        return self._settings

    def client(self) -> Client:
        if self._client is None:
            settings = self.settings
            if not settings.url:
                raise NotConfigured("no portal URL: set SLIPWAY_URL or run `slipway login`.")
            if not settings.token:
                raise NotConfigured("no API token: set SLIPWAY_TOKEN or run `slipway login` "
                                    "(create a token on the portal's /tokens/ page).",
                                    exit_code=exitcodes.UNAUTHENTICATED)
            self._client = make_client(settings.url, settings.token)
        return self._client


def make_client(url: str, token: str | None) -> Client:
    """A client with the timeouts from the environment (SLIPWAY_TIMEOUT, read seconds)."""
    read = _float_env("SLIPWAY_TIMEOUT", 30.0)
    return Client(url, token, timeout=(min(5.0, read), read),
                  max_retries=int(_float_env("SLIPWAY_MAX_RETRIES", 4)),
                  max_wait=_float_env("SLIPWAY_MAX_RETRY_WAIT", 60.0))


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def build_parser() -> argparse.ArgumentParser:
    # Options every sub-command accepts too (`slipway status --json` as well as
    # `slipway --json status`); SUPPRESS keeps a sub-command from resetting the top-level value.
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine output: one JSON document on stdout, nothing else")
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default ~/.config/slipway/config.json)")

    parser = Parser(prog="slipway", description="Ship ML models with Slipway from the command line.",
                    epilog="Exit codes: 0 ok/live, 1 usage or network error, 2 rolled back, 3 rejected or "
                           "expired, 4 failed, 5 timed out waiting, 6 API refused, 7 not authenticated. "
                           "See docs/cli.md.")
    parser.add_argument("--json", action="store_true", default=False, help=argparse.SUPPRESS)
    parser.add_argument("--config", metavar="PATH", default=None, help="config file path")
    parser.add_argument("--version", action="version", version=f"slipway {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers, common)
    return parser


def run(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Parse `argv`, run the command, return its exit code (never raises for expected errors)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else exitcodes.USAGE
    out = Output(json_mode=args.json, stdout=stdout, stderr=stderr)
    ctx = Context(args, out)
    try:
        return int(args.func(ctx) or 0)
    except ApiError as exc:
        out.problem(exc)
        if exc.status == 401:
            out.info("  The token is missing, unknown, expired or revoked: run `slipway login` or set SLIPWAY_TOKEN.")
            return exitcodes.UNAUTHENTICATED
        return exitcodes.USAGE if exc.status >= 500 else exitcodes.REFUSED
    except NetworkError as exc:
        out.error(str(exc))
        return exitcodes.USAGE
    except CliError as exc:
        out.error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        out.info("\nslipway: interrupted.")
        return exitcodes.INTERRUPTED
    except BrokenPipeError:  # `slipway models list | head`
        return exitcodes.OK
    except Exception as exc:  # a bug in the CLI: one clear line, the traceback on request
        if os.environ.get("SLIPWAY_DEBUG"):
            raise
        out.error(f"internal error ({type(exc).__name__}: {exc}); run again with SLIPWAY_DEBUG=1 for the "
                  "traceback and report it.")
        return exitcodes.USAGE


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Console-script entry point (the generated script does `sys.exit(main())`); returns the
    exit code. `stdout`/`stderr` default to the process's streams."""
    return run(argv, stdout=stdout, stderr=stderr)


if __name__ == "__main__":
    sys.exit(main())
