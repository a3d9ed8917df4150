"""``stormwatch tokens create NAME --role ROLE``: a new random API token and its ``STORMWATCH_API_TOKENS`` entry.

The token is printed once, on stdout, and stored nowhere: the server keeps only its SHA-256 (stormwatch.auth).
"""

from __future__ import annotations

import sys

import typer

from stormwatch.auth import ROLES, new_token, token_entry, valid_name

tokens_app = typer.Typer(no_args_is_help=True, help="API tokens for STORMWATCH_API_TOKENS.")


@tokens_app.command("create")
def create(
    name: str = typer.Argument(..., help="Who uses it (letters, digits, '-', '_', '.'); recorded on every change."),
    role: str = typer.Option(..., "--role", help=f"One of {', '.join(ROLES)}."),
) -> None:
    """Print a new random token and the STORMWATCH_API_TOKENS entry to add for it."""
    if not valid_name(name):
        sys.stderr.write(f"NAME: {name!r} is not a token name (letters, digits, '-', '_' or '.')\n")
        raise typer.Exit(2)
    if role not in ROLES:
        sys.stderr.write(f"--role: {role!r} is not a role (one of {', '.join(ROLES)})\n")
        raise typer.Exit(2)
    token = new_token()
    sys.stdout.write(
        f"token for {name} (role {role}); shown once, keep it in a secret store:\n"
        f"  {token}\n"
        f"add this entry to STORMWATCH_API_TOKENS (entries are separated by commas) and restart the server:\n"
        f"  {token_entry(name, role, token)}\n"
    )
