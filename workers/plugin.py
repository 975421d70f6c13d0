"""Registers the workers with the core, like any plugin: commands and execution hooks."""
from __future__ import annotations

import signal

import click

from schedulerx import hookimpl

#: Longest pause between two polls of an idle queue. Dramatiq's default (1 s) adds up
#: to a second to every tick and every publish when the workers are idle. Dramatiq
#: reads it from the environment when ``dramatiq.worker`` is first imported.
IDLE_POLL_ENV = {"dramatiq_worker_timeout": "100"}


def dramatiq_args(broker_module: str, processes: int, threads: int, shutdown_timeout: float) -> list[str]:
    """The ``dramatiq`` command line of ``schedulerx worker`` (the benchmarks reuse it)."""
    return [broker_module, "--processes", str(processes), "--threads", str(threads),
            "--queues", "schedulerx", "--worker-shutdown-timeout", str(int(shutdown_timeout * 1000))]


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.option("--processes", "-p", default=1, show_default=True, help="worker processes")
    @click.option("--threads", "-t", default=None, type=int,
                  help="threads per process (default: WORKER_THREADS)")
    @click.option("--shutdown-timeout", default=600, show_default=True,
                  help="seconds to finish work in hand after SIGTERM")
    def worker(processes, threads, shutdown_timeout):
        """Run Dramatiq worker processes (scaled set-up)."""
        import os
        for name, value in IDLE_POLL_ENV.items():  # before dramatiq is imported
            os.environ.setdefault(name, value)
        from dramatiq.cli import main, make_argument_parser

        from schedulerx.config import load_config
        threads = threads or load_config().worker_threads
        args = make_argument_parser().parse_args(
            dramatiq_args("schedulerx_workers.entry:setup", processes, threads, shutdown_timeout))
        raise SystemExit(main(args))

    @cli.command()
    def clock():
        """Send a tick every TICK_INTERVAL seconds (scaled set-up: run one or more)."""
        from schedulerx.runtime import bootstrap

        from .broker import install
        from .clock import Clock
        rt = bootstrap()
        install(rt.config)
        c = Clock(rt.config.tick_interval)
        signal.signal(signal.SIGTERM, lambda *_: c.stop())
        try:
            c.run()
        except KeyboardInterrupt:
            c.stop()


@hookimpl
def start_embedded(config):
    from .embedded import start
    return start(config)


@hookimpl
def dispatch_tick():
    from schedulerx.runtime import current

    from .actors import tick
    from .broker import install
    install(current().config)
    tick.send()
    return True
