"""The Jinja dashboard through the Flask test client: login, every page, forms, CSRF, roles, SSE."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import marshmallow as ma
import pytest

from schedulerx import auth, events, hookimpl
from schedulerx.models import Account, ApiToken, Event, MediaAsset, Post, Publication
from schedulerx.publishers import PlatformDescriptor, PlatformLimits, Publisher, PublishResult
from schedulerx.web_types import NavItem

PASSWORD = "correct horse battery"
PAGES = ["/", "/media", "/schedule", "/schedule/new", "/schedule/calendar", "/pipelines", "/ai",
         "/accounts", "/logs", "/settings"]
SIDEBAR = ["Home", "Media", "Schedule", "Pipelines", "AI", "Accounts", "Logs", "Settings"]
# The smallest valid PNG: 1×1 pixel.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360f8cfc0f01f0005000201a5e6d8b90000000049454e44ae426082")


class PageSettings(ma.Schema):
    handle = ma.fields.String(required=True, metadata={"description": "the account's handle"})
    api_key = ma.fields.String(required=True)
    per_day = ma.fields.Integer(load_default=5)
    sensitive = ma.fields.Boolean(load_default=False)
    visibility = ma.fields.String(load_default="public",
                                  validate=ma.validate.OneOf(["public", "unlisted"]))


class PagePublisher(Publisher):
    descriptor = PlatformDescriptor(name="testpub", label="Test Pub",
                                    limits=PlatformLimits(text_max=40))
    settings_schema = PageSettings
    secret_fields = ("api_key",)

    def publish(self, ctx):
        return PublishResult(remote_id=f"r{ctx.publication_id}")


class PagePlugin:
    """A publisher, a sidebar item and a tick recorder, registered into the test's manager."""

    def __init__(self):
        self.ticks = 0

    @hookimpl
    def register_publishers(self):
        return [PagePublisher]

    @hookimpl
    def dashboard_nav(self, workspace):
        return [NavItem("Test plugin page", "/plugin-page")]

    @hookimpl
    def dispatch_tick(self):
        self.ticks += 1
        return True


@pytest.fixture
def plugin(rt):
    obj = PagePlugin()
    rt.pm.register(obj, name="testpub")
    return obj


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, email="owner@example.com", password=PASSWORD):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp


@pytest.fixture
def session(client, owner, plugin):
    """The owner logged in; returns a function giving a fresh CSRF token."""
    login(client)
    return lambda: csrf_of(client.get("/settings").get_data(as_text=True))


def make_account(ws, name="Main feed"):
    return Account.create(workspace=ws, platform="testpub", display_name=name,
                          settings={"handle": "me"})


def future_local(hours=2, tz="Europe/Berlin") -> str:
    at = datetime.now(ZoneInfo(tz)) + timedelta(hours=hours)
    return at.strftime("%Y-%m-%dT%H:%M")


def text(resp) -> str:
    return resp.get_data(as_text=True)


