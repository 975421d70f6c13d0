"""Issue 3's "done when", through the API alone: weekly slots on two accounts, ten posts
queued into the right slots in each account's zone, a weekly "Tutorial — Week {week}"
schedule previewed across a DST change, conflicts and suggestions in the calendar,
and a CSV of twenty posts imported."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

from schedulerx.models import Post

from .api_support import testpub  # noqa: F401
from .test_queue import expected_slots, local


def test_planner_story(api, testpub):
    ids = {}
    for name, tz, rules in (
            ("YouTube NY", "America/New_York", {"slots": [{"weekday": d, "time": "09:00"} for d in ("mon", "wed", "fri")],
                                                "min_gap_minutes": 120}),
            ("Shorts Tokyo", "Asia/Tokyo", {"slots": [{"weekday": d, "time": t} for d in ("tue", "thu")
                                                      for t in ("12:00", "18:00")], "max_per_day": 1})):
        acc = api.post("/accounts", json={"platform": "testpub", "display_name": name,
                                          "settings": {"feed_name": name}, "timezone": tz}).json
        r = api.put(f"/queue/accounts/{acc['id']}", json=rules)
        assert r.status_code == 200, r.json
        ids[name] = acc["id"]

    topics = ["list comprehensions", "decorators explained", "async await basics", "pytest fixtures",
              "dataclasses in depth", "type hints today", "context managers", "generators and yield",
              "packaging with pyproject", "profiling slow code"]
    placed = {name: [] for name in ids}
    for topic in topics:
        post = api.post("/posts", json={"title": topic.title(), "body": f"Today: {topic}."}).json
        r = api.post(f"/queue/posts/{post['id']}", json={"account_ids": list(ids.values())})
        assert r.status_code == 201, r.json
        for p in r.json:
            name = next(n for n, i_ in ids.items() if i_ == p["account_id"])
            placed[name].append(p["scheduled_at"])
    assert [local(t, "America/New_York") for t in placed["YouTube NY"]] == expected_slots(
        "America/New_York", [(0, "09:00"), (2, "09:00"), (4, "09:00")], 10)
    assert [local(t, "Asia/Tokyo") for t in placed["Shorts Tokyo"]] == expected_slots(
        "Asia/Tokyo", [(1, "12:00"), (3, "12:00")], 10)  # one a day: the 18:00 slots stay free

    sch = api.post("/schedules", json={
        "name": "Tutorials", "rule": {"kind": "weekly", "weekdays": ["mon"], "times": ["10:00"]},
        "timezone": "America/New_York", "topic_template": "Tutorial — Week {week}",
        "account_ids": [ids["YouTube NY"]]}).json
    preview = api.get(f"/schedules/{sch['id']}/preview",
                      query_string={"count": 3, "after": "2027-03-07T12:00:00-05:00"}).json
    assert [(p["local"], p["title"]) for p in preview] == [
        ("2027-03-08T10:00:00-05:00", "Tutorial — Week 10"),
        ("2027-03-15T10:00:00-04:00", "Tutorial — Week 11"),  # after the change to EDT
        ("2027-03-22T10:00:00-04:00", "Tutorial — Week 12")]

    # A post by hand an hour after the first queued one: a gap conflict in the calendar.
    first = datetime.fromisoformat(placed["YouTube NY"][0])
    extra = api.post("/posts", json={"title": "Extra", "body": "by hand"}).json
    api.post(f"/posts/{extra['id']}/schedule", json={"account_ids": [ids["YouTube NY"]],
                                                     "scheduled_at": (first + timedelta(hours=1)).isoformat()})
    conflicts = api.get("/calendar/conflicts", query_string={
        "start": (first - timedelta(days=1)).isoformat(), "end": (first + timedelta(days=14)).isoformat()}).json
    assert [c["kind"] for c in conflicts] == ["gap"]
    week = api.get("/calendar", query_string={"view": "week", "date": first.date().isoformat(),
                                              "account_id": ids["Shorts Tokyo"]}).json
    assert week["accounts"][0]["capacity"] >= 1
    suggestions = api.get("/calendar/suggestions", query_string={
        "start": first.isoformat(), "end": (first + timedelta(days=45)).isoformat(), "count": 5}).json
    assert suggestions and all(s["reasons"] for s in suggestions)
    taken = set(placed["Shorts Tokyo"]) | set(placed["YouTube NY"])
    assert not taken & {s["at"] for s in suggestions}

    rows = ["title,body,accounts,scheduled_at"] + [
        f"CSV {i},Body {i},YouTube NY;Shorts Tokyo," for i in range(20)]
    r = api.post("/batches/csv", data={"file": (io.BytesIO("\n".join(rows).encode()), "plan.csv")},
                 content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    assert r.json["created"] == 40 and Post.select().where(Post.title.startswith("CSV ")).count() == 20
