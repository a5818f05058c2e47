"""The CLI's plumbing against the real portal: identity, login, configuration, and the exit
codes of authentication, network and rate-limit problems."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli.output import ProgressLine

ROOT = Path(__file__).resolve().parents[2]


def test_whoami_shows_the_token_owner_and_teams(run_cli, ada, token_for, live_server, monkeypatch):
    result = run_cli(ada, "whoami")
    assert result.code == 0, result.err
    assert "user:" in result.out and "ada" in result.out
    assert "recsys (data_scientist)" in result.out
    assert live_server.url in result.out

    as_json = run_cli(ada, "whoami", "--json")
    assert as_json.code == 0
    me = as_json.json()  # nothing but the JSON document on stdout
    assert me["username"] == "ada" and me["authenticated_by"] == "token"
    assert me["tenants"] == [{"slug": "recsys", "name": "Recommendations", "role": "data_scientist"}]
    # --json works before the command too.
    assert run_cli(ada, "--json", "whoami").json()["username"] == "ada"

    # SLIPWAY_URL / SLIPWAY_TOKEN configure it without a config file.
    monkeypatch.setenv("SLIPWAY_URL", live_server.url + "/")
    monkeypatch.setenv("SLIPWAY_TOKEN", token_for(ada))
    from_env = run_cli(None, "whoami", "--json")
    assert from_env.code == 0, from_env.err
    assert from_env.json()["username"] == "ada"


def test_token_problems_exit_7_and_rate_limits_print_retry_after(run_cli, ada, config_for, token_for,
                                                                 live_server, settings, monkeypatch):
    config_for(ada, token="slw_not-a-real-token")
    result = run_cli(ada, "models", "list")
    assert result.code == 7
    assert result.out == ""
    assert "Not authenticated (HTTP 401, authentication_failed)" in result.err
    assert "The token is unknown, expired or revoked." in result.err
    assert "slipway login" in result.err

    monkeypatch.setenv("SLIPWAY_URL", live_server.url)
    result = run_cli(None, "status")
    assert result.code == 7
    assert "no API token" in result.err

    # A rate-limited request (429) whose Retry-After is beyond the CLI's cap: said, exit 6.
    settings.SLIPWAY_TOKEN_RATE_PER_MINUTE = 1
    monkeypatch.delenv("SLIPWAY_URL")
    monkeypatch.setenv("SLIPWAY_MAX_RETRY_WAIT", "0.5")  # the window's end is further: give up at once
    config_for(ada, token=token_for(ada))
    assert run_cli(ada, "whoami").code == 0
    result = run_cli(ada, "whoami")
    assert result.code == 6
    assert "Too many requests (HTTP 429" in result.err
    assert "Retry after" in result.err


def test_no_url_configured_is_a_usage_error(run_offline):
    result = run_offline("whoami")
    assert result.code == 1
    assert "no portal URL" in result.err


def test_network_down_exits_1(run_offline, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SLIPWAY_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SLIPWAY_TOKEN", "slw_whatever")
    result = run_offline("whoami")
    assert result.code == 1
    assert f"cannot reach http://127.0.0.1:{port}" in result.err
    assert result.out == ""


def test_usage_errors_exit_1_not_2(run_offline):
    # argparse would exit 2, which means "rolled back" to a pipeline.
    assert run_offline("deploy", "some-model").code == 1
    assert run_offline("no-such-command").code == 1
    assert run_offline("status", "not-a-number").code == 1
    assert run_offline("--version").code == 0


def test_login_checks_the_token_and_stores_it_owner_only(run_cli, ada, token_for, live_server, tmp_path,
                                                         monkeypatch):
    path = tmp_path / "home" / ".config" / "slipway" / "config.json"
    # A refused token saves nothing.
    monkeypatch.setattr(sys, "stdin", io.StringIO("slw_wrong\n"))
    refused = run_cli(None, "login", "--url", live_server.url, "--token-stdin")
    assert refused.code == 7
    assert not path.exists()

    # The interactive way: URL and token typed in answer to the prompts.
    secret = token_for(ada)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{live_server.url}\n{secret}\n"))
    result = run_cli(None, "login")
    assert result.code == 0, result.err
    assert "Logged in to" in result.err and "as ada" in result.err
    assert json.loads(path.read_text()) == {"url": live_server.url, "token": secret}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    assert run_cli(None, "whoami", "--json").json()["username"] == "ada"  # from the file
    assert run_cli(None, "logout").code == 0
    assert not path.exists()
    assert run_cli(None, "whoami").code == 1  # no URL any more


class _Flaky(BaseHTTPRequestHandler):
    """Answers 429 (Retry-After: 1) then 503, then the real thing: what a busy portal does."""

    answers: list[int] = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        status = self.answers.pop(0) if self.answers else 200
        body = (json.dumps({"username": "ada", "tenants": []}) if status == 200 else
                json.dumps({"title": "Busy", "status": status, "detail": "later", "code": "busy", "errors": []}))
        self.send_response(status)
        if status != 200:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_429_and_503_are_retried_after_retry_after_up_to_a_cap(flaky_server, monkeypatch):
    from cli.client import ApiError, Client

    url = f"http://127.0.0.1:{flaky_server.server_address[1]}"
    waits: list[float] = []
    _Flaky.answers = [429, 503]
    client = Client(url, "slw_x", sleep=waits.append)
    assert client.get("/api/v1/me/")["username"] == "ada"
    assert waits == [1.0, 1.0]

    _Flaky.answers = [503, 503, 503, 503]
    waits.clear()
    with pytest.raises(ApiError) as raised:
        Client(url, "slw_x", max_retries=2, sleep=waits.append).get("/api/v1/me/")
    assert raised.value.status == 503 and waits == [1.0, 1.0]
    _Flaky.answers = []


def test_progress_line_rewrites_in_place_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    line = ProgressLine(tty)
    line.update("step 1/2")
    line.update("step 1/2")  # unchanged: not written again
    line.update("step 2/2")
    line.close()
    assert tty.getvalue() == "\r\x1b[Kstep 1/2\r\x1b[Kstep 2/2\n"

    log = io.StringIO()
    line = ProgressLine(log)
    for text in ("queued", "queued", "step 1/2"):
        line.update(text)
    line.close()
    assert log.getvalue() == "queued\nstep 1/2\n"


def test_the_installed_slipway_script_runs(ada, token_for, live_server):
    script = ROOT / ".venv" / "bin" / "slipway"
    assert script.exists(), "run `make install` (pip install -e . --no-deps) to create the console script"
    env = {**os.environ, "SLIPWAY_URL": live_server.url, "SLIPWAY_TOKEN": token_for(ada)}
    done = subprocess.run([str(script), "whoami", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["username"] == "ada"
    env["SLIPWAY_TOKEN"] = "slw_revoked-or-unknown"
    done = subprocess.run([str(script), "status"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 7
