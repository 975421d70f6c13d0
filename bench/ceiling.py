"""The ceiling: a bare Dramatiq actor doing the same two statements per item as a
publish (claim, complete), with no SchedulerX around it — same broker, same worker
processes and threads, same database.

Scaled: ``python -m dramatiq bench.ceiling:setup`` processes on the benchmark's
Redis; embedded: Dramatiq's in-process broker and worker threads on SQLite.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import dramatiq

from schedulerx_workers.plugin import IDLE_POLL_ENV

from .common import ROOT, WORKER_PROCESSES, WORKER_THREADS, log, summarize
from .peers import connect, placeholder

_local = threading.local()


def _conn():
    if getattr(_local, "conn", None) is None:
        _local.conn = connect(os.environ["BENCH_CEILING_DB"])
    return _local.conn


def item(item_id: int) -> None:
    """Claim, then complete: the two statements a publish makes, and nothing else."""
    q = placeholder(os.environ["BENCH_CEILING_DB"])
    cur = _conn().cursor()
    cur.execute(f"UPDATE ceiling_item SET status = 'running' WHERE id = {q} AND status = 'queued'",
                (item_id,))
    if cur.rowcount == 1:
        cur.execute(f"UPDATE ceiling_item SET status = 'done', done_at = {q}, calls = calls + 1 "
                    f"WHERE id = {q}", (time.time(), item_id))


def declare(broker: dramatiq.Broker):
    return dramatiq.actor(item, broker=broker, queue_name="ceiling", max_retries=0)


def setup() -> None:
    """The worker processes' broker module (scaled)."""
    from dramatiq.brokers.redis import RedisBroker
    broker = RedisBroker(url=os.environ["BENCH_CEILING_BROKER"])
    dramatiq.set_broker(broker)
    declare(broker)


def run(setup_name: str, db_url: str, broker_url: str, due_at: float, n: int, timeout: float) -> dict:
    conn = connect(db_url)
    q = placeholder(db_url)
    cur = conn.cursor()
    cur.execute("CREATE TABLE ceiling_item (id INTEGER PRIMARY KEY, status VARCHAR(16) NOT NULL, "
                "done_at DOUBLE PRECISION, calls INTEGER NOT NULL DEFAULT 0)")
    cur.executemany(f"INSERT INTO ceiling_item (id, status) VALUES ({q}, 'queued')",
                    [(i,) for i in range(n)])
    os.environ["BENCH_CEILING_DB"] = db_url
    procs, worker = [], None
    if setup_name == "scaled":
        from dramatiq.brokers.redis import RedisBroker
        env = {**os.environ, "BENCH_CEILING_BROKER": broker_url, **IDLE_POLL_ENV}
        for _ in range(WORKER_PROCESSES):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dramatiq", "bench.ceiling:setup", "--processes", "1",
                 "--threads", str(WORKER_THREADS), "--queues", "ceiling", "--path", str(ROOT)],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        broker = RedisBroker(url=broker_url)
    else:
        from dramatiq.brokers.stub import StubBroker
        broker = StubBroker()
        broker.emit_after("process_boot")
        worker = dramatiq.Worker(broker, worker_threads=WORKER_THREADS, worker_timeout=100)
    actor = declare(broker)
    if worker:
        worker.start()
    time.sleep(max(0.0, due_at - time.time()))
    t0 = time.time()
    for i in range(n):  # everything "due at the same instant": all messages sent at once
        actor.send(i)
    log(f"ceiling: {n} messages sent in {time.time() - t0:.2f}s")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cur.execute("SELECT COUNT(*) FROM ceiling_item WHERE status = 'done'")
        if cur.fetchone()[0] >= n:
            break
        time.sleep(0.25)
    if worker:
        worker.stop()
    for p in procs:
        os.killpg(p.pid, 15)
        p.wait(30)
    cur.execute("SELECT id, done_at, calls FROM ceiling_item")
    rows = [{"due": t0, "call": done, "calls": calls, "status": "done" if done else "missed"}
            for _, done, calls in cur.fetchall()]
    conn.close()
    broker.close()
    return summarize(rows)
