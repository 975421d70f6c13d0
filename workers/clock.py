"""The clock: sends ``tick`` every TICK_INTERVAL seconds and records its heartbeat."""
from __future__ import annotations

import logging
import os
import socket
import threading

from schedulerx import engine

log = logging.getLogger(__name__)


class Clock:
    def __init__(self, interval: float, name: str | None = None):
        self.interval = interval
        self.name = name or f"clock:{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()

    def run(self) -> None:
        from .actors import tick
        log.info("clock started: a tick every %ss", self.interval)
        while not self._stop.is_set():
            try:
                tick.send()
                engine.beat(self.name, "clock", {"interval": self.interval})
            except Exception:  # a broker or database hiccup must not stop the clock
                log.exception("clock: could not send a tick")
            self._stop.wait(self.interval)
        log.info("clock stopped")

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run, name="schedulerx-clock", daemon=True)
        t.start()
        return t
