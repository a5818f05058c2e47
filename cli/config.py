"""Where the CLI finds the portal and the token.

Precedence: the environment (`SLIPWAY_URL`, `SLIPWAY_TOKEN`) over the config file that
`slipway login` writes (`~/.config/slipway/config.json`, or `$XDG_CONFIG_HOME/slipway/…`,
or `--config PATH`). The file holds a secret, so it is written 0600 in a 0700 folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """The config file exists but cannot be read as JSON."""


@dataclass
class Settings:
    url: str | None
    token: str | None
    path: Path
    url_from: str = ""  # "env" or "file": said in `whoami` and in error messages
    token_from: str = ""


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "slipway" / "config.json"


def read_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); run `slipway login` again") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object; run `slipway login` again")
    return data


def load(path: str | Path | None = None) -> Settings:
    """The effective URL and token: environment first, then the config file."""
    file_path = Path(path).expanduser() if path else default_path()
    stored = read_file(file_path)
    url, url_from = os.environ.get("SLIPWAY_URL") or None, "env"
    if url is None and stored.get("url"):
        url, url_from = str(stored["url"]), "file"
    token, token_from = os.environ.get("SLIPWAY_TOKEN") or None, "env"
    if token is None and stored.get("token"):
        token, token_from = str(stored["token"]), "file"
    return Settings(url=normalize_url(url) if url else None, token=token, path=file_path,
                    url_from=url_from if url else "", token_from=token_from if token else "")


def normalize_url(url: str) -> str:
    """`127.0.0.1:8000/` → `http://127.0.0.1:8000` (no trailing slash; paths are appended)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def save(path: Path, *, url: str, token: str) -> None:
    """Write the config file readable by its owner only, atomically (no window where another
    user could read the token, no half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"url": url, "token": token}, handle, indent=2)
        handle.write("\n")
    os.chmod(tmp, 0o600)  # O_CREAT's mode is filtered by the umask; make it exact
    os.replace(tmp, path)


def forget(path: Path) -> bool:
    """Delete the config file; whether there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
