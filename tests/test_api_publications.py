"""/api/v1/publications: listing, detail, and every user action against every state."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schedulerx import states
from schedulerx.models import Event, Publication, PublishAttempt
from schedulerx.timeutil import utcnow

from .api_support import TickRecorder, account, assert_error, counts, testpub  # noqa: F401


def future(days=30) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)


@pytest.fixture
def schedule(api, account):
    """Schedule a new post on ``account``; return the publication as the API answers it."""
    def make(at=None, title="Hello"):
        post = api.post("/posts", json={"title": title, "body": "short"}).json
        r = api.post(f"/posts/{post['id']}/schedule", json={
            "account_ids": [account["id"]], "scheduled_at": (at or future()).isoformat()})
        assert r.status_code == 201, r.json
        return r.json[0]
    return make


def set_status(pub_id: int, status: str, **fields) -> None:
    Publication.update(status=status, **fields).where(Publication.id == pub_id).execute()


def test_list_paginates_and_filters(api, schedule, account, testpub):
    pubs = [schedule(at=future(days=d)) for d in (1, 2, 3, 10, 40)]
    r = api.get("/publications?page_size=2")
    assert r.status_code == 200
    assert r.json["total"] == 5 and r.json["pages"] == 3 and r.headers["X-Total-Count"] == "5"
    assert [p["id"] for p in r.json["items"]] == [pubs[0]["id"], pubs[1]["id"]]  # soonest first
    set_status(pubs[1]["id"], "paused")
    set_status(pubs[2]["id"], "failed")
    assert [p["id"] for p in api.get("/publications?status=paused").json["items"]] == [pubs[1]["id"]]
    assert api.get(f"/publications?post_id={pubs[3]['post_id']}").json["total"] == 1
    assert api.get(f"/publications?account_id={account['id']}").json["total"] == 5
    assert api.get("/publications?account_id=424242").json["total"] == 0
    # Upcoming: still to go out (not failed) within the next 14 days.
    upcoming = api.get("/publications?upcoming_days=14").json["items"]
    assert [p["id"] for p in upcoming] == [pubs[0]["id"], pubs[1]["id"], pubs[3]["id"]]


@pytest.mark.parametrize("query", ["status=bogus", "upcoming_days=-1", "upcoming_days=soon",
                                   "account_id=x", "post_id=1.5", "page_size=1000"])
def test_list_rejects_bad_query_args(api, query):
    assert_error(api.get(f"/publications?{query}"), 422)


def test_detail_has_policy_next_attempt_error_and_attempts(api, schedule):
    pub = schedule()
    now = utcnow()
    set_status(pub["id"], "retry_wait", attempts=1, next_attempt_at=now + timedelta(minutes=2),
               error_code="temporary", error_message="502 from the platform")
    PublishAttempt.create(publication=pub["id"], number=1, claim_token="c" * 32, started_at=now,
                          finished_at=now, outcome="retry", error_code="temporary",
                          error_message="502 from the platform", raw_response='{"status": 502}',
                          worker="host:1")
    r = api.get(f"/publications/{pub['id']}")
    assert r.status_code == 200
    d = r.json
    assert d["status"] == "retry_wait" and d["attempts"] == 1
    assert d["retry"] == {"strategy": "exponential", "base_delay": 60.0, "max_delay": 3600.0,
                          "max_attempts": 3}
    assert d["next_attempt_at"].endswith("+00:00")
    assert d["error"] == {"code": "temporary", "message": "502 from the platform"}
    assert d["published_at"] is None and d["remote_url"] is None
    [attempt] = d["attempt_log"]
    assert attempt["number"] == 1 and attempt["outcome"] == "retry"
    assert attempt["raw_response"] == '{"status": 502}'
    assert attempt["started_at"].endswith("+00:00")
    # The list shows the same publication without the attempt log.
    listed = api.get("/publications").json["items"][0]
    assert "attempt_log" not in listed and listed["error"] == d["error"]
    assert schedule()["error"] is None


def test_every_action_in_every_state(api, schedule):
    """Allowed (per states.ACTIONS) → 200 and the target state; otherwise 409, nothing changed."""
    pub = schedule()
    bodies = {"reschedule": {"scheduled_at": future(days=5).isoformat()},
              "mark-published": {"remote_url": "https://example.com/p/1"}}
    for action, (allowed, target) in states.ACTIONS.items():
        path = action.replace("_", "-")
        for status in states.ALL:
            set_status(pub["id"], status)
            before = counts(Event)
            r = api.post(f"/publications/{pub['id']}/{path}", json=bodies.get(path, {}))
            if status in allowed:
                assert r.status_code == 200, (action, status, r.json)
                assert r.json["status"] == target
            else:
                body = assert_error(r, 409, "conflict")
                assert body["errors"] == {"status": [status]}, (action, status)
                assert Publication.get_by_id(pub["id"]).status == status
                assert counts(Event) == before


def test_reschedule_reads_naive_times_in_the_workspace_zone(api, schedule):
    pub = schedule()
    year = datetime.now().year + 1
    r = api.post(f"/publications/{pub['id']}/reschedule", json={"scheduled_at": f"{year}-12-24T18:00"})
    assert r.status_code == 200, r.json
    assert r.json["scheduled_at"] == f"{year}-12-24T17:00:00+00:00"
    assert r.json["status"] == "scheduled"


@pytest.mark.parametrize("action,payload", [
    ("reschedule", {}),
    ("reschedule", {"scheduled_at": "2001-01-01T00:00:00Z"}),
    ("reschedule", {"scheduled_at": "not a time"}),
    ("reschedule", {"scheduled_at": 12}),
    ("cancel", {"scheduled_at": "2099-01-01T00:00"}),
    ("pause", {"remote_url": "https://example.com"}),
    ("cancel", {"unexpected": 1}),
])
def test_bad_action_bodies_are_422_and_change_nothing(api, schedule, action, payload):
    pub = schedule()
    before = counts(Event)
    assert_error(api.post(f"/publications/{pub['id']}/{action}", json=payload), 422)
    after = api.get(f"/publications/{pub['id']}").json
    assert after["status"] == "scheduled" and after["scheduled_at"] == pub["scheduled_at"]
    assert counts(Event) == before


def test_mark_published_keeps_the_url_and_validates_it(api, schedule):
    pub = schedule()
    set_status(pub["id"], "unknown")
    assert_error(api.post(f"/publications/{pub['id']}/mark-published",
                          json={"remote_url": "javascript:alert(1)"}), 422)
    r = api.post(f"/publications/{pub['id']}/mark-published",
                 json={"remote_url": "https://example.com/posts/9"})
    assert r.status_code == 200
    assert r.json["status"] == "published" and r.json["remote_url"] == "https://example.com/posts/9"
    assert r.json["published_at"].endswith("+00:00")


def test_actions_work_without_a_body(api, schedule):
    pub = schedule()
    assert api.post(f"/publications/{pub['id']}/pause").json["status"] == "paused"
    assert api.post(f"/publications/{pub['id']}/resume").json["status"] == "scheduled"


def test_force_makes_it_due_now_and_asks_for_a_tick(api, rt, schedule):
    recorder = TickRecorder()
    rt.pm.register(recorder, name="tick-recorder")
    pub = schedule()
    r = api.post(f"/publications/{pub['id']}/force")
    assert r.status_code == 200
    assert datetime.fromisoformat(r.json["scheduled_at"]) <= datetime.now(timezone.utc)
    assert recorder.calls == 1
    set_status(pub["id"], "queued")
    assert_error(api.post(f"/publications/{pub['id']}/force"), 409)
    assert recorder.calls == 1


def test_malformed_json_on_an_action_is_400(api, schedule):
    pub = schedule()
    assert_error(api.post(f"/publications/{pub['id']}/reschedule", data="{oops",
                          content_type="application/json"), 400)


def test_unknown_action_and_ids_are_404(api, schedule):
    pub = schedule()
    assert_error(api.post(f"/publications/{pub['id']}/explode"), 404)
    assert_error(api.post(f"/publications/{pub['id']}/mark_published"), 404)  # URLs use hyphens
    assert_error(api.get("/publications/424242"), 404, "not_found")
    assert_error(api.post("/publications/424242/cancel"), 404, "not_found")


def test_another_workspaces_publication_is_404(api, other_api, schedule):
    pub = schedule()
    assert_error(other_api.get(f"/publications/{pub['id']}"), 404)
    assert_error(other_api.post(f"/publications/{pub['id']}/cancel"), 404)
    assert other_api.get("/publications").json["total"] == 0
    assert api.get(f"/publications/{pub['id']}").json["status"] == "scheduled"


def test_viewers_cannot_act(api, client, owner, schedule):
    from schedulerx import auth

    from .conftest import Api
    user, _ = auth.create_user("viewer@example.com", "a long password", workspace=owner[1],
                               role="viewer")
    viewer = Api(client, auth.create_token(user, owner[1], "viewer")[1])
    pub = schedule()
    assert viewer.get(f"/publications/{pub['id']}").status_code == 200
    assert_error(viewer.post(f"/publications/{pub['id']}/cancel"), 403, "forbidden")
    assert api.get(f"/publications/{pub['id']}").json["status"] == "scheduled"
