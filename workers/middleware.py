"""Worker middleware: liveness heartbeats, and database connections handed back per message."""
from __future__ import annotations

import logging
import os
import socket
import threading

from dramatiq.middleware import Middleware

from schedulerx import engine
from schedulerx.db import database

log = logging.getLogger(__name__)


class WorkerHeartbeat(Middleware):
    def __init__(self, interval: float):
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.name = f"worker:{socket.gethostname()}:{os.getpid()}"

    def _run(self, worker):
        while not self._stop.is_set():
            try:
                engine.beat(self.name, "worker", {"threads": len(getattr(worker, "workers", []))})
            except Exception:
                log.exception("worker heartbeat failed")
            self._stop.wait(self.interval)

    def after_worker_boot(self, broker, worker):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(worker,), daemon=True,
                                        name="schedulerx-heartbeat")
        self._thread.start()

    def before_worker_shutdown(self, broker, worker):
        self._stop.set()


class CloseDatabase(Middleware):
    """Give the thread's connection back (to the pool on PostgreSQL) after each message."""

    def _close(self):
        if not database.is_closed() and not database.in_transaction():
            database.close()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._close()

    def after_skip_message(self, broker, message):
        self._close()
