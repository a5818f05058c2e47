"""Turn what a person types (a model name, a version number) into API ids."""

from __future__ import annotations

from cli import exitcodes
from cli.client import Client
from cli.errors import CliError, UsageError


def is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < len(text) <= 18


def model(client: Client, ref: str, *, team: str | None = None) -> dict:
    """A model by id, or by name (exact) among the caller's teams; `team` settles a name two
    teams use. Not found → exit 6 (what the API says for a missing object)."""
    if is_id(ref):
        return client.get(f"/api/v1/models/{ref}/")
    params = {"q": ref}
    if team:
        params["tenant"] = team
    matches = [m for m in client.paginate("/api/v1/models/", params) if m.get("name") == ref]
    if not matches:
        where = f" in team {team}" if team else " in your teams"
        raise CliError(f"no model named {ref!r}{where} (see `slipway models list`).", exit_code=exitcodes.REFUSED)
    if len(matches) > 1:
        teams = ", ".join(sorted(m["tenant"] for m in matches))
        raise UsageError(f"{len(matches)} teams have a model named {ref!r} ({teams}); say which with --team "
                         f"or give the model id.")
    return matches[0]


def version_number(text: str) -> int:
    cleaned = text.strip().lstrip("vV")
    if not is_id(cleaned):
        raise UsageError(f"{text!r} is not a version number (e.g. 3 or v3).")
    return int(cleaned)


def version(client: Client, model_row: dict, number: int) -> dict:
    """The imported version `number` of a model (its row in the versions list)."""
    for row in client.paginate(f"/api/v1/models/{model_row['id']}/versions/"):
        if row.get("version") == number:
            return row
    raise CliError(f"{model_row['name']} has no version {number} in Slipway yet; import it from MLflow with "
                   f"`slipway versions import {model_row['name']} {number}`.", exit_code=exitcodes.REFUSED)
