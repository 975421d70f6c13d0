"""Chaos: the exactly-once promise while processes die under it.

Three ``schedulerx worker`` processes, two ``schedulerx clock`` processes, a Redis
server this test starts on a spare port (so restarting it touches nothing else),
PostgreSQL, and a webhook receiver on 127.0.0.1 that checks the signature,
deduplicates on the Idempotency-Key as receivers must, and counts every delivery
per (key, attempt). Publications fall due over the run while the test SIGKILLs
random workers (and starts them again), restarts Redis (losing every queued
message) and SIGKILLs a clock. Afterwards, once the leases have run out:

* every publication is ``published`` or explicitly ``unknown``; none is lost,
  failed, or stuck in ``scheduled``/``queued``/``publishing``/``retry_wait``;
* every published one reached the receiver; no attempt was delivered twice;
  a key was delivered again only for a publication whose earlier attempt ended
  with its outcome unknown (a worker killed mid-call), which the receiver dropped.

Small in CI (a few minutes); ``SCHEDULERX_CHAOS_SCALE=10`` for thousands by hand.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from schedulerx import accounts, auth, posts, publications, states
from schedulerx.models import Publication, PublishAttempt
from schedulerx.runtime import bootstrap

from .conftest import _fresh_postgres, make_config, need
from .test_webhook import SECRET, Receiver

SCALE = float(os.environ.get("SCHEDULERX_CHAOS_SCALE", "1"))
POSTS = int(60 * SCALE)          # each on every account
ACCOUNTS = 10
SPREAD = 30 * max(1.0, SCALE ** 0.5)  # seconds over which they fall due
LEASES = {"SCHEDULERX_PUBLISH_LEASE": "12", "SCHEDULERX_QUEUE_LEASE": "8"}
SEED = int(os.environ.get("SCHEDULERX_CHAOS_SEED", "6"))

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    return str(path) if path.exists() else shutil.which(name)


class Redis:
    """A redis-server of our own: no persistence, so a restart loses every message."""

    def __init__(self, tmp: Path):
        self.port, self.tmp, self.proc = _free_port(), tmp, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)


class Group:
    """One command in its own process group, so SIGKILL reaches its children too."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc = None

    def start(self):
        out = open(self.log, "a")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
def chaos_db(postgres_url):
    from schedulerx import db
    url, schema = _fresh_postgres(postgres_url)
    yield url
    db.database.close()
    admin = db.make_database(postgres_url)
    admin.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()


@pytest.fixture
def redis_server(tmp_path):
    if not shutil.which("redis-server"):
        need("redis-server", "the chaos test starts and restarts a Redis server of its own")
    server = Redis(tmp_path)
    server.start()
    yield server
    server.kill()


def _schedule(rt, receiver) -> list[int]:
    user, ws = auth.create_user("chaos@example.com", "a long enough password")
    retry = {"strategy": "fixed", "base_delay": 1, "max_delay": 5, "max_attempts": 20}
    accs = [accounts.create(rt.config, rt.pm, ws.id, platform="webhook", display_name=f"hook {i}",
                            settings={"url": receiver.url, "secret": SECRET})
            for i in range(ACCOUNTS)]
    start = datetime.now(timezone.utc) + timedelta(seconds=8)
    ids = []
    for i in range(POSTS):
        post = posts.create(ws.id, title=f"chaos {i}", body="exactly once, whatever happens")
        at = start + timedelta(seconds=SPREAD * i / POSTS)
        ids += [p.id for p in publications.schedule(rt.config, rt.pm, ws.id, post,
                                                    [a.id for a in accs], at, "UTC", retry=retry)]
    return ids


