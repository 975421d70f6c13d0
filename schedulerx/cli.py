"""The ``schedulerx`` command. The core adds its own commands; web and workers add theirs
through the ``register_commands`` hook (serve, run, worker, clock)."""
from __future__ import annotations

import json
import logging

import click

from . import __version__


@click.group()
@click.version_option(__version__)
@click.option("--log-level", default="INFO", show_default=True, envvar="SCHEDULERX_LOG_LEVEL")
def cli(log_level):
    """SchedulerX: self-hosted content publishing scheduler."""
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.command("config")
def show_config():
    """Print the effective configuration, secrets masked."""
    from .config import load_config
    for key, value in load_config().masked().items():
        click.echo(f"{key:20} {value}")


@cli.command()
def upgrade():
    """Apply pending database migrations."""
    from .runtime import bootstrap
    from . import db
    bootstrap(upgrade=False)
    applied = db.upgrade()
    click.echo("applied: " + ", ".join(applied) if applied else "database is up to date")


@cli.command("create-user")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="")
@click.option("--workspace", "workspace_name", default="My workspace", show_default=True)
@click.option("--timezone", default="UTC", show_default=True)
def create_user(email, password, name, workspace_name, timezone):
    """Create a user with a new workspace they own."""
    from .auth import create_user as make
    from .errors import SchedulerXError
    from .runtime import bootstrap
    bootstrap()
    try:
        user, ws = make(email, password, name=name, workspace_name=workspace_name, timezone=timezone)
    except SchedulerXError as exc:
        raise click.ClickException(exc.message)
    click.echo(f"created user {user.email} (id {user.id}) owning workspace {ws.name!r} (id {ws.id})")


@cli.command("create-token")
@click.option("--email", required=True, help="the user the token acts as")
@click.option("--name", required=True, help="what the token is for")
def create_token(email, name):
    """Create an API token; it is printed once."""
    from .auth import create_token as make, membership
    from .errors import SchedulerXError
    from .models import User
    from .runtime import bootstrap
    bootstrap()
    user = User.get_or_none(User.email == email.strip().lower())
    if user is None:
        raise click.ClickException(f"no user {email}")
    try:
        m = membership(user.id)
        _, plain = make(user, m.workspace, name)
    except SchedulerXError as exc:
        raise click.ClickException(exc.message)
    click.echo(plain)


@cli.command()
@click.option("--workspace", "workspace_id", type=int, default=None)
def status(workspace_id):
    """Show heartbeats, queue depth, counts by status and plugin errors as JSON."""
    from .models import Workspace
    from .runtime import bootstrap
    from .status import snapshot
    rt = bootstrap()
    ws = workspace_id or (Workspace.select(Workspace.id).order_by(Workspace.id).scalar())
    click.echo(json.dumps(snapshot(rt.config, rt.pm, ws), indent=2))


@cli.command()
@click.option("--older-than", "days", type=click.IntRange(min=1), required=True,
              help="days since the publication last changed")
@click.option("--workspace", "workspace_id", type=int, default=None, help="default: every workspace")
@click.option("--dry-run", is_flag=True, help="count, delete nothing")
def purge(days, workspace_id, dry_run):
    """Delete published, failed and canceled publications older than N days (posts stay)."""
    from .runtime import bootstrap
    from .stats import purge as run
    bootstrap()
    n = run(days, workspace_id=workspace_id, dry_run=dry_run)
    click.echo(f"{'would purge' if dry_run else 'purged'} {n} publications")


def main():
    from .plugins import get_plugin_manager
    get_plugin_manager().hook.register_commands(cli=cli)
    cli()
