"""Every user action from every state: allowed ones move, the others answer 409."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from schedulerx import posts, publications, states
from schedulerx.errors import Conflict, ValidationError
from schedulerx.models import Account, Publication
from schedulerx.timeutil import from_storage, utcnow


@pytest.fixture
def make_pub(rt, owner):
    _, ws, _ = owner
    acc = Account.create(workspace=ws, platform="fake", display_name="a")
    post = posts.create(ws.id, title="t", body="b")

    def make(status):
        at = utcnow() + timedelta(hours=1)
        return Publication.create(workspace=ws, post=post, account=acc, status=status,
                                  scheduled_at=at, due_at=at, idempotency_key=uuid.uuid4().hex)
    return make


def test_concurrent_change_is_a_conflict(rt, make_pub):
    pub = make_pub("scheduled")
    stale = Publication.get_by_id(pub.id)
    publications.act(rt.pm, pub, "pause")
    with pytest.raises(Conflict):
        publications.act(rt.pm, stale, "cancel")  # it was paused meanwhile
    assert Publication.get_by_id(pub.id).status == "paused"


def test_force_makes_it_due_now_and_resume_restores_time(rt, make_pub):
    pub = publications.act(rt.pm, make_pub("scheduled"), "pause")
    assert pub.due_at is None
    pub = publications.act(rt.pm, pub, "resume")
    assert pub.due_at == pub.scheduled_at
    pub = publications.act(rt.pm, pub, "force")
    assert pub.due_at <= utcnow()


def test_reschedule_needs_a_future_time(rt, make_pub):
    pub = make_pub("scheduled")
    with pytest.raises(ValidationError):
        publications.act(rt.pm, pub, "reschedule", at=None)
    with pytest.raises(ValidationError):
        publications.act(rt.pm, pub, "reschedule", at=from_storage(utcnow() - timedelta(hours=1)))
    assert Publication.get_by_id(pub.id).scheduled_at == pub.scheduled_at


def test_retry_after_failure_gets_a_fresh_round(rt, make_pub):
    pub = make_pub("failed")
    Publication.update(attempts=3, max_attempts=3).where(Publication.id == pub.id).execute()
    pub = publications.act(rt.pm, Publication.get_by_id(pub.id), "retry")
    assert pub.status == "scheduled" and pub.max_attempts == 6 and pub.due_at <= utcnow()


def test_state_table_is_consistent():
    for source, targets in states.TRANSITIONS.items():
        assert source in states.ALL and targets <= set(states.ALL)
    for finished in (states.PUBLISHED, states.CANCELED):
        assert states.TRANSITIONS[finished] == frozenset()
    assert states.sources(states.UNKNOWN) == (states.PUBLISHING,)
