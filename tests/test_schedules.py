"""Recurring schedules through the API, occurrences made by the tick, misfire policies
with the clock moved forward, and the workspace's policy for missed one-off posts."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from schedulerx import engine, schedules, states
from schedulerx.models import Event, Occurrence, Post, Publication, Schedule
from schedulerx.timeutil import from_storage, to_storage, utcnow

from .api_support import assert_error, counts, testpub  # noqa: F401
from .test_queue import make_account, new_post


def weekly(api, account_ids, **over):
    body = {"name": "Tutorials", "rule": {"kind": "weekly", "weekdays": ["mon"], "times": ["09:00"]},
            "timezone": "America/New_York", "topic_template": "Tutorial — Week {week}",
            "post_template": {"body": "This week: {topic} ({date}, {weekday})", "tags": ["python"]},
            "account_ids": account_ids, **over}
    r = api.post("/schedules", json=body)
    assert r.status_code == 201, r.json
    return r.json


def test_create_normalises_and_previews_across_a_dst_change(api, testpub):
    a = make_account(api, "A")
    sch = weekly(api, [a["id"]], rule={"kind": "weekly", "weekdays": ["Monday"], "times": ["9:00"]})
    assert sch["rule"] == {"kind": "weekly", "weekdays": ["mon"], "times": ["09:00"], "every": 1}
    assert sch["next_run_at"] is not None and sch["enabled"] is True
    r = api.get(f"/schedules/{sch['id']}/preview",
                query_string={"count": 4, "after": "2027-03-01T00:00:00-05:00"})
    assert r.status_code == 200, r.json
    # US daylight saving starts on 2027-03-14: 09:00 local stays 09:00, UTC moves an hour.
    assert [p["local"] for p in r.json] == ["2027-03-01T09:00:00-05:00", "2027-03-08T09:00:00-05:00",
                                            "2027-03-15T09:00:00-04:00", "2027-03-22T09:00:00-04:00"]
    assert [p["at"] for p in r.json] == ["2027-03-01T14:00:00+00:00", "2027-03-08T14:00:00+00:00",
                                         "2027-03-15T13:00:00+00:00", "2027-03-22T13:00:00+00:00"]
    assert [p["title"] for p in r.json] == [f"Tutorial — Week {w}" for w in (9, 10, 11, 12)]
    assert r.json[0]["body"] == "This week: Tutorial — Week 9 (2027-03-01, Monday)"


def test_unsaved_preview_stores_nothing(api, testpub):
    a = make_account(api, "A")
    before = counts(Schedule)
    r = api.post("/schedules/preview", query_string={"count": 3, "after": "2027-01-01T00:00:00Z"}, json={
        "name": "x", "rule": {"kind": "cron", "expression": "0 12 1 * *"}, "timezone": "UTC",
        "topic_template": "{month} {year} ({month_num}/{day}) #{timestamp}", "account_ids": [a["id"]]})
    assert r.status_code == 200, r.json
    assert [p["topic"] for p in r.json] == ["January 2027 (1/1) #1798804800",
                                            "February 2027 (2/1) #1801483200",
                                            "March 2027 (3/1) #1803902400"]
    assert counts(Schedule) == before


@pytest.mark.parametrize("patch, field", [
    ({"rule": {"kind": "weekly", "weekdays": [], "times": ["09:00"]}}, "rule.weekdays"),
    ({"rule": {"kind": "cron", "expression": "every day"}}, "rule.expression"),
    ({"timezone": "Atlantis/Capital"}, "timezone"),
    ({"topic_template": "Week {wek}"}, "topic_template"),
    ({"topic_template": "{date.__class__}"}, "topic_template"),
    ({"post_template": {"title": "{0}"}}, "post_template.title"),
    ({"post_template": {"media": [424242]}}, "media"),
    ({"account_ids": [999]}, "account_ids"),
    ({"account_ids": []}, "account_ids"),
    ({"misfire_policy": "sometimes"}, "misfire_policy"),
    ({"max_lateness": -5}, "max_lateness"),
    ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "next week"}, "starts_at"),
    ({"name": ""}, "name"),
])
def test_bad_schedule_input_is_422_and_writes_nothing(api, testpub, patch, field):
    a = make_account(api, "A")
    sch = weekly(api, [a["id"]])
    before = counts(Schedule, Occurrence, Post)
    body = {"name": "Tutorials", "rule": {"kind": "daily", "times": ["09:00"]},
            "account_ids": [a["id"]], **patch}
    err = assert_error(api.post("/schedules", json=body), 422)
    assert any(field in k or field in str(v) for k, v in err["errors"].items()), err
    err = assert_error(api.patch(f"/schedules/{sch['id']}", json=patch), 422)
    assert counts(Schedule, Occurrence, Post) == before
    assert api.get(f"/schedules/{sch['id']}").json == sch


def test_pause_resume_patch_delete_and_isolation(api, other_api, testpub):
    a = make_account(api, "A")
    sch = weekly(api, [a["id"]])
    r = api.post(f"/schedules/{sch['id']}/pause")
    assert r.status_code == 200 and r.json["enabled"] is False and r.json["next_run_at"] is None
    r = api.post(f"/schedules/{sch['id']}/resume")
    assert r.json["enabled"] is True and r.json["next_run_at"] == sch["next_run_at"]
    r = api.patch(f"/schedules/{sch['id']}", json={"rule": {"kind": "daily", "times": ["06:15"]}})
    assert r.status_code == 200, r.json
    assert r.json["rule"]["kind"] == "daily"
    assert datetime.fromisoformat(r.json["next_run_at"]).astimezone(
        ZoneInfo("America/New_York")).strftime("%H:%M") == "06:15"
    assert_error(other_api.get(f"/schedules/{sch['id']}"), 404)
    assert_error(other_api.delete(f"/schedules/{sch['id']}"), 404)
    assert api.get("/schedules").json["total"] == 1
    assert api.delete(f"/schedules/{sch['id']}").status_code == 204
    assert_error(api.get(f"/schedules/{sch['id']}"), 404)


def _due_schedule(api, account_ids, **over):
    """A schedule whose next run the test moves the clock to."""
    over.setdefault("post_template", {"body": "{weekday}", "tags": ["python"]})
    sch = weekly(api, account_ids, rule={"kind": "daily", "times": ["09:00"]}, **over)
    return Schedule.get_by_id(sch["id"])


def test_tick_makes_each_occurrence_once_with_its_post_and_publications(api, config, testpub, rt):
    a, b = make_account(api, "A"), make_account(api, "B")
    sch = _due_schedule(api, [a["id"], b["id"]])
    when = sch.next_run_at
    result = engine.tick(config, now=when + timedelta(seconds=5), pm=rt.pm)
    assert len(result.occurrences) == 1
    occ = Occurrence.get_by_id(result.occurrences[0])
    assert occ.status == "created" and occ.occurs_at == when
    post = Post.get_by_id(occ.post_id)
    local = from_storage(when).astimezone(ZoneInfo("America/New_York"))
    assert post.title == f"Tutorial — Week {local.isocalendar()[1]}" and post.tags == ["python"]
    pubs = list(Publication.select().where(Publication.post == post))
    assert sorted(p.account_id for p in pubs) == sorted([a["id"], b["id"]])
    assert all(p.scheduled_at == when for p in pubs)
    # The same instant again, and the next tick: nothing new until the next day.
    assert engine.tick(config, now=when + timedelta(seconds=6), pm=rt.pm).occurrences == []
    sch = Schedule.get_by_id(sch.id)
    assert sch.next_run_at == when + timedelta(days=1) or sch.next_run_at > when
    assert api.get(f"/schedules/{sch.id}/occurrences").json["items"][0]["post_id"] == post.id


def test_concurrent_ticks_make_an_occurrence_once(api, config, testpub, rt, database_url):
    a = make_account(api, "A")
    sch = _due_schedule(api, [a["id"]])
    now = sch.next_run_at + timedelta(seconds=5)
    barrier, made, errors = threading.Barrier(4), [], []

    def run():
        try:
            barrier.wait()
            made.extend(schedules.materialize(config, rt.pm, now))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            from schedulerx.db import database
            database.close()
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(made) == 1
    assert Occurrence.select().count() == 1 and Publication.select().count() == 1


@pytest.mark.parametrize("policy, expect", [("skip", 0), ("latest", 1), ("all", 3)])
def test_misfire_policies_after_downtime(api, config, testpub, rt, policy, expect):
    a = make_account(api, "A", min_gap_minutes=30)
    sch = _due_schedule(api, [a["id"]], misfire_policy=policy, max_lateness=4 * 86400)
    first = sch.next_run_at
    # The scheduler was down for three days and some hours: occurrences on days 0, 1, 2
    # are late, the one on day 3 is still to come.
    now = first + timedelta(days=2, hours=5)
    result = engine.tick(config, now=now, pm=rt.pm)
    assert len(result.occurrences) == expect
    pubs = sorted(Publication.select(), key=lambda p: p.scheduled_at)
    assert len(pubs) == expect
    # Late runs are spaced by the account's gap (at least 5 min): never a flood at once.
    gaps = [(b.scheduled_at - a_.scheduled_at) for a_, b in zip(pubs, pubs[1:])]
    assert all(g >= timedelta(minutes=30) for g in gaps)
    if policy == "latest":
        assert Occurrence.get().occurs_at == first + timedelta(days=2)
    assert Event.select().where(Event.message.contains("missed while the scheduler was down")).exists()
    assert Schedule.get_by_id(sch.id).next_run_at == first + timedelta(days=3)


def test_missed_runs_older_than_max_lateness_never_run(api, config, testpub, rt):
    a = make_account(api, "A")
    sch = _due_schedule(api, [a["id"]], misfire_policy="all", max_lateness=3600)
    now = sch.next_run_at + timedelta(days=5, hours=2)  # the latest run is 2 h late
    result = engine.tick(config, now=now, pm=rt.pm)
    assert result.occurrences == [] and Publication.select().count() == 0


def test_an_occurrence_that_cannot_be_scheduled_is_recorded_as_failed(api, config, testpub, rt):
    a = make_account(api, "A")
    # testpub allows 40 characters; the title template is longer once rendered.
    sch = _due_schedule(api, [a["id"]], post_template={"title": "x", "body": "{topic} " * 10})
    result = engine.tick(config, now=sch.next_run_at + timedelta(seconds=1), pm=rt.pm)
    occ = Occurrence.get_by_id(result.occurrences[0])
    assert occ.status == "failed" and "does not fit" in occ.error
    assert Publication.select().count() == 0 and occ.post_id is not None
    assert Event.select().where(Event.level == "error").exists()


def test_one_off_posts_missed_by_more_than_the_lateness_wait_for_the_user(api, config, testpub, rt):
    a = make_account(api, "A")
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    pub = api.post(f"/posts/{new_post(api)['id']}/schedule", json={
        "account_ids": [a["id"]], "scheduled_at": at.isoformat()}).json[0]
    # Default policy: mark missed after an hour late.
    assert api.get("/workspace").json["misfire"] == {"policy": "mark_missed", "max_lateness": 3600}
    result = engine.tick(config, now=to_storage(at) + timedelta(minutes=30), pm=rt.pm)
    assert [p for p, _ in result.claimed] == [pub["id"]]  # 30 min late: still published
    Publication.update(status=states.SCHEDULED, due_at=to_storage(at), claim_token=None).execute()
    result = engine.tick(config, now=to_storage(at) + timedelta(hours=2), pm=rt.pm)
    assert result.missed == [pub["id"]] and result.claimed == []
    got = api.get(f"/publications/{pub['id']}").json
    assert got["status"] == "missed" and got["error"]["code"] == "missed"
    assert Event.select().where(Event.message.startswith("missed:")).exists()
    # The user decides: publish it now.
    r = api.post(f"/publications/{pub['id']}/force")
    assert r.status_code == 200 and r.json["status"] == "scheduled"


def test_publish_late_policy_publishes_however_late(api, config, testpub, rt):
    a = make_account(api, "A")
    r = api.patch("/workspace", json={"misfire": {"policy": "publish_late"}})
    assert r.status_code == 200 and r.json["misfire"]["policy"] == "publish_late"
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    pub = api.post(f"/posts/{new_post(api)['id']}/schedule", json={
        "account_ids": [a["id"]], "scheduled_at": at.isoformat()}).json[0]
    result = engine.tick(config, now=to_storage(at) + timedelta(days=1), pm=rt.pm)
    assert result.missed == [] and [p for p, _ in result.claimed] == [pub["id"]]


@pytest.mark.parametrize("body", [
    {"misfire": {"policy": "whenever"}}, {"misfire": {"max_lateness": 5}},
    {"timezone": "Moon/Base"}, {"name": ""},
])
def test_bad_workspace_settings_are_422(api, body):
    before = api.get("/workspace").json
    assert_error(api.patch("/workspace", json=body), 422)
    assert api.get("/workspace").json == before


def test_ai_written_occurrence_with_the_offline_provider(api, config, testpub, rt):
    a = make_account(api, "A")
    sch = _due_schedule(api, [a["id"]], topic_template="Python decorators explained",
                        post_template={"ai": {"enabled": True}})
    assert api.get(f"/schedules/{sch.id}").json["post_template"]["ai"]["enabled"] is True
    result = engine.tick(config, now=sch.next_run_at + timedelta(seconds=1), pm=rt.pm)
    occ = Occurrence.get_by_id(result.occurrences[0])
    assert occ.status == "created", occ.error
    post = Post.get_by_id(occ.post_id)
    # The offline provider writes the title from the topic and hashtags by keyword extraction.
    assert post.title == "Python Decorators Explained"
    assert "python" in {t.lower() for t in post.tags}
    assert post.ai_metadata.get("provider") == "offline"
    pub = Publication.get(Publication.post == post)
    assert pub.scheduled_at == sch.next_run_at  # due at the occurrence time


def test_ai_occurrence_fails_visibly_when_the_provider_fails(api, config, testpub, rt):
    from .ai_fakes import FakeOpenAI
    a = make_account(api, "A")
    with FakeOpenAI() as server:  # wants an API key that is not configured: 401
        api.put("/ai/providers/openai", json={"settings": {"base_url": server.url, "model": "gpt-test",
                                                           "max_retries": 0}})
        assert api.patch("/ai/settings", json={"default_provider": "openai"}).status_code == 200
        sch = _due_schedule(api, [a["id"]], post_template={"ai": {"enabled": True}})
        result = engine.tick(config, now=sch.next_run_at + timedelta(seconds=1), pm=rt.pm)
    occ = Occurrence.get_by_id(result.occurrences[0])
    assert occ.status == "failed" and "AI generation failed" in occ.error
    assert occ.post_id is None and Publication.select().count() == 0
    assert Event.select().where(Event.level == "error", Event.message.contains("AI generation")).exists()


def test_ai_options_are_checked_when_saving(api, testpub):
    a = make_account(api, "A")
    for ai, field in (({"enabled": True, "template_id": 999}, "post_template.ai.template_id"),
                      ({"enabled": True, "persona_id": 999}, "post_template.ai.persona_id")):
        err = assert_error(api.post("/schedules", json={
            "name": "x", "rule": {"kind": "daily", "times": ["09:00"]}, "account_ids": [a["id"]],
            "post_template": {"ai": ai}}), 422)
        assert field in err["errors"], err


def test_an_interrupted_generation_fails_after_its_lease(api, config, testpub, rt):
    a = make_account(api, "A")
    sch = _due_schedule(api, [a["id"]])
    occ = Occurrence.create(schedule=sch, occurs_at=sch.next_run_at, status="generating",
                            created_at=utcnow() - timedelta(minutes=20))
    schedules.materialize(config, rt.pm, utcnow())
    occ = Occurrence.get_by_id(occ.id)
    assert occ.status == "failed" and "interrupted" in occ.error
