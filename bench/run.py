"""Running SchedulerX and its peers over one list of due times, in one set-up."""
from __future__ import annotations

import tempfile
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

from . import peers
from .common import WORKER_PROCESSES, WORKER_THREADS, SchedulerX, database_url, log, redis_server


def environment(setup: str, stack: ExitStack):
    """(tmp dir, database URL, broker URL) for the set-up, cleaned up by ``stack``."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
    db_url, _ = stack.enter_context(database_url(setup, tmp))
    broker = stack.enter_context(redis_server() if setup == "scaled" else nullcontext("memory://"))
    return tmp, db_url, broker


def schedulerx(setup, tmp, db_url, broker, due_of, timeout, **settings) -> dict:
    """Seed publications due at ``due_of(start)``, run until all are published."""
    sx = SchedulerX(setup, db_url, broker, tmp, **settings)
    due = due_of(time.time() + 12)  # time to seed and start the processes
    sx.seed(due)
    sx.start()
    log(f"SchedulerX ({setup}): {len(due)} publications, first due in {min(due) - time.time():.1f}s")
    try:
        ok = sx.wait_published(len(due), timeout + max(due) - time.time())
    finally:
        sx.stop()
    out = sx.results()
    out["finished"] = ok
    return out


def threads(setup: str) -> int:
    return WORKER_THREADS * (WORKER_PROCESSES if setup == "scaled" else 1)


def apscheduler(setup, db_url, due_of, timeout, grace) -> dict:
    # Storing a job takes a few ms: leave time for all of them before the first is due.
    lead = 10 + len(due_of(0)) * 0.006
    due = due_of(time.time() + lead)
    return peers.run_apscheduler(db_url, due, threads(setup), grace,
                                 timeout + max(due) - time.time())


def polling(db_url, due_of, timeout) -> dict:
    due = due_of(time.time() + 15)
    return peers.run_polling(db_url, due, timeout + max(due) - time.time())
