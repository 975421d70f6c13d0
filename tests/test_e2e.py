"""End to end through real brokers and real worker threads.

Embedded: SQLite + the in-process broker + Dramatiq worker threads + the clock thread.
Scaled: PostgreSQL + Redis + Dramatiq worker threads + the clock thread.
A post scheduled a few seconds ahead is published once, with one attempt.
"""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import dramatiq
import pytest

from schedulerx import accounts, posts, publications
from schedulerx.models import Heartbeat, Publication, PublishAttempt
from schedulerx.timeutil import from_storage, utcnow
from schedulerx_workers import broker as broker_mod
from schedulerx_workers.clock import Clock

from .conftest import make_config
from .fakes import SCRIPT, FakePlugin


def _wait_for(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture
def running(request, tmp_path, pm):
    """Start a broker, worker threads and a fast clock for the given runtime."""
    from schedulerx.runtime import bootstrap
    started = []

    def start(database_url, broker_url):
        config = make_config(tmp_path, database_url, broker_url=broker_url, tick_interval=0.2,
                             heartbeat_interval=0.5)
        rt = bootstrap(config, pm=pm)
        if broker_url.startswith("redis"):
            from dramatiq.brokers.redis import RedisBroker
            b = RedisBroker(url=broker_url, namespace=f"sx-test-{uuid.uuid4().hex[:8]}")
        else:
            b = broker_mod.make_broker(broker_url)
        broker_mod.reset()
        b = broker_mod.install(config, broker=b)
        worker = dramatiq.Worker(b, worker_threads=4, worker_timeout=100)
        worker.start()
        clock = Clock(config.tick_interval)
        thread = clock.start_thread()
        started.append((worker, clock, thread, b))
        return rt

    yield start
    for worker, clock, thread, b in started:
        clock.stop()
        thread.join(5)
        worker.stop()
        if hasattr(b, "flush_all"):
            b.flush_all()
        b.close()
    broker_mod.reset()


def _scenario(rt):
    SCRIPT.reset()
    rt.pm.register(FakePlugin(), name="fake-plugin")
    try:
        from schedulerx import auth
        user, ws = auth.create_user("e2e@example.com", "a long password", workspace_name="E2E")
        acc = accounts.create(rt.config, rt.pm, ws.id, platform="fake", display_name="feed")
        post = posts.create(ws.id, title="Hello", body="Scheduled from the e2e test")
        at = from_storage(utcnow() + timedelta(seconds=2))
        [pub] = publications.schedule(rt.config, rt.pm, ws.id, post, [acc.id], at, "UTC")
        assert Publication.get_by_id(pub.id).status == "scheduled"
        assert _wait_for(lambda: Publication.get_by_id(pub.id).status == "published"), \
            f"still {Publication.get_by_id(pub.id).status}"
        pub = Publication.get_by_id(pub.id)
        assert pub.published_at >= pub.scheduled_at
        assert PublishAttempt.select().where(PublishAttempt.publication == pub).count() == 1
        assert SCRIPT.posted[pub.idempotency_key] == 1
        # A few more ticks change nothing.
        time.sleep(1)
        assert SCRIPT.calls[pub.idempotency_key] == 1
        assert _wait_for(lambda: {h.kind for h in Heartbeat.select()} >= {"clock", "tick", "worker"})
    finally:
        rt.pm.unregister(name="fake-plugin")


def test_embedded_sqlite_in_process_broker(running, sqlite_url):
    _scenario(running(sqlite_url, "memory://"))


@pytest.fixture
def pg_schema(postgres_url):
    """An empty PostgreSQL schema, dropped after the workers using it have stopped."""
    from schedulerx import db

    from .conftest import _fresh_postgres
    url, schema = _fresh_postgres(postgres_url)
    yield url
    db.database.close()
    admin = db.make_database(postgres_url)
    admin.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.close()


@pytest.mark.postgres
@pytest.mark.redis
def test_scaled_postgres_redis(pg_schema, redis_url, running):
    _scenario(running(pg_schema, redis_url))


def test_shutdown_finishes_the_publication_in_hand(tmp_path, pm, sqlite_url):
    """SIGTERM's path in the embedded process: stop the clock, then wait for workers."""
    import threading

    from schedulerx import auth
    from schedulerx.runtime import bootstrap
    from schedulerx_workers.embedded import start

    config = make_config(tmp_path, sqlite_url, tick_interval=0.2)
    rt = bootstrap(config, pm=pm)
    SCRIPT.reset()
    rt.pm.register(FakePlugin(), name="fake-plugin")
    entered = threading.Event()

    def slow(ctx):
        entered.set()
        time.sleep(1.5)  # the platform is slow; shutdown arrives meanwhile

    SCRIPT.on_call = slow
    broker_mod.reset()
    stop = start(config)
    try:
        _, ws = auth.create_user("stop@example.com", "a long password")
        acc = accounts.create(rt.config, rt.pm, ws.id, platform="fake", display_name="a")
        post = posts.create(ws.id, body="in flight at shutdown")
        [pub] = publications.schedule(rt.config, rt.pm, ws.id, post, [acc.id],
                                      from_storage(utcnow()), "UTC")
        assert entered.wait(20), "the publish never started"
    finally:
        stop()
        broker_mod.reset()
        rt.pm.unregister(name="fake-plugin")
    assert Publication.get_by_id(pub.id).status == "published"
    assert SCRIPT.posted[pub.idempotency_key] == 1
