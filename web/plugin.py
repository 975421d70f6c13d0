"""Registers the web app with the core, like any plugin: the serve and run commands."""
from __future__ import annotations

import logging
import signal
import sys

import click

from schedulerx import hookimpl

log = logging.getLogger(__name__)


def _serve(app, config, threads: int) -> None:
    from waitress import create_server
    server = create_server(app, host=config.host, port=config.port, threads=threads,
                           channel_timeout=120, ident="SchedulerX")
    # SIGTERM → SystemExit in the main thread, so the caller's finally runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("SchedulerX on http://%s:%s", config.host, config.port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def _server_options(fn):
    fn = click.option("--threads", default=16, show_default=True)(fn)
    fn = click.option("--port", default=None, type=int, help="port (default: PORT)")(fn)
    return click.option("--host", default=None, help="address to bind (default: HOST)")(fn)


def _runtime_and_app(host, port):
    from schedulerx.config import load_config
    from schedulerx.runtime import bootstrap

    from .app import create_app
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v}
    rt = bootstrap(load_config(**overrides))
    return rt, create_app(rt)


@hookimpl
def register_commands(cli):
    @cli.command()
    @_server_options
    def web(host, port, threads):
        """Serve the web app and API (scaled set-up; workers and clock run apart)."""
        rt, app = _runtime_and_app(host, port)
        _serve(app, rt.config, threads)

    @cli.command()
    @_server_options
    def run(host, port, threads):
        """Run everything in one process: web, worker threads, clock (embedded default)."""
        rt, app = _runtime_and_app(host, port)
        stops = [s for s in rt.pm.hook.start_embedded(config=rt.config) if s]
        if not stops:
            log.warning("no plugin started background workers: nothing will be published")
        _first_run_hint(rt.config)
        try:
            _serve(app, rt.config, threads)
        finally:
            for stop in stops:
                stop()


def _first_run_hint(config) -> None:
    from schedulerx.auth import has_users
    if not has_users():
        click.echo(f"\n  First run: open {config.public_base_url}/setup to create the owner account.\n")
