"""Every user action from every state: allowed ones move, the others answer 409.

The state table is database-independent, so this matrix runs on SQLite only;
the compare-and-set itself is tested on both databases in test_states.py.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from schedulerx import publications, states
from schedulerx.errors import Conflict
from schedulerx.models import Event, Publication
from schedulerx.timeutil import from_storage, utcnow

from .test_states import make_pub  # noqa: F401  (fixture)


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


CASES = [(action, source) for action in states.ACTIONS for source in states.ALL]


@pytest.mark.parametrize("action,source", CASES)
def test_action_from_every_state(rt, make_pub, action, source):
    pub = make_pub(source)
    allowed, target = states.ACTIONS[action]
    at = from_storage(utcnow() + timedelta(hours=2))
    if source in allowed:
        after = publications.act(rt.pm, pub, action, at=at)
        assert after.status == target
        assert Event.select().where(Event.subject_id == pub.id, Event.source == "user").exists()
    else:
        with pytest.raises(Conflict):
            publications.act(rt.pm, pub, action, at=at)
        assert Publication.get_by_id(pub.id).status == source  # untouched


