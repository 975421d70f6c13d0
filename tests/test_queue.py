"""The queue: posting slots in each account's timezone, minimum gaps, daily maximums,
blackout dates, add-to-queue, spreading posts, and conflict checks."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from schedulerx.models import Post, Publication

from .api_support import account, assert_error, counts, testpub  # noqa: F401


def make_account(api, name, **queue):
    r = api.post("/accounts", json={"platform": "testpub", "display_name": name,
                                    "settings": {"feed_name": name}})
    assert r.status_code == 201, r.json
    if queue:
        r2 = api.put(f"/queue/accounts/{r.json['id']}", json=queue)
        assert r2.status_code == 200, r2.json
    return r.json


def new_post(api, title="A post"):
    r = api.post("/posts", json={"title": title, "body": "short"})
    assert r.status_code == 201, r.json
    return r.json


def expected_slots(tz_name, weekdays_times, count, after=None, skip=lambda local: False):
    """Independent of slots.py: walk local days and keep the wall times that are later."""
    tz = ZoneInfo(tz_name)
    after = after or datetime.now(timezone.utc)
    out, day = [], after.astimezone(tz).date()
    while len(out) < count:
        for wd, hhmm in sorted(weekdays_times, key=lambda x: x[1]):
            if day.weekday() != wd:
                continue
            local = datetime.combine(day, time.fromisoformat(hhmm), tz)
            if local > after and not skip(local):
                out.append(local)
        day += timedelta(days=1)
    return out[:count]


def local(iso, tz_name):
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(tz_name))


def test_queue_rules_round_trip_and_default_to_platform_best_times(api, testpub):
    acc = make_account(api, "A")
    r = api.get(f"/queue/accounts/{acc['id']}")
    assert r.status_code == 200
    # testpub's best time is Monday 09:00; the account has none of its own.
    assert r.json["slots_source"] == "platform"
    assert r.json["effective_slots"] == [{"weekday": 0, "time": "09:00"}]
    assert r.json["timezone"] == "Europe/Berlin"  # the workspace's
    r = api.put(f"/queue/accounts/{acc['id']}", json={
        "slots": [{"weekday": "wed", "time": "18:30"}, {"weekday": 1, "time": "07:05"}],
        "timezone": "America/New_York", "min_gap_minutes": 90, "max_per_day": 2,
        "blackout_dates": ["2030-12-25"]})
    assert r.status_code == 200, r.json
    assert r.json["slots"] == [{"weekday": 1, "time": "07:05"}, {"weekday": 2, "time": "18:30"}]
    assert r.json["slots_source"] == "account" and r.json["timezone"] == "America/New_York"
    assert (r.json["min_gap_minutes"], r.json["max_per_day"]) == (90, 2)
    nxt = local(r.json["next_free_slot"], "America/New_York")
    assert (nxt.weekday(), nxt.strftime("%H:%M")) in {(1, "07:05"), (2, "18:30")}
    got = api.get(f"/accounts/{acc['id']}").json
    assert got["min_gap_minutes"] == 90 and got["blackout_dates"] == ["2030-12-25"]


@pytest.mark.parametrize("body, field", [
    ({"slots": [{"weekday": 7, "time": "09:00"}]}, "slots"),
    ({"slots": [{"weekday": "mon", "time": "9am"}]}, "slots"),
    ({"slots": [{"weekday": "mon"}]}, "slots"),
    ({"timezone": "Nowhere/Else"}, "timezone"),
    ({"min_gap_minutes": -1}, "min_gap_minutes"),
    ({"max_per_day": 0}, "max_per_day"),
    ({"blackout_dates": ["2030-02-30"]}, "blackout_dates"),
    ({"unknown": 1}, "unknown"),
])
def test_bad_queue_rules_are_422_and_change_nothing(api, testpub, body, field):
    acc = make_account(api, "A", slots=[{"weekday": 0, "time": "09:00"}])
    r = api.put(f"/queue/accounts/{acc['id']}", json=body)
    err = assert_error(r, 422)
    assert any(field in key for key in str(err["errors"]).split("'")), err
    assert api.get(f"/queue/accounts/{acc['id']}").json["slots"] == [{"weekday": 0, "time": "09:00"}]


def test_add_to_queue_fills_free_slots_in_each_accounts_timezone(api, testpub):
    a_slots = [(0, "09:00"), (2, "09:00"), (4, "09:00")]
    b_slots = [(1, "12:00"), (3, "12:00"), (1, "18:00"), (3, "18:00")]
    a = make_account(api, "A", timezone="America/New_York", min_gap_minutes=60,
                     slots=[{"weekday": d, "time": t} for d, t in a_slots])
    b = make_account(api, "B", timezone="Asia/Tokyo", max_per_day=1,
                     slots=[{"weekday": d, "time": t} for d, t in b_slots])
    got_a, got_b = [], []
    for i in range(10):
        r = api.post(f"/queue/posts/{new_post(api, f'Post {i}')['id']}",
                     json={"account_ids": [a["id"], b["id"]]})
        assert r.status_code == 201, r.json
        by_acc = {p["account_id"]: p for p in r.json}
        got_a.append(local(by_acc[a["id"]]["scheduled_at"], "America/New_York"))
        got_b.append(local(by_acc[b["id"]]["scheduled_at"], "Asia/Tokyo"))
        assert by_acc[b["id"]]["timezone"] == "Asia/Tokyo"
    assert got_a == expected_slots("America/New_York", a_slots, 10)
    # B allows one post a day: the 18:00 slots stay empty while 12:00 is taken.
    assert got_b == expected_slots("Asia/Tokyo", [(1, "12:00"), (3, "12:00")], 10)


def test_queue_skips_taken_slots_gaps_and_blackouts(api, testpub):
    tz = "Europe/Berlin"
    a = make_account(api, "A", min_gap_minutes=120,
                     slots=[{"weekday": d, "time": t} for d in range(7) for t in ("09:00", "10:00", "15:00")])
    first = expected_slots(tz, [(d, "09:00") for d in range(7)], 3)
    # A post by hand at 09:30 on the first day takes 09:00 and 10:00 (closer than 2 h).
    manual = first[0] + timedelta(minutes=30)
    r = api.post(f"/posts/{new_post(api)['id']}/schedule", json={
        "account_ids": [a["id"]], "scheduled_at": manual.isoformat()})
    assert r.status_code == 201, r.json
    # The second day is a blackout date.
    api.put(f"/queue/accounts/{a['id']}", json={"blackout_dates": [first[1].date().isoformat()]})
    r = api.get(f"/queue/accounts/{a['id']}/next-slot", query_string={"after": first[0].isoformat()})
    assert r.status_code == 200, r.json
    nxt = local(r.json["at"], tz)
    assert nxt == datetime.combine(first[0].date(), time(15), ZoneInfo(tz))
    r = api.get(f"/queue/accounts/{a['id']}/next-slot",
                query_string={"after": (nxt + timedelta(minutes=1)).isoformat()})
    assert local(r.json["at"], tz) == datetime.combine(first[2].date(), time(9), ZoneInfo(tz))


def test_check_reports_conflicts_at_a_time(api, testpub):
    a = make_account(api, "A", min_gap_minutes=60, max_per_day=2,
                     slots=[{"weekday": d, "time": "09:00"} for d in range(7)])
    at = expected_slots("Europe/Berlin", [(d, "09:00") for d in range(7)], 2)[1]
    r = api.get(f"/queue/accounts/{a['id']}/check", query_string={"at": at.isoformat()})
    assert r.status_code == 200 and r.json["free"] is True and r.json["conflicts"] == []
    pubs = []
    for minutes in (0, 180):
        r = api.post(f"/posts/{new_post(api)['id']}/schedule", json={
            "account_ids": [a["id"]], "scheduled_at": (at + timedelta(minutes=minutes)).isoformat()})
        pubs.append(r.json[0]["id"])
    r = api.get(f"/queue/accounts/{a['id']}/check",
                query_string={"at": (at + timedelta(minutes=20)).isoformat()})
    kinds = sorted(c["kind"] for c in r.json["conflicts"])
    assert r.json["free"] is False and kinds == ["daily_max", "gap"]
    gap = next(c for c in r.json["conflicts"] if c["kind"] == "gap")
    assert gap["with"]["id"] == pubs[0]
    # Checking a reschedule of that very publication leaves it out.
    r = api.get(f"/queue/accounts/{a['id']}/check", query_string={
        "at": (at + timedelta(minutes=20)).isoformat(), "exclude_publication": pubs[0]})
    assert r.json["free"] is True


def test_spread_places_posts_evenly_on_free_slots(api, testpub):
    tz = "Europe/Berlin"
    a = make_account(api, "A", max_per_day=1,
                     slots=[{"weekday": d, "time": t} for d in range(7) for t in ("09:00", "17:00")])
    start = datetime.combine(date.today() + timedelta(days=2), time(), ZoneInfo(tz))
    end = start + timedelta(days=10)
    ids = [new_post(api, f"Post {i}")["id"] for i in range(5)]
    r = api.post("/queue/spread", json={"post_ids": ids, "account_ids": [a["id"]],
                                        "start": start.isoformat(), "end": end.isoformat()})
    assert r.status_code == 201, r.json
    got = sorted((local(p["scheduled_at"], tz), p["post_id"]) for p in r.json)
    assert [pid for _, pid in got] == ids  # in the order given
    days = [when.date() for when, _ in got]
    assert len(set(days)) == 5  # one a day at most
    assert all(start <= when < end for when, _ in got)
    spacing = [(b - a).days for a, b in zip(days, days[1:])]
    assert min(spacing) >= 1 and max(spacing) <= 3  # spread, not bunched at the start


def test_spread_refuses_more_posts_than_free_slots(api, testpub):
    a = make_account(api, "A", slots=[{"weekday": 0, "time": "09:00"}])
    start = datetime.now(timezone.utc) + timedelta(days=1)
    ids = [new_post(api)["id"] for _ in range(3)]
    before = counts(Publication)
    r = api.post("/queue/spread", json={"post_ids": ids, "account_ids": [a["id"]],
                                        "start": start.isoformat(),
                                        "end": (start + timedelta(days=8)).isoformat()})
    body = assert_error(r, 422)
    assert "free slots" in body["error_message"]
    assert counts(Publication) == before


def test_queue_is_all_or_nothing_across_accounts(api, testpub):
    ok = make_account(api, "OK", slots=[{"weekday": 0, "time": "09:00"}])
    no_slots = make_account(api, "None")
    # The second account uses testpub's Monday 09:00, but every day of the next
    # year is a blackout date.
    days = [(date.today() + timedelta(days=i)).isoformat() for i in range(-1, 368)]
    api.put(f"/queue/accounts/{no_slots['id']}", json={"blackout_dates": days})
    before = counts(Publication)
    r = api.post(f"/queue/posts/{new_post(api)['id']}", json={"account_ids": [ok["id"], no_slots["id"]]})
    body = assert_error(r, 422)
    assert "no free slot" in body["error_message"]
    assert counts(Publication) == before


def test_queue_bad_input(api, other_api, testpub):
    a = make_account(api, "A", slots=[{"weekday": 0, "time": "09:00"}])
    post = new_post(api)
    assert_error(api.post(f"/queue/posts/{post['id']}", json={"account_ids": []}), 422)
    assert_error(api.post(f"/queue/posts/{post['id']}", json={"account_ids": [a["id"], a["id"]]}), 422)
    assert_error(api.post(f"/queue/posts/{post['id']}", json={"account_ids": ["x"]}), 422)
    assert_error(api.post("/queue/posts/999999", json={"account_ids": [a["id"]]}), 404)
    assert_error(api.get("/queue/accounts/999999"), 404)
    assert_error(api.get(f"/queue/accounts/{a['id']}/check"), 422)
    assert_error(api.get(f"/queue/accounts/{a['id']}/check", query_string={"at": "soon"}), 422)
    assert_error(api.get(f"/queue/accounts/{a['id']}/next-slot", query_string={"after": "x"}), 422)
    assert_error(api.get(f"/queue/accounts/{a['id']}/next-slot",
                         query_string={"after": "9999-12-31T23:59:59"}), 422)
    assert_error(api.post("/queue/spread", json={"post_ids": [post["id"]], "account_ids": [a["id"]],
                                                 "start": "2030-01-02T00:00", "end": "2030-01-01T00:00"}), 422)
    # Another workspace sees none of it.
    assert_error(other_api.get(f"/queue/accounts/{a['id']}"), 404)
    assert_error(other_api.post(f"/queue/posts/{post['id']}", json={"account_ids": [a["id"]]}), 404)
    assert Post.select().count() == 1
