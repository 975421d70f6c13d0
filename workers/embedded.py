"""The embedded mode's background half: an in-process broker, worker threads, the clock."""
from __future__ import annotations

import logging

import dramatiq

from .broker import install
from .clock import Clock

log = logging.getLogger(__name__)


def start(config):
    """Start worker threads and the clock in this process; return a stop function."""
    broker = install(config)
    worker = dramatiq.Worker(broker, worker_threads=config.worker_threads, worker_timeout=100)
    worker.start()
    clock = Clock(config.tick_interval)
    thread = clock.start_thread()

    def stop():
        log.info("stopping the clock and the workers (finishing work in hand)")
        clock.stop()
        thread.join(timeout=5)
        worker.stop(timeout=int(config.publish_lease * 1000))

    return stop
