"""The execution engine on SQLite and PostgreSQL: claims, publish, retries, leases, reconcile."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from schedulerx import accounts, engine, posts, publications, states
from schedulerx.models import Account, Event, Publication, PublishAttempt
from schedulerx.timeutil import from_storage, utcnow

from .fakes import SCRIPT, FakePlugin


@pytest.fixture(autouse=True)
def fake(rt):
    SCRIPT.reset()
    rt.pm.register(FakePlugin(), name="fake-plugin")
    yield SCRIPT
    rt.pm.unregister(name="fake-plugin")


def _schedule(rt, owner, *, platform="fake", body="hello", delay=0.0, n_accounts=1, retry=None):
    _, ws, _ = owner
    accs = [accounts.create(rt.config, rt.pm, ws.id, platform=platform, display_name=f"acc{i}",
                            settings={"token": "s3cret"}) for i in range(n_accounts)]
    post = posts.create(ws.id, title="t", body=body)
    at = from_storage(utcnow() + timedelta(seconds=delay))
    return publications.schedule(rt.config, rt.pm, ws.id, post, [a.id for a in accs], at,
                                 ws.timezone, retry=retry)


def _later(seconds=1):
    return utcnow() + timedelta(seconds=seconds)


def _run_due(rt, now=None):
    """One tick, then every claimed message, as the workers would."""
    result = engine.tick(rt.config, now=now or _later())
    return [engine.publish(rt.pm, rt.config, pid, claim) for pid, claim in result.claimed]


def test_due_publication_is_published_once_with_one_attempt(rt, owner):
    [pub] = _schedule(rt, owner)
    assert _run_due(rt) == [states.PUBLISHED]
    pub = Publication.get_by_id(pub.id)
    assert pub.status == "published" and pub.remote_id == f"fake-{pub.id}"
    assert pub.published_at is not None and pub.lease_until is None
    assert SCRIPT.posted[pub.idempotency_key] == 1
    [attempt] = PublishAttempt.select().where(PublishAttempt.publication == pub)
    assert attempt.outcome == "published" and attempt.finished_at is not None
    # Nothing more to do on the next ticks.
    assert _run_due(rt, now=_later(3600)) == []


def test_future_publication_is_not_claimed(rt, owner):
    _schedule(rt, owner, delay=3600)
    assert engine.claim_due(rt.config) == []
    assert len(engine.claim_due(rt.config, now=_later(3601))) == 1


def test_stale_claim_is_dropped(rt, owner):
    [pub] = _schedule(rt, owner)
    [(pid, claim)] = engine.claim_due(rt.config, now=_later())
    assert engine.publish(rt.pm, rt.config, pid, "not-the-claim") is None
    assert engine.publish(rt.pm, rt.config, pid, claim) == states.PUBLISHED
    # The same message delivered twice (at-least-once broker) does nothing the second time.
    assert engine.publish(rt.pm, rt.config, pid, claim) is None
    assert SCRIPT.calls[pub.idempotency_key] == 1


def test_lost_queue_message_is_claimed_again_under_a_new_token(rt, owner):
    [pub] = _schedule(rt, owner)
    [(pid, first)] = engine.claim_due(rt.config, now=_later())
    # The message never arrives; once the queue lease is over the tick claims it again.
    assert engine.claim_due(rt.config, now=_later(10)) == []
    [(pid2, second)] = engine.claim_due(rt.config, now=_later(rt.config.queue_lease + 5))
    assert pid2 == pid and second != first
    assert engine.publish(rt.pm, rt.config, pid, first) is None  # the old message, late
    assert engine.publish(rt.pm, rt.config, pid, second) == states.PUBLISHED
    assert SCRIPT.posted[pub.idempotency_key] == 1


def test_two_racing_ticks_claim_each_publication_exactly_once(rt, owner, database_url):
    pubs = _schedule(rt, owner, n_accounts=30)
    now = _later()
    claimed: list = []
    barrier = threading.Barrier(4)
    lock = threading.Lock()

    def race():
        barrier.wait()
        got = []
        for _ in range(5):
            got += engine.claim_due(rt.config, now=now, limit=7)
        with lock:
            claimed.extend(got)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [pid for pid, _ in claimed]
    assert sorted(ids) == sorted(p.id for p in pubs)  # all claimed, none twice


def test_temporary_error_waits_then_retries_by_policy(rt, owner):
    SCRIPT.outcomes = ["temporary"]
    [pub] = _schedule(rt, owner, retry={"strategy": "fixed", "base_delay": 30, "max_delay": 30,
                                        "max_attempts": 3})
    assert _run_due(rt) == [states.RETRY_WAIT]
    pub = Publication.get_by_id(pub.id)
    assert pub.error_code == "temporary" and "503" in pub.error_message
    wait = (pub.next_attempt_at - utcnow()).total_seconds()
    assert 25 < wait <= 31
    assert _run_due(rt, now=_later(5)) == []  # not yet
    assert _run_due(rt, now=_later(40)) == [states.PUBLISHED]
    assert Publication.get_by_id(pub.id).attempts == 2
    assert SCRIPT.posted[pub.idempotency_key] == 1


def test_rate_limit_honours_retry_after(rt, owner):
    SCRIPT.outcomes = ["rate"]
    [pub] = _schedule(rt, owner, retry={"strategy": "fixed", "base_delay": 1, "max_delay": 1})
    assert _run_due(rt) == [states.RETRY_WAIT]
    wait = (Publication.get_by_id(pub.id).next_attempt_at - utcnow()).total_seconds()
    assert wait > 100  # Retry-After 120 beats the 1 s policy


def test_attempts_exhausted_fail(rt, owner):
    SCRIPT.outcomes = ["temporary"] * 5
    [pub] = _schedule(rt, owner, retry={"strategy": "linear", "base_delay": 1, "max_delay": 10,
                                        "max_attempts": 2})
    assert _run_due(rt) == [states.RETRY_WAIT]
    assert _run_due(rt, now=_later(60)) == [states.FAILED]
    pub = Publication.get_by_id(pub.id)
    assert pub.attempts == 2 and pub.status == "failed"
    assert [a.outcome for a in PublishAttempt.select().where(PublishAttempt.publication == pub)
            .order_by(PublishAttempt.number)] == ["retry", "failed"]


def test_strategy_none_fails_at_once(rt, owner):
    SCRIPT.outcomes = ["temporary"]
    _schedule(rt, owner, retry={"strategy": "none"})
    assert _run_due(rt) == [states.FAILED]


def test_permanent_error_fails_with_platform_message(rt, owner):
    SCRIPT.outcomes = ["permanent"]
    [pub] = _schedule(rt, owner)
    assert _run_due(rt) == [states.FAILED]
    pub = Publication.get_by_id(pub.id)
    assert pub.error_message == "text rejected: duplicate status" and "422" in pub.error_raw


def test_auth_error_marks_account_for_reconnect(rt, owner):
    SCRIPT.outcomes = ["auth"]
    [pub] = _schedule(rt, owner)
    assert _run_due(rt) == [states.FAILED]
    acc = Account.get_by_id(pub.account_id)
    assert acc.health == "needs_reconnect" and "refresh failed" in acc.health_message


def test_unknown_outcome_reconciled_as_published_when_found(rt, owner):
    SCRIPT.outcomes = ["crash_after_post"]
    [pub] = _schedule(rt, owner)
    assert _run_due(rt) == [states.PUBLISHED]  # reconcile found it: no second post
    assert SCRIPT.posted[pub.idempotency_key] == 1 and SCRIPT.calls[pub.idempotency_key] == 1


def test_unknown_outcome_retried_when_platform_shows_nothing(rt, owner):
    SCRIPT.outcomes = ["crash_before_post"]
    [pub] = _schedule(rt, owner, retry={"strategy": "fixed", "base_delay": 1, "max_delay": 1})
    assert _run_due(rt) == [states.RETRY_WAIT]
    assert _run_due(rt, now=_later(5)) == [states.PUBLISHED]
    assert SCRIPT.posted[pub.idempotency_key] == 1


def test_unknown_outcome_waits_for_user_when_platform_cannot_tell(rt, owner):
    SCRIPT.outcomes = ["crash_after_post"]
    SCRIPT.reconcile_answer = "none"
    [pub] = _schedule(rt, owner)
    assert _run_due(rt) == [states.UNKNOWN]
    assert _run_due(rt, now=_later(86400)) == []  # never retried blindly
    assert Event.select().where(Event.subject_id == pub.id,
                                Event.message.contains("cannot be asked")).exists()
    pub = publications.act(rt.pm, Publication.get_by_id(pub.id), "mark_published",
                           remote_url="https://fake.example/x")
    assert pub.status == "published" and pub.remote_url == "https://fake.example/x"
    assert SCRIPT.posted[pub.idempotency_key] == 1


def test_idempotent_platform_is_retried_after_unknown(rt, owner):
    SCRIPT.outcomes = ["crash_after_post"]
    [pub] = _schedule(rt, owner, platform="fake-idem",
                      retry={"strategy": "fixed", "base_delay": 1, "max_delay": 1})
    assert _run_due(rt) == [states.RETRY_WAIT]
    assert _run_due(rt, now=_later(5)) == [states.PUBLISHED]
    # The same key on every try: the platform keeps one post.
    assert SCRIPT.calls[pub.idempotency_key] == 2


def test_worker_killed_mid_publish_is_reaped_to_unknown_and_reconciled(rt, owner):
    [pub] = _schedule(rt, owner)
    [(pid, claim)] = engine.claim_due(rt.config, now=_later())
    started = engine.start(rt.config, pid, claim)  # the worker took it, posted, then died
    assert started is not None
    SCRIPT.posted[pub.idempotency_key] += 1
    assert Publication.get_by_id(pid).status == "publishing"
    result = engine.tick(rt.config, now=_later(rt.config.publish_lease + 5))
    assert result.expired == [pid] and result.claimed == []
    assert Publication.get_by_id(pid).status == "unknown"
    assert PublishAttempt.get(PublishAttempt.publication == pid).outcome == "unknown"
    assert engine.reconcile(rt.pm, rt.config, pid) == states.PUBLISHED
    assert SCRIPT.calls[pub.idempotency_key] == 0  # settled by lookup, never re-posted


def test_a_lost_reconcile_message_is_sent_again_by_a_later_tick(rt, owner):
    """The tick that reaped the row sent a reconcile that never ran (broker restart,
    worker killed): once the queue lease has passed, a tick sends it again."""
    [pub] = _schedule(rt, owner, platform="fake-idem")
    [(pid, claim)] = engine.claim_due(rt.config, now=_later())
    assert engine.start(rt.config, pid, claim) is not None  # then the worker died
    reaped_at = rt.config.publish_lease + 5
    assert engine.tick(rt.config, now=_later(reaped_at)).expired == [pid]
    # Its reconcile message is lost. Until the queue lease passes, nothing is resent...
    soon = engine.tick(rt.config, now=_later(reaped_at + 1))
    assert soon.to_reconcile == [] and soon.claimed == []
    # ...then it is, once per lease, however many ticks run.
    later = _later(reaped_at + rt.config.queue_lease + 1)
    assert engine.tick(rt.config, now=later).unreconciled == [pid]
    assert engine.tick(rt.config, now=later).unreconciled == []
    # The idempotent platform makes a retry safe.
    assert engine.reconcile(rt.pm, rt.config, pid) == states.RETRY_WAIT
    assert Publication.get_by_id(pid).idempotency_key == pub.idempotency_key


def test_unknown_waiting_for_the_user_is_not_reconciled_again(rt, owner):
    SCRIPT.outcomes = ["crash_after_post"]
    SCRIPT.reconcile_answer = "none"  # the platform cannot be asked, and does not deduplicate
    [pub] = _schedule(rt, owner)
    assert _run_due(rt) == [states.UNKNOWN]
    assert Publication.get_by_id(pub.id).due_at is None
    assert engine.tick(rt.config, now=_later(rt.config.queue_lease * 10)).to_reconcile == []


def test_reconcile_error_leaves_unknown(rt, owner):
    SCRIPT.outcomes = ["crash_after_post"]
    SCRIPT.reconcile_answer = "raise"
    _schedule(rt, owner)
    assert _run_due(rt) == [states.UNKNOWN]


def test_heartbeat_recorded_by_tick(rt, owner):
    from schedulerx.models import Heartbeat
    engine.tick(rt.config)
    engine.tick(rt.config)
    assert Heartbeat.select().where(Heartbeat.kind == "tick").count() == 1


def test_hook_failure_does_not_undo_publish(rt, owner):
    from schedulerx import hookimpl

    class Broken:
        @hookimpl
        def publication_status_changed(self, publication, old_status, new_status):
            raise RuntimeError("plugin bug")

    rt.pm.register(Broken(), name="broken")
    try:
        [pub] = _schedule(rt, owner)
        assert _run_due(rt) == [states.PUBLISHED]
        assert Publication.get_by_id(pub.id).status == "published"
    finally:
        rt.pm.unregister(name="broken")


def test_account_needing_reconnect_fails_due_posts_with_a_reason(rt, owner):
    [pub] = _schedule(rt, owner)
    Account.update(health="needs_reconnect").where(Account.id == pub.account_id).execute()
    assert _run_due(rt) == [states.FAILED]
    pub = Publication.get_by_id(pub.id)
    assert pub.error_code == "needs_reconnect" and "reconnect" in pub.error_message
    assert SCRIPT.calls[pub.idempotency_key] == 0
