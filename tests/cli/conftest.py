"""Fixtures for driving the real `slipway` CLI against the real portal (pytest-django's live_server).

`run_cli(user, *argv)` calls `cli.main.main(argv)` in-process with the user's own config file
(a real Bearer token from apps.tenancy.services.issue_token), capturing stdout, stderr and
the exit code. Calls may run in threads at once (ada waits while linus approves): each call
has its own streams and config file, nothing shared through the environment.

`engine` runs the dev cluster in-process and a thread doing what beat + workers do, like
tests/browser/test_deployments.py: every 0.3 s reconcile each due rollout with the real
clock, the real kubernetes-client adapter and the dev cluster's metrics; the environments
get short smoke, soak and guard windows so a rollout takes seconds.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.tenancy.services import issue_token
from tests.engine_loop import running_engine


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def _cli_home(tmp_path, monkeypatch):
    """No test reads or writes the real ~/.config, or inherits a SLIPWAY_* setting."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    for name in ("SLIPWAY_URL", "SLIPWAY_TOKEN", "SLIPWAY_TIMEOUT", "SLIPWAY_MAX_RETRIES", "SLIPWAY_MAX_RETRY_WAIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLIPWAY_POLL_INTERVAL", "0.2")


@pytest.fixture
def token_for():
    def _token(user) -> str:
        return issue_token(user, actor=user, name="cli-test").secret
    return _token


@pytest.fixture
def config_for(live_server, token_for, tmp_path):
    """A config file per user, as `slipway login` writes it, pointing at live_server."""
    made: dict[str, Path] = {}

    def _config(user, *, url: str | None = None, token: str | None = None) -> Path:
        path = tmp_path / "configs" / f"{user.username}.json"
        if user.username not in made or url or token:
            path.parent.mkdir(exist_ok=True)
            url = url or live_server.url
            path.write_text(json.dumps({"url": url, "token": token or token_for(user)}))
            made[user.username] = path
        return path
    return _config


def _call(argv: list[str]) -> Result:
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def run_cli(config_for):
    """`run_cli(user, *argv)` as `user` (their config file), or `run_cli(None, *argv)` with the
    environment's configuration; the portal is live_server."""
    def _run(user, *argv: str) -> Result:
        return _call(list(argv) if user is None else ["--config", str(config_for(user)), *argv])
    return _run


@pytest.fixture
def run_offline():
    """`run_offline(*argv)`: no portal, no database (usage and network errors)."""
    return lambda *argv: _call(list(argv))


class Background(threading.Thread):
    """A CLI call (e.g. `deploy --wait`) running while the test does something else."""

    def __init__(self, call, *args):
        super().__init__(daemon=True)
        self.call, self.args = call, args
        self.result: Result | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call(*self.args)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self, seconds: float = 60) -> Result:
        self.join(seconds)
        assert not self.is_alive(), "the CLI call did not finish"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def background(config_for):
    """`background(user, *argv)`: start a CLI call in a thread; `.finish()` → its Result."""
    def _start(user, *argv: str) -> Background:
        config = config_for(user)  # here: the token is written to the database by this thread
        thread = Background(_call, ["--config", str(config), *argv])
        thread.start()
        return thread
    return _start


@pytest.fixture
def engine(live_server, settings, monkeypatch):
    """The dev cluster, environments pointed at it with short windows, and the engine loop."""
    with running_engine(settings, monkeypatch, owner="cli-engine", interval=0.3) as dc:
        yield dc


def wait_for_status(deployment, status: str, *, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        deployment.refresh_from_db()
        if deployment.status == status:
            return deployment
        time.sleep(0.2)
    raise AssertionError(f"#{deployment.pk} is {deployment.status}, not {status}: {deployment.status_reason}")
