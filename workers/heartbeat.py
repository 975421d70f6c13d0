"""Worker heartbeats: a thread per worker process writes its liveness row."""
from __future__ import annotations

import logging
import os
import socket
import threading

from dramatiq.middleware import Middleware

from schedulerx import engine

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