def test_exactly_once_while_workers_redis_and_a_clock_die(tmp_path, pm, chaos_db, redis_server,
                                                          monkeypatch):
    monkeypatch.setenv("SCHEDULERX_WEBHOOK_ALLOW_PRIVATE", "1")
    rt = bootstrap(make_config(tmp_path, chaos_db, broker_url=redis_server.url), pm=pm)
    rng = random.Random(SEED)
    env = {**os.environ, "DATABASE_URL": chaos_db, "BROKER_URL": redis_server.url,
           "SECRET_KEY": rt.config.secret_key, "SCHEDULERX_DATA_DIR": str(tmp_path / "data"),
           "SCHEDULERX_TICK_INTERVAL": "0.5", "SCHEDULERX_HEARTBEAT_INTERVAL": "1",
           "SCHEDULERX_WEBHOOK_ALLOW_PRIVATE": "1", "SCHEDULERX_PLUGINS": "workers,webhook",
           **LEASES}
    sx = _bin("schedulerx")
    workers = [Group(f"worker{i}", [sx, "worker", "-p", "1", "-t", "4", "--shutdown-timeout", "5"],
                     env, tmp_path / f"worker{i}.log") for i in range(3)]
    clocks = [Group(f"clock{i}", [sx, "clock"], env, tmp_path / f"clock{i}.log") for i in range(2)]
    chaos_log = []
    with Receiver() as receiver:
        ids = _schedule(rt, receiver)
        for g in workers + clocks:
            g.start()
        try:
            t0 = time.monotonic()
            redis_restarted = clock_killed = False
            # Chaos while publications fall due, and a little after.
            while time.monotonic() - t0 < SPREAD + 12:
                time.sleep(rng.uniform(2, 4))
                victim = rng.choice(workers)
                victim.kill()
                chaos_log.append(f"{time.monotonic() - t0:5.1f}s SIGKILL {victim.name}")
                time.sleep(rng.uniform(0.2, 1.5))
                victim.start()
                elapsed = time.monotonic() - t0
                if not redis_restarted and elapsed > SPREAD * 0.4:
                    redis_server.kill()
                    time.sleep(1)
                    redis_server.start()
                    redis_restarted = True
                    chaos_log.append(f"{elapsed:5.1f}s Redis killed and restarted (queues lost)")
                if not clock_killed and elapsed > SPREAD * 0.6:
                    clocks[0].kill()
                    clock_killed = True
                    chaos_log.append(f"{elapsed:5.1f}s SIGKILL clock0 (clock1 goes on)")
            # Calm: every lease runs out, every retry is made.
            deadline = time.monotonic() + 120 + 30 * SCALE
            open_states = (states.SCHEDULED, states.QUEUED, states.PUBLISHING, states.RETRY_WAIT)
            while time.monotonic() < deadline:
                left = Publication.select().where(Publication.status.in_(open_states)).count()
                if left == 0:
                    break
                time.sleep(1)
        finally:
            for g in workers + clocks:
                g.kill(signal.SIGTERM)
        deliveries = [(r["payload"]["idempotency_key"], r["payload"]["attempt"])
                      for r in receiver.requests]
        stored = dict(receiver.delivered)

    context = "\n".join(chaos_log) + "\n" + _log_tail(tmp_path)
    assert redis_restarted and clock_killed and len(chaos_log) >= 5, context
    pubs = {p.id: p for p in Publication.select()}
    assert set(pubs) == set(ids), "publications lost or invented"
    by_status = Counter(p.status for p in pubs.values())
    assert set(by_status) <= {states.PUBLISHED, states.UNKNOWN}, (by_status, context)
    unknown = [p for p in pubs.values() if p.status == states.UNKNOWN]
    assert all(p.error_code for p in unknown), "an unknown publication must say why"
    # No attempt reached the platform twice.
    per_attempt = Counter(deliveries)
    assert not [k for k, n in per_attempt.items() if n > 1], "an attempt was delivered twice"
    # Every published one is on the platform, under its own key.
    keys = {p.idempotency_key: p for p in pubs.values()}
    assert set(stored) <= set(keys)
    missing = [p.id for p in pubs.values() if p.status == states.PUBLISHED
               and p.idempotency_key not in stored]
    assert not missing, f"published but never delivered: {missing}"
    # A key delivered again belongs to a publication whose earlier attempt was cut off.
    per_key = Counter(key for key, _ in deliveries)
    for key, n in per_key.items():
        if n > 1:
            outcomes = [a.outcome for a in PublishAttempt.select()
                        .where(PublishAttempt.publication == keys[key].id)]
            assert "unknown" in outcomes, (keys[key].id, outcomes)
    why = Counter((p.error_code, tuple(a.outcome for a in PublishAttempt.select()
                                       .where(PublishAttempt.publication == p.id)))
                  for p in unknown)
    print(f"\nunknown, by error and attempt outcomes: {dict(why)}")
    print(f"\nchaos: {len(ids)} publications {dict(by_status)}; {len(deliveries)} deliveries, "
          f"{sum(n - 1 for n in per_key.values())} redeliveries dropped by the receiver\n{context}")


def _log_tail(tmp_path: Path) -> str:
    out = []
    for log in sorted(tmp_path.glob("*.log")):
        text = log.read_text(errors="replace")
        out.append(f"--- {log.name}\n{text[-1500:]}")
    return "\n".join(out)
