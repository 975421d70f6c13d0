"""Calendar API: views with free slots and utilisation, conflicts, suggestions, gaps and
reservations."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedulerx.models import Publication, Reservation

from .api_support import assert_error, counts, testpub  # noqa: F401
from .test_queue import make_account, new_post

BERLIN = ZoneInfo("Europe/Berlin")


def next_monday() -> date:
    today = datetime.now(BERLIN).date()
    return today + timedelta(days=7 - today.weekday())


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), BERLIN)


def schedule(api, account_id, when: datetime, title="A post", body="short") -> dict:
    post = api.post("/posts", json={"title": title, "body": body}).json
    r = api.post(f"/posts/{post['id']}/schedule", json={"account_ids": [account_id],
                                                        "scheduled_at": when.isoformat()})
    assert r.status_code == 201, r.json
    return r.json[0]


def test_week_view_has_entries_free_slots_and_utilisation(api, testpub):
    monday = next_monday()
    a = make_account(api, "A", max_per_day=1,
                     slots=[{"weekday": d, "time": t} for d in range(5) for t in ("09:00", "15:00")])
    b = make_account(api, "B", slots=[{"weekday": 0, "time": "12:00"}])
    p1 = schedule(api, a["id"], at(monday, "09:00"))
    schedule(api, a["id"], at(monday + timedelta(days=2), "11:00"))
    r = api.get("/calendar", query_string={"view": "week", "date": (monday + timedelta(days=3)).isoformat()})
    assert r.status_code == 200, r.json
    v = r.json
    assert v["timezone"] == "Europe/Berlin" and len(v["days"]) == 7
    assert v["days"][0]["date"] == monday.isoformat()
    mon = v["days"][0]
    assert [e["id"] for e in mon["entries"]] == [p1["id"]]
    # Monday: A's slots are full for the day (max 1), B's 12:00 is free.
    assert [(s["account_id"], datetime.fromisoformat(s["at"])) for s in mon["free_slots"]] == [
        (b["id"], at(monday, "12:00"))]
    # Capacity: A has 2 slots a day capped at 1, B one slot on Monday.
    assert mon["capacity"] == 2 and mon["planned"] == 1 and mon["utilisation"] == 0.5
    tuesday = v["days"][1]
    assert {datetime.fromisoformat(s["at"]).astimezone(BERLIN).strftime("%H:%M")
            for s in tuesday["free_slots"]} == {"09:00", "15:00"}
    usage = {u["account_id"]: u for u in v["accounts"]}
    assert usage[a["id"]]["capacity"] == 5 and usage[a["id"]]["used"] == 2
    assert usage[a["id"]]["utilisation"] == 0.4
    assert usage[b["id"]]["capacity"] == 1 and usage[b["id"]]["used"] == 0


def test_day_and_month_views_and_one_account_in_its_zone(api, testpub):
    a = make_account(api, "A", timezone="Asia/Tokyo", slots=[{"weekday": d, "time": "08:00"} for d in range(7)])
    monday = next_monday()
    r = api.get("/calendar", query_string={"view": "day", "date": monday.isoformat(), "account_id": a["id"]})
    assert r.status_code == 200 and r.json["timezone"] == "Asia/Tokyo" and len(r.json["days"]) == 1
    assert r.json["days"][0]["capacity"] == 1
    r = api.get("/calendar", query_string={"view": "month", "date": "2030-02-10"})
    assert [d["date"] for d in r.json["days"]][::27] == ["2030-02-01", "2030-02-28"]


def test_conflicts_gap_daily_max_blackout_and_duplicates(api, testpub):
    monday = next_monday()
    a = make_account(api, "A", min_gap_minutes=60, max_per_day=2,
                     blackout_dates=[(monday + timedelta(days=1)).isoformat()])
    b = make_account(api, "B")
    p1 = schedule(api, a["id"], at(monday, "09:00"), title="Python tips", body="Five list tricks")
    p2 = schedule(api, a["id"], at(monday, "09:30"), title="Other", body="Something else entirely")
    schedule(api, a["id"], at(monday, "18:00"), title="Third", body="Third post of the day")
    schedule(api, a["id"], at(monday + timedelta(days=1), "10:00"), title="On a blackout", body="x y z")
    dup = schedule(api, a["id"], at(monday + timedelta(days=3), "10:00"), title="Python tips!",
                   body="Five list tricks")
    # The same text on another account is not a conflict.
    schedule(api, b["id"], at(monday + timedelta(days=3), "10:00"), title="Python tips", body="Five list tricks")
    r = api.get("/calendar/conflicts", query_string={
        "start": at(monday, "00:00").isoformat(), "end": at(monday + timedelta(days=7), "00:00").isoformat()})
    assert r.status_code == 200, r.json
    kinds = sorted(c["kind"] for c in r.json)
    assert kinds == ["blackout", "daily_max", "duplicate", "gap"], r.json
    by_kind = {c["kind"]: c for c in r.json}
    assert [i["publication_id"] for i in by_kind["gap"]["items"]] == [p1["id"], p2["id"]]
    assert len(by_kind["daily_max"]["items"]) == 3
    assert {i["publication_id"] for i in by_kind["duplicate"]["items"]} == {p1["id"], dup["id"]}
    assert by_kind["duplicate"]["similarity"] >= 0.85
    assert all(c["account_id"] == a["id"] for c in r.json)
    # A shorter duplicate window no longer sees posts three days apart.
    r = api.get("/calendar/conflicts", query_string={
        "start": at(monday, "00:00").isoformat(), "end": at(monday + timedelta(days=7), "00:00").isoformat(),
        "duplicate_days": 2})
    assert "duplicate" not in {c["kind"] for c in r.json}


def test_suggestions_rank_platform_best_times_and_preferred_hours(api, testpub):
    monday = next_monday()
    # testpub's best time is Monday 09:00.
    a = make_account(api, "A", slots=[{"weekday": d, "time": t} for d in range(7) for t in ("09:00", "20:00")])
    schedule(api, a["id"], at(monday + timedelta(days=1), "09:00"))
    start, end = at(monday, "00:00"), at(monday + timedelta(days=7), "00:00")
    r = api.get("/calendar/suggestions", query_string={"start": start.isoformat(), "end": end.isoformat(),
                                                       "count": 3})
    assert r.status_code == 200, r.json
    top = r.json[0]
    assert datetime.fromisoformat(top["at"]) == at(monday, "09:00")
    assert "a best time for the platform" in top["reasons"]
    r = api.get("/calendar/suggestions", query_string={
        "start": start.isoformat(), "end": end.isoformat(), "count": 20, "preferred_hours": "20"})
    assert len(r.json) == 13  # 14 slots, one taken
    ranked = [datetime.fromisoformat(s["at"]).astimezone(BERLIN) for s in r.json]
    # Monday 09:00 (best time) and the 20:00 slots (preferred) come before other 09:00s;
    # Tuesday 20:00 ranks last of the evenings because Tuesday already has a post.
    assert ranked[0] == at(monday, "09:00") or ranked[0].hour == 20
    evenings = [t for t in ranked if t.hour == 20]
    assert evenings[-1].date() == monday + timedelta(days=1)
    assert all(t.hour == 9 for t in ranked[8:])
    r = api.get("/calendar/suggestions", query_string={"platforms": "nope"})
    assert r.status_code == 200 and r.json == []


def test_gaps_list_days_with_nothing_planned(api, testpub):
    monday = next_monday()
    a = make_account(api, "A", slots=[{"weekday": d, "time": "09:00"} for d in range(7)])
    b = make_account(api, "B", slots=[{"weekday": d, "time": "09:00"} for d in range(7)])
    schedule(api, a["id"], at(monday, "09:00"))
    schedule(api, b["id"], at(monday + timedelta(days=1), "09:00"))
    r = api.get("/calendar/gaps", query_string={"start": monday.isoformat(),
                                                "end": (monday + timedelta(days=2)).isoformat()})
    assert r.status_code == 200, r.json
    assert r.json["days_with_nothing_planned"] == [(monday + timedelta(days=2)).isoformat()]
    per = {x["account_id"]: x for x in r.json["accounts"]}
    assert per[a["id"]]["empty_days"] == [(monday + timedelta(days=d)).isoformat() for d in (1, 2)]
    assert per[a["id"]]["free_slots"] == 2


def test_reserve_a_slot_then_fill_it(api, testpub):
    monday = next_monday()
    a = make_account(api, "A", min_gap_minutes=60, slots=[{"weekday": 0, "time": "09:00"}])
    when = at(monday, "09:00")
    r = api.post("/calendar/reservations", json={"account_id": a["id"], "at": when.isoformat(),
                                                 "topic": "Launch teaser"})
    assert r.status_code == 201, r.json
    res = r.json
    # The slot is taken now: the queue moves on, and a second reservation is refused.
    nxt = api.get(f"/queue/accounts/{a['id']}/next-slot", query_string={"after": (when - timedelta(minutes=1)).isoformat()})
    assert datetime.fromisoformat(nxt.json["at"]) == when + timedelta(days=7)
    err = assert_error(api.post("/calendar/reservations", json={
        "account_id": a["id"], "at": (when + timedelta(minutes=10)).isoformat(), "topic": "x"}), 409)
    assert err["errors"]["conflicts"][0]["kind"] == "gap"
    week = api.get("/calendar", query_string={"date": monday.isoformat()}).json
    assert week["days"][0]["entries"][0]["type"] == "reservation"
    post = new_post(api, "Launch teaser")
    r = api.post(f"/calendar/reservations/{res['id']}/fill", json={"post_id": post["id"]})
    assert r.status_code == 201, r.json
    assert datetime.fromisoformat(r.json[0]["scheduled_at"]) == when
    assert Reservation.select().count() == 0
    assert_error(api.post(f"/calendar/reservations/{res['id']}/fill", json={"post_id": post["id"]}), 404)


def test_a_failed_fill_keeps_the_reservation(api, testpub):
    a = make_account(api, "A")
    when = at(next_monday(), "09:00")
    res = api.post("/calendar/reservations", json={"account_id": a["id"], "at": when.isoformat(),
                                                   "topic": "t"}).json
    too_long = api.post("/posts", json={"title": "t", "body": "x" * 100}).json
    assert_error(api.post(f"/calendar/reservations/{res['id']}/fill", json={"post_id": too_long["id"]}), 422)
    assert Reservation.select().count() == 1 and Publication.select().count() == 0
    assert api.delete(f"/calendar/reservations/{res['id']}").status_code == 204
    assert Reservation.select().count() == 0


@pytest.mark.parametrize("path, query", [
    ("/calendar", {"view": "year"}),
    ("/calendar", {"date": "2030-13-01"}),
    ("/calendar", {"date": "9999-12-31", "view": "month"}),
    ("/calendar/suggestions", {"start": "9999-12-30T00:00:00Z"}),
    ("/calendar", {"account_id": 999999}),
    ("/calendar/conflicts", {"start": "2030-01-01T00:00Z", "end": "2029-01-01T00:00Z"}),
    ("/calendar/conflicts", {"start": "2030-01-01T00:00Z", "end": "2031-01-01T00:00Z"}),
    ("/calendar/conflicts", {"threshold": 2}),
    ("/calendar/suggestions", {"count": 0}),
    ("/calendar/suggestions", {"preferred_hours": "25"}),
    ("/calendar/gaps", {"start": "2030-01-10", "end": "2030-01-01"}),
    ("/calendar/gaps", {"start": "soon"}),
])
def test_calendar_bad_input(api, testpub, path, query):
    body = assert_error(api.get(path, query_string=query), 422 if "account_id" not in query else 404)
    assert body["errors"] or body["error_message"]


def test_reservation_bad_input_writes_nothing(api, other_api, testpub):
    a = make_account(api, "A")
    for body in ({"account_id": a["id"], "at": "2000-01-01T00:00Z", "topic": "past"},
                 {"account_id": a["id"], "at": "tomorrow", "topic": "x"},
                 {"account_id": a["id"], "at": "2031-01-01T00:00Z", "topic": ""},
                 {"account_id": 999, "at": "2031-01-01T00:00Z", "topic": "x"}):
        assert_error(api.post("/calendar/reservations", json=body), 422)
    assert_error(other_api.post("/calendar/reservations", json={
        "account_id": a["id"], "at": "2031-01-01T00:00Z", "topic": "x"}), 422)
    assert counts(Reservation) == (0,)