# --- login, layout, every page ------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES + ["/logs/stream", "/schedule/1"])
def test_pages_redirect_to_login_when_logged_out(client, owner, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_login_form_and_logout(client, owner):
    resp = client.get("/login")
    assert resp.status_code == 200 and "Log in" in text(resp)
    token = csrf_of(text(resp))
    bad = client.post("/login", data={"email": "owner@example.com", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "wrong email or password" in text(bad)
    ok = client.post("/login?next=/logs", data={"email": "owner@example.com", "password": PASSWORD,
                                                "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"] == "/logs"
    page = client.get("/")
    assert page.status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf_of(text(page))})
    assert out.status_code == 302
    assert client.get("/").status_code == 302


def test_every_page_renders_with_the_sidebar(client, session):
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 200, path
        html = text(resp)
        for label in SIDEBAR + ["Test plugin page", "Log out"]:
            assert f"<span>{label}</span>" in html, (path, label)
        assert 'name="csrf-token"' in html
        assert re.search(r'class="nav-item active" href="[^"]*"', html), path
    for path in ("/schedule/new", "/schedule/calendar"):
        schedule = text(client.get(path))
        assert re.search(r'class="nav-item active" href="/schedule"', schedule)
        assert "Europe/Berlin (UTC" in schedule


def test_static_assets_are_served_locally(client):
    for name in ("app.css", "app.js", "favicon.svg"):
        resp = client.get(f"/static/{name}")
        assert resp.status_code == 200, name
        resp.close()
    html = text(client.get("/login"))
    assert "http://" not in html and "https://" not in html  # no CDN


def test_placeholders_are_honest(client, session):
    for path in ("/pipelines",):
        html = text(client.get(path))
        assert "Not built yet" in html


def test_unknown_publication_is_an_html_404(client, session):
    resp = client.get("/schedule/4242")
    assert resp.status_code == 404
    assert resp.mimetype == "text/html" and "Not Found" in text(resp) and "publication 4242" in text(resp)
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and "Not Found" in text(resp)


# --- CSRF and roles ----------------------------------------------------------------------

def test_forms_without_csrf_are_refused(client, session, owner):
    _, ws, _ = owner
    acc = make_account(ws)
    assert client.post("/login", data={"email": "x@example.com", "password": "y"}).status_code == 400
    resp = client.post("/schedule/new", data={"body": "hello", "account_ids": [acc.id],
                                              "scheduled_at": future_local()})
    assert resp.status_code == 400 and "CSRF" in text(resp)
    assert client.post("/settings/tokens", data={"name": "x"}).status_code == 400
    assert client.post("/run-scheduler").status_code == 400
    assert Post.select().count() == 0 and ApiToken.select().count() == 1


def test_viewer_reads_but_cannot_post(client, owner, plugin):
    _, ws, _ = owner
    auth.create_user("viewer@example.com", "viewer password", workspace=ws, role="viewer")
    acc = make_account(ws)
    login(client, "viewer@example.com", "viewer password")
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    home = text(client.get("/"))
    assert "Run scheduler now" not in home
    token = csrf_of(home)
    resp = client.post("/schedule/new", data={"csrf_token": token, "body": "hello",
                                              "account_ids": [acc.id], "scheduled_at": future_local()})
    assert resp.status_code == 403
    assert client.post("/run-scheduler", data={"csrf_token": token}).status_code == 403
    assert client.post("/accounts", data={"csrf_token": token, "platform": "testpub",
                                          "display_name": "x"}).status_code == 403
    assert Post.select().count() == 0 and Account.select().count() == 1 and plugin.ticks == 0
    # Logging out stays possible.
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


# --- compose and schedule --------------------------------------------------------------------

def test_compose_creates_and_schedules(client, session, owner):
    _, ws, _ = owner
    acc = make_account(ws)
    form = client.get("/schedule/new")
    assert "Main feed" in text(form) and "up to 40 characters" in text(form)
    when = future_local(hours=3)
    resp = client.post("/schedule/new", data={
        "csrf_token": csrf_of(text(form)), "title": "Launch", "body": "Hello world", "tags": "a, b",
        "account_ids": [acc.id], "scheduled_at": when, "retry_strategy": "linear", "max_attempts": "4"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/schedule"
    pub = Publication.get()
    assert pub.status == "scheduled" and pub.account_id == acc.id and pub.timezone == "Europe/Berlin"
    assert pub.retry_strategy == "linear" and pub.max_attempts == 4
    expected = datetime.strptime(when, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo("Europe/Berlin"))
    assert pub.scheduled_at == expected.astimezone(timezone.utc).replace(tzinfo=None)
    assert Post.get().tags == ["a", "b"]
    listing = text(client.get("/schedule"))
    assert "Launch" in listing and 'badge badge-scheduled' in listing
    assert when.replace("T", " ") in listing  # shown in the workspace's timezone
    assert "data-countdown" in text(client.get("/"))
    detail = text(client.get(f"/schedule/{pub.id}"))
    assert "No attempt yet" in detail and "scheduled post" in detail


@pytest.mark.parametrize("change, message, field_text", [
    ({"body": "x" * 60}, "the post does not fit these accounts", "text is 60 characters; Test Pub allows 40"),
    ({"scheduled_at": "2001-01-01T10:00"}, "the time is in the past", None),
    ({"scheduled_at": ""}, "choose a date and time", None),
    ({"account_ids": []}, "choose at least one account", None),
    ({"body": "", "title": ""}, "a post needs a title, a body or media", None),
    ({"retry_strategy": "sometimes"}, "retry strategy must be one of", None),
])
def test_compose_invalid_input_writes_nothing(client, session, owner, change, message, field_text):
    _, ws, _ = owner
    acc = make_account(ws)
    data = {"csrf_token": session(), "title": "Keep me", "body": "short text",
            "account_ids": [acc.id], "scheduled_at": future_local(), **change}
    resp = client.post("/schedule/new", data=data)
    assert resp.status_code == 422
    html = text(resp)
    assert message in html and 'role="alert"' in html
    if field_text:
        assert field_text in html
    if change.get("title", "Keep me"):
        assert 'value="Keep me"' in html  # the user's input is kept
    assert Post.select().count() == 0 and Publication.select().count() == 0


def test_compose_with_media_from_the_library(client, session, owner):
    _, ws, _ = owner
    acc = make_account(ws)
    resp = client.post("/media", data={"csrf_token": session(), "tags": "pics",
                                       "file": (io.BytesIO(PNG), "dot.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    asset = MediaAsset.get()
    form = text(client.get(f"/schedule/new?media={asset.id}"))
    assert f'name="media" value="{asset.id}" checked' in form
    resp = client.post("/schedule/new", data={"csrf_token": session(), "media": [asset.id],
                                              "account_ids": [acc.id], "scheduled_at": future_local()})
    assert resp.status_code == 302
    assert Post.get().media == [asset.id]


# --- actions on publications ---------------------------------------------------------------

def schedule_one(client, session, acc):
    resp = client.post("/schedule/new", data={"csrf_token": session(), "body": "hi",
                                              "account_ids": [acc.id], "scheduled_at": future_local()})
    assert resp.status_code == 302
    return Publication.select().order_by(Publication.id.desc()).get()


def test_row_actions_follow_the_state_machine(client, session, owner):
    _, ws, _ = owner
    pub = schedule_one(client, session, make_account(ws))
    listing = text(client.get("/schedule"))
    for action in ("pause", "cancel", "force", "reschedule"):
        assert f"/schedule/{pub.id}/{action}" in listing
    assert f"/schedule/{pub.id}/resume" not in listing and f"/schedule/{pub.id}/retry" not in listing

    resp = client.post(f"/schedule/{pub.id}/pause",
                       data={"csrf_token": session(), "next": "/schedule?status=paused"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/schedule?status=paused"
    assert Publication.get_by_id(pub.id).status == "paused"
    assert f"/schedule/{pub.id}/resume" in text(client.get("/schedule?status=paused"))

    # Not allowed from paused: a 409 on the detail page, nothing changed.
    resp = client.post(f"/schedule/{pub.id}/pause", data={"csrf_token": session()})
    assert resp.status_code == 409 and "cannot pause a publication that is paused" in text(resp)
    assert client.post(f"/schedule/{pub.id}/explode", data={"csrf_token": session()}).status_code == 404

    client.post(f"/schedule/{pub.id}/resume", data={"csrf_token": session()})
    assert Publication.get_by_id(pub.id).status == "scheduled"
    resp = client.post(f"/schedule/{pub.id}/cancel", data={"csrf_token": session(), "next": "https://evil.example/"})
    assert resp.headers["Location"] == "/"  # never an open redirect
    assert Publication.get_by_id(pub.id).status == "canceled"
    assert "canceled" in text(client.get("/schedule?status=canceled"))


def test_reschedule_and_its_errors(client, session, owner):
    _, ws, _ = owner
    pub = schedule_one(client, session, make_account(ws))
    when = future_local(hours=30)
    resp = client.post(f"/schedule/{pub.id}/reschedule", data={"csrf_token": session(), "scheduled_at": when})
    assert resp.status_code == 302
    expected = datetime.strptime(when, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo("Europe/Berlin"))
    stored = expected.astimezone(timezone.utc).replace(tzinfo=None)
    assert Publication.get_by_id(pub.id).scheduled_at == stored
    resp = client.post(f"/schedule/{pub.id}/reschedule", data={"csrf_token": session(),
                                                               "scheduled_at": "2001-02-03T04:05"})
    assert resp.status_code == 422
    assert "the time is in the past" in text(resp) and 'value="2001-02-03T04:05"' in text(resp)


def test_unknown_publication_offers_mark_published_and_shows_errors(client, session, owner):
    _, ws, _ = owner
    pub = schedule_one(client, session, make_account(ws))
    Publication.update(status="unknown", error_code="timeout", error_message="the platform timed out",
                       next_attempt_at=None).where(Publication.id == pub.id).execute()
    listing = text(client.get("/schedule"))
    assert "badge badge-unknown" in listing and "the platform timed out" in listing
    assert f"/schedule/{pub.id}/mark_published" in listing and f"/schedule/{pub.id}/retry" in listing
    detail = text(client.get(f"/schedule/{pub.id}"))
    assert "Last error" in detail and "timeout" in detail
    resp = client.post(f"/schedule/{pub.id}/mark_published",
                       data={"csrf_token": session(), "remote_url": "https://example.com/p/1"})
    assert resp.status_code == 302
    pub = Publication.get_by_id(pub.id)
    assert pub.status == "published" and pub.remote_url == "https://example.com/p/1"


def test_other_workspaces_publications_are_not_found(client, session, owner, rt):
    user, ws = auth.create_user("other@example.com", "another long password", workspace_name="Other")
    acc = Account.create(workspace=ws, platform="testpub", display_name="Theirs")
    post = Post.create(workspace=ws, body="theirs")
    pub = Publication.create(workspace=ws, post=post, account=acc, scheduled_at=datetime(2030, 1, 1),
                             idempotency_key="k-other")
    assert client.get(f"/schedule/{pub.id}").status_code == 404
    assert client.post(f"/schedule/{pub.id}/cancel", data={"csrf_token": session()}).status_code == 404
    assert "Theirs" not in text(client.get("/schedule"))


def test_calendar_puts_publications_on_their_local_day(client, session, owner):
    _, ws, _ = owner
    acc = make_account(ws)
    # 00:30 in Berlin is the evening before in UTC: the calendar must use the local day.
    day = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=3)).date()
    resp = client.post("/schedule/new", data={"csrf_token": session(), "title": "Night owl",
                                              "account_ids": [acc.id], "scheduled_at": f"{day}T00:30"})
    assert resp.status_code == 302
    pub = Publication.get()
    assert pub.scheduled_at.date() < day  # stored in UTC
    html = text(client.get(f"/schedule/calendar?month={day:%Y-%m}"))
    cells = re.findall(r'<div class="calendar-day[^"]*">(.*?)</div>', html, re.S)
    found = [c for c in cells if "Night owl" in c]
    assert len(found) == 1 and f'<span class="calendar-date">{day.day}</span>' in found[0]
    assert "00:30" in found[0] and f'href="/schedule/{pub.id}"' in found[0]
    # Another month does not show it; a bad month parameter falls back to this month.
    other = day.replace(day=1) - timedelta(days=40)
    assert "Night owl" not in text(client.get(f"/schedule/calendar?month={other:%Y-%m}"))
    assert client.get("/schedule/calendar?month=nonsense").status_code == 200


# --- home ---------------------------------------------------------------------------------------

def test_home_shows_counts_health_events_and_runs_the_scheduler(client, session, owner, plugin):
    _, ws, _ = owner
    schedule_one(client, session, make_account(ws))
    html = text(client.get("/"))
    assert "Scheduler health" in html and "Next posts" in html and "Recent events" in html
    assert re.search(r'<span class="stat-value">1</span>\s*<span class="stat-label">scheduled</span>', html)
    resp = client.post("/run-scheduler", data={"csrf_token": session()})
    assert resp.status_code == 302 and plugin.ticks == 1
    assert "The scheduler was asked to run now." in text(client.get("/"))
    assert Event.select().where(Event.message == "asked for a tick now").exists()


# --- accounts ---------------------------------------------------------------------------------

def test_accounts_form_is_rendered_from_the_settings_schema(client, session):
    html = text(client.get("/accounts"))
    assert 'name="s.testpub.handle"' in html
    assert 'name="s.testpub.api_key" autocomplete="off" type="password"' in html
    assert 'name="s.testpub.per_day" autocomplete="off" type="number" step="1" value="5"' in html
    assert 'type="checkbox" name="s.testpub.sensitive"' in html
    assert '<option value="unlisted"' in html and "the account&#39;s handle" in html


def test_connect_account_and_its_errors(client, session, owner):
    resp = client.post("/accounts", data={"csrf_token": session(), "platform": "testpub",
                                          "display_name": "Studio", "s.testpub.handle": "studio"})
    assert resp.status_code == 422
    html = text(resp)
    assert "account settings are invalid" in html and "Missing data for required field." in html
    assert 'value="Studio"' in html and Account.select().count() == 0

    resp = client.post("/accounts", data={"csrf_token": session(), "platform": "nowhere",
                                          "display_name": "X"})
    assert resp.status_code == 422 and "no publisher plugin for platform" in text(resp)

    resp = client.post("/accounts", data={"csrf_token": session(), "platform": "testpub",
                                          "display_name": "Studio", "s.testpub.handle": "studio",
                                          "s.testpub.api_key": "secret-123", "s.testpub.per_day": "9",
                                          "s.testpub.sensitive": "1"})
    assert resp.status_code == 302
    acc = Account.get()
    assert acc.settings == {"handle": "studio", "per_day": 9, "sensitive": True, "visibility": "public"}
    assert "secret-123" not in acc.credentials
    html = text(client.get("/accounts"))
    assert "Studio" in html and "badge-health-connected" in html and "secret-123" not in html

    client.post(f"/accounts/{acc.id}/health", data={"csrf_token": session(), "health": "disabled"})
    assert Account.get_by_id(acc.id).health == "disabled"


# --- media -----------------------------------------------------------------------------------

def test_media_upload_grid_and_filters(client, session):
    resp = client.post("/media", data={"csrf_token": session(), "tags": "sun, beach",
                                       "file": (io.BytesIO(PNG), "dot.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    asset = MediaAsset.get()
    assert asset.mime == "image/png" and asset.tags == ["sun", "beach"]
    html = text(client.get("/media"))
    assert f'src="/api/v1/media/{asset.id}/content"' in html and "dot.png" in html
    assert "dot.png" in text(client.get("/media?type=image&tag=sun"))
    assert "dot.png" not in text(client.get("/media?type=video"))
    assert "dot.png" not in text(client.get("/media?tag=rain"))

    resp = client.post("/media", data={"csrf_token": session(), "tags": "keep",
                                       "file": (io.BytesIO(b"just text, no media"), "notes.txt")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "only image, video and audio files are accepted" in text(resp) and 'value="keep"' in text(resp)
    resp = client.post("/media", data={"csrf_token": session()}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "choose a file" in text(resp)
    assert MediaAsset.select().count() == 1


# --- settings ------------------------------------------------------------------------------

def test_tokens_are_created_shown_once_listed_and_revoked(client, session, owner):
    resp = client.post("/settings/tokens", data={"csrf_token": session(), "name": "n8n"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    plain = re.search(r'id="new-token" value="(sx_[^"]+)"', text(resp)).group(1)
    row = ApiToken.get(ApiToken.name == "n8n")
    assert auth.token_owner(plain).id == row.id
    listing = text(client.get("/settings"))
    assert plain not in listing and f"{row.prefix}…" in listing and "Europe/Berlin" in listing
    resp = client.post("/settings/tokens", data={"csrf_token": session(), "name": ""})
    assert resp.status_code == 422 and "a token needs a name" in text(resp)
    resp = client.post(f"/settings/tokens/{row.id}/revoke", data={"csrf_token": session()})
    assert resp.status_code == 302
    assert ApiToken.get_by_id(row.id).revoked_at is not None
    assert "revoked" in text(client.get("/settings"))


# --- logs and the event stream ---------------------------------------------------------------

def test_logs_filter_by_level_and_source(client, session, owner):
    _, ws, _ = owner
    events.record(ws.id, "scheduler", "all good here")
    events.record(ws.id, "worker", "it broke", level="error")
    html = text(client.get("/logs"))
    assert "all good here" in html and "it broke" in html and "data-stream-url" in html
    html = text(client.get("/logs?level=error"))
    assert "all good here" not in html and "it broke" in html
    html = text(client.get("/logs?source=scheduler"))
    assert "all good here" in html and "it broke" not in html


def read_stream(resp, want: int) -> list[str]:
    """The first ``want`` data messages of an event stream."""
    found, buffer = [], ""
    for chunk in resp.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            message, buffer = buffer.split("\n\n", 1)
            if "data: " in message:
                found.append(message)
        if len(found) >= want:
            break
    resp.close()
    return found


def test_log_stream_yields_events_after_last_event_id(app, client, session, owner):
    _, ws, _ = owner
    app.config["SCHEDULERX_SSE_SECONDS"] = 5
    first = events.record(ws.id, "scheduler", "before")
    events.record(ws.id, "scheduler", "after one")
    events.record(ws.id, "worker", "noisy", level="debug")
    resp = client.get("/logs/stream?level=info", headers={"Last-Event-ID": str(first.id)})
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    (message,) = read_stream(resp, 1)
    assert '"message": "after one"' in message and f"id: {first.id + 1}" in message
    assert "before" not in message and "noisy" not in message


def test_log_stream_sends_new_events_and_ends(app, client, session, owner):
    _, ws, _ = owner
    app.config["SCHEDULERX_SSE_SECONDS"] = 3
    events.record(ws.id, "scheduler", "old")
    resp = client.get("/logs/stream")  # no Last-Event-ID: only what happens from now on
    chunks = iter(resp.response)
    assert next(chunks).startswith(b"retry:")
    events.record(ws.id, "worker", "fresh news")
    rest = b"".join(chunks)  # the stream ends by itself after SCHEDULERX_SSE_SECONDS
    assert b"fresh news" in rest and b'"old"' not in rest
