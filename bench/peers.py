"""The peers, on the same database with the same no-op work and the same due times.

* APScheduler 3: one date-trigger job per publication in its SQLAlchemy job store,
  a thread pool as large as SchedulerX's worker threads; first with its default
  misfire grace time (1 s: later jobs are skipped as misfires), then with no limit.
* A polling daemon in the style of the seeds: every 10 s select the due rows,
  publish them one by one, update each.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from .common import log, summarize

CALLS: list[tuple[int, float]] = []
_calls_lock = threading.Lock()


def noop_job(item: int) -> None:
    """The peers' no-op publish: note the call time."""
    with _calls_lock:
        CALLS.append((item, time.time()))


# --- database connections without SchedulerX ---------------------------------------

def connect(db_url: str):
    """A DB-API connection to the benchmark's database (PostgreSQL or SQLite)."""
    if db_url.startswith("sqlite"):
        import sqlite3
        conn = sqlite3.connect(db_url.split("///", 1)[1], timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("PRAGMA synchronous=normal")
        return conn
    import psycopg2
    conn = psycopg2.connect(db_url)
    conn.autocommit = True
    return conn


def placeholder(db_url: str) -> str:
    return "?" if db_url.startswith("sqlite") else "%s"


def sqlalchemy_url(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        return db_url
    parts = urlsplit(db_url)
    options = parse_qs(parts.query).get("options", [""])[0]
    url = f"postgresql+psycopg2://{parts.netloc}{parts.path}"
    if options:
        from urllib.parse import quote
        url += "?options=" + quote(options)
    return url


# --- APScheduler 3 ------------------------------------------------------------------------

def run_apscheduler(db_url: str, due: list[float], threads: int, grace: str,
                    timeout: float) -> dict:
    """``grace``: "default" (APScheduler's 1 s) or "none" (no limit)."""
    from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    CALLS.clear()
    table = f"aps_jobs_{grace}"
    defaults = {"coalesce": False, "max_instances": 1}
    if grace == "none":
        defaults["misfire_grace_time"] = None
    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=sqlalchemy_url(db_url), tablename=table)},
        executors={"default": ThreadPoolExecutor(threads)}, job_defaults=defaults,
        timezone=timezone.utc)
    missed: list[int] = []
    executed = [0]

    def listen(event):
        if event.code == EVENT_JOB_MISSED:
            missed.append(int(event.job_id))
        else:
            executed[0] += 1
    sched.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    sched.start(paused=True)
    t0 = time.time()
    for i, t in enumerate(due):
        sched.add_job("bench.peers:noop_job", "date", run_date=datetime.fromtimestamp(t, timezone.utc),
                      args=[i], id=str(i), replace_existing=False)
    setup_done = time.time()
    overran = setup_done > min(due)
    log(f"APScheduler ({grace} grace): {len(due)} jobs stored in {setup_done - t0:.1f}s"
        + (" — AFTER the first due time" if overran else ""))
    sched.resume()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and executed[0] + len(missed) < len(due):
        time.sleep(0.25)
    sched.shutdown(wait=True)
    calls: dict[int, list[float]] = {}
    for i, at in CALLS:
        calls.setdefault(i, []).append(at)
    rows = [{"due": t, "call": min(calls[i]) if i in calls else None, "calls": len(calls.get(i, [])),
             "status": "published" if i in calls else "missed"} for i, t in enumerate(due)]
    out = summarize(rows)
    out.update(skipped_as_misfire=len(missed), setup_overran_first_due=overran,
               setup_seconds=setup_done - t0)
    return out


# --- a polling daemon like the seeds' ---------------------------------------------------------

def run_polling(db_url: str, due: list[float], timeout: float, interval: float = 10.0) -> dict:
    conn = connect(db_url)
    q = placeholder(db_url)
    cur = conn.cursor()
    cur.execute("CREATE TABLE poll_item (id INTEGER PRIMARY KEY, status VARCHAR(16) NOT NULL, "
                "scheduled_at DOUBLE PRECISION NOT NULL)")
    cur.execute("CREATE INDEX poll_item_due ON poll_item (status, scheduled_at)")
    cur.executemany(f"INSERT INTO poll_item (id, status, scheduled_at) VALUES ({q}, 'scheduled', {q})",
                    list(enumerate(due)))
    calls: dict[int, list[float]] = {}
    deadline = time.monotonic() + timeout
    # Start on a whole poll period before the first due time, as a daemon already running would.
    time.sleep(max(0.0, min(due) - time.time() - interval / 2))
    while time.monotonic() < deadline and sum(map(len, calls.values())) < len(due):
        cur.execute(f"SELECT id FROM poll_item WHERE status = 'scheduled' AND scheduled_at <= {q} "
                    "ORDER BY scheduled_at", (time.time(),))
        for (item,) in cur.fetchall():
            calls.setdefault(item, []).append(time.time())  # the no-op publish
            cur.execute(f"UPDATE poll_item SET status = 'published' WHERE id = {q}", (item,))
        time.sleep(interval)
    conn.close()
    rows = [{"due": t, "call": min(calls[i]) if i in calls else None, "calls": len(calls.get(i, [])),
             "status": "published" if i in calls else "missed"} for i, t in enumerate(due)]
    return summarize(rows)
