"""Batches (JSON and CSV, all or nothing), statistics, and purging old publications."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from schedulerx import states
from schedulerx.cli import cli
from schedulerx.models import Event, Post, Publication, PublishAttempt, Variant
from schedulerx.timeutil import utcnow

from .api_support import assert_error, counts, testpub  # noqa: F401
from .test_queue import make_account


def future(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0).isoformat()


def upload_csv(api, text: str):
    return api.post("/batches/csv", data={"file": (io.BytesIO(text.encode()), "posts.csv")},
                    content_type="multipart/form-data")


def test_json_batch_schedules_at_times_and_in_the_queue(api, testpub):
    a = make_account(api, "A", slots=[{"weekday": d, "time": "10:00"} for d in range(7)])
    b = make_account(api, "B")
    r = api.post("/batches", json={"items": [
        {"title": "One", "body": "at a time", "account_ids": [a["id"], b["id"]], "scheduled_at": future(3)},
        {"title": "Two", "body": "queued", "account_ids": [a["id"]]},
        {"title": "Three", "body": "queued too", "account_ids": [a["id"]], "tags": ["x"],
         "variants": [{"platform": "testpub", "body": "variant"}],
         "retry": {"strategy": "fixed", "base_delay": 30, "max_delay": 30}},
    ]})
    assert r.status_code == 201, r.json
    assert r.json["created"] == 4
    queued = sorted(p["scheduled_at"] for p in r.json["publications"][2:])
    assert queued[0] < queued[1]  # two free slots, one after the other
    assert r.json["publications"][3]["retry"]["strategy"] == "fixed"
    assert Variant.select().count() == 1


def test_json_batch_with_bad_rows_writes_nothing_and_names_them(api, testpub):
    a = make_account(api, "A")
    before = counts(Post, Publication, Variant, Event)
    r = api.post("/batches", json={"items": [
        {"title": "fine", "body": "ok", "account_ids": [a["id"]], "scheduled_at": future(2)},
        {"title": "too long", "body": "x" * 100, "account_ids": [a["id"]], "scheduled_at": future(2)},
        {"title": "fine too", "body": "ok", "account_ids": [a["id"]], "scheduled_at": future(3)},
        {"title": "past", "body": "ok", "account_ids": [a["id"]], "scheduled_at": "2001-01-01T00:00:00Z"},
        {"title": "", "body": "", "account_ids": [a["id"]], "scheduled_at": future(2)},
        {"title": "who", "body": "ok", "account_ids": [424242], "scheduled_at": future(2)},
    ]})
    body = assert_error(r, 422)
    rows = body["errors"]["rows"]
    assert sorted(rows) == ["1", "3", "4", "5"], rows
    assert "allows 40" in " ".join(rows["1"]) and "past" in " ".join(rows["3"])
    assert "unknown accounts" in " ".join(rows["5"])
    assert counts(Post, Publication, Variant, Event) == before


def test_csv_import_of_twenty_posts(api, testpub):
    a = make_account(api, "Blog feed", slots=[{"weekday": d, "time": t} for d in range(7)
                                              for t in ("08:00", "12:00", "17:00")])
    b = make_account(api, "Second")
    lines = ["title,body,tags,accounts,scheduled_at,timezone"]
    for i in range(20):
        when = "" if i % 2 else (datetime.now(ZoneInfo("America/Chicago")) + timedelta(days=1 + i)
                                 ).strftime("%Y-%m-%dT09:30")
        accounts = "Blog feed" if i % 2 else f"{a['id']};{b['id']}"
        lines.append(f'Post {i},"Body {i}, with a comma","#python, tips",{accounts},{when},'
                     f'{"America/Chicago" if when else ""}')
    r = upload_csv(api, "\n".join(lines))
    assert r.status_code == 201, r.json
    assert Post.select().count() == 20 and r.json["created"] == 30
    p0 = Post.get(Post.title == "Post 0")
    assert p0.body == "Body 0, with a comma" and p0.tags == ["python", "tips"]
    pub = Publication.get(Publication.post == p0, Publication.account == a["id"])
    assert pub.timezone == "America/Chicago"
    local = pub.scheduled_at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("America/Chicago"))
    assert local.strftime("%H:%M") == "09:30"
    queued = sorted(p.scheduled_at for p in Publication.select().where(Publication.timezone == "Europe/Berlin"))
    assert len(queued) == 10 and len(set(queued)) == 10  # ten distinct free slots


@pytest.mark.parametrize("text, where", [
    ("title,when\nx,2030-01-01", "unknown: when"),
    ("title,body\nx,y", "include accounts"),
    ("", "include accounts"),
    ("title,accounts\nx,Nobody", "line 2"),
    ("title,accounts,media\nx,A,photo.png", "line 2"),
    ("title,accounts,scheduled_at\nok,A,2031-01-01T09:00\nbad,A,someday", "line 3"),
    ('title,accounts\n"unclosed,A', ""),
])
def test_bad_csv_is_422_naming_the_line(api, testpub, text, where):
    make_account(api, "A")
    before = counts(Post, Publication)
    body = assert_error(upload_csv(api, text), 422)
    assert where in body["error_message"] + str(body["errors"]), body
    assert counts(Post, Publication) == before


def test_csv_that_is_not_utf8_or_too_large(api, testpub):
    body = assert_error(api.post("/batches/csv", data={"file": (io.BytesIO(b"title\xff\xfe,accounts\n"), "x.csv")},
                                 content_type="multipart/form-data"), 422)
    assert "UTF-8" in body["error_message"]
    big = "title,accounts\n" + ("x" * 100 + ",A\n") * 25_000
    assert_error(upload_csv(api, big), 413)
    assert_error(api.post("/batches/csv", data={}, content_type="multipart/form-data"), 422)
    assert_error(api.post("/batches", json={"items": []}), 422)
    assert_error(api.post("/batches", json={"items": [{"title": "x"}]}), 422)


def _pub(account_id, post, status, scheduled, published=None, updated=None):
    return Publication.create(workspace=post.workspace_id, post=post, account=account_id, status=status,
                              scheduled_at=scheduled, published_at=published,
                              updated_at=updated or scheduled,
                              idempotency_key=f"k{Publication.select().count()}-{status}")


def test_stats_by_status_platform_and_account(api, owner, testpub):
    a, b = make_account(api, "A"), make_account(api, "B")
    post = Post.create(workspace=owner[1].id, title="t")
    now = utcnow()
    _pub(a["id"], post, states.PUBLISHED, now - timedelta(hours=3), now - timedelta(hours=3) + timedelta(seconds=2))
    _pub(a["id"], post, states.PUBLISHED, now - timedelta(hours=2), now - timedelta(hours=2) + timedelta(seconds=4))
    _pub(a["id"], post, states.FAILED, now - timedelta(hours=1))
    _pub(b["id"], post, states.PUBLISHED, now - timedelta(hours=1), now - timedelta(hours=1) + timedelta(seconds=12))
    _pub(b["id"], post, states.SCHEDULED, now + timedelta(days=1))
    _pub(b["id"], post, states.PUBLISHED, now - timedelta(days=90), now - timedelta(days=90))  # out of range
    r = api.get("/stats")
    assert r.status_code == 200, r.json
    s = r.json
    assert s["total"] == 5
    assert s["by_status"] == {"published": 3, "failed": 1, "scheduled": 1}
    assert s["success_rate"] == 0.75
    assert s["average_lateness_seconds"] == 6.0
    per_acc = {x["account_id"]: x for x in s["per_account"]}
    assert per_acc[a["id"]]["success_rate"] == round(2 / 3, 4)
    assert per_acc[a["id"]]["average_lateness_seconds"] == 3.0
    assert per_acc[b["id"]]["success_rate"] == 1.0 and per_acc[b["id"]]["by_status"]["scheduled"] == 1
    assert [p["platform"] for p in s["per_platform"]] == ["testpub"] and s["per_platform"][0]["total"] == 5
    assert_error(api.get("/stats", query_string={"start": "2030-01-02T00:00Z", "end": "2030-01-01T00:00Z"}), 422)
    assert_error(api.get("/stats", query_string={"start": "yesterday"}), 422)


def test_purge_deletes_only_old_finished_publications(api, other_api, owner, testpub):
    a = make_account(api, "A")
    post = Post.create(workspace=owner[1].id, title="t")
    old = utcnow() - timedelta(days=40)
    keep = [_pub(a["id"], post, states.PUBLISHED, old, old, updated=utcnow() - timedelta(days=5)),
            _pub(a["id"], post, states.UNKNOWN, old, updated=old),
            _pub(a["id"], post, states.SCHEDULED, utcnow() + timedelta(days=1), updated=old)]
    gone = [_pub(a["id"], post, s, old, updated=old) for s in (states.PUBLISHED, states.FAILED, states.CANCELED)]
    PublishAttempt.create(publication=gone[0], number=1, claim_token="c")
    r = api.post("/stats/purge", json={"older_than_days": 30, "dry_run": True})
    assert r.status_code == 200 and r.json == {"purged": 3, "dry_run": True}
    assert Publication.select().count() == 6
    assert other_api.post("/stats/purge", json={"older_than_days": 30}).json["purged"] == 0
    r = api.post("/stats/purge", json={"older_than_days": 30})
    assert r.json == {"purged": 3, "dry_run": False}
    assert {p.id for p in Publication.select()} == {p.id for p in keep}
    assert PublishAttempt.select().count() == 0 and Post.select().count() == 1
    assert_error(api.post("/stats/purge", json={"older_than_days": 0}), 422)
    assert_error(api.post("/stats/purge", json={}), 422)


def test_purge_from_the_cli(tmp_path, monkeypatch, sqlite_url):
    from schedulerx import db
    monkeypatch.setenv("SCHEDULERX_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("SCHEDULERX_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SCHEDULERX_SECRET_KEY", "k" * 40)
    runner = CliRunner()
    try:
        assert runner.invoke(cli, ["upgrade"]).exit_code == 0
        from schedulerx.models import Account, Workspace
        ws = Workspace.create(name="w")
        acc = Account.create(workspace=ws, platform="x", display_name="x")
        post = Post.create(workspace=ws, title="t")
        old = utcnow() - timedelta(days=10)
        _pub(acc.id, post, states.PUBLISHED, old, old, updated=old)
        r = runner.invoke(cli, ["purge", "--older-than", "7", "--dry-run"])
        assert r.exit_code == 0 and "would purge 1" in r.output and Publication.select().count() == 1
        r = runner.invoke(cli, ["purge", "--older-than", "7"])
        assert r.exit_code == 0 and "purged 1" in r.output and Publication.select().count() == 0
        assert runner.invoke(cli, ["purge", "--older-than", "0"]).exit_code != 0
    finally:
        db.database.close()
