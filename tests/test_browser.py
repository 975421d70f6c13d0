"""The dashboard in a real Chromium (Playwright) against the app on a real WSGI server (waitress).

First-run set-up, log in, every sidebar page, connect an account, upload media, compose and
schedule a post, see it on the Schedule page, watch the logs arrive live. Screenshots go to
/tmp/schedulerx-*.png.
"""
from __future__ import annotations

import os
import re
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import marshmallow as ma
import pytest

from schedulerx import db, events, hookimpl
from schedulerx.models import Publication, Workspace
from schedulerx.plugins import make_plugin_manager
from schedulerx.publishers import (
    PlatformDescriptor,
    PlatformLimits,
    Publisher,
    PublishResult,
)
from schedulerx.runtime import bootstrap
from tests.conftest import make_config, need

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SIDEBAR = ["Home", "Media", "Schedule", "Pipelines", "AI", "Accounts", "Logs", "Settings"]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360f8cfc0f01f0005000201a5e6d8b90000000049454e44ae426082")


class BrowserSettings(ma.Schema):
    handle = ma.fields.String(required=True)
    token = ma.fields.String(required=True)


class BrowserPublisher(Publisher):
    descriptor = PlatformDescriptor(name="browserpub", label="Browser Pub",
                                    limits=PlatformLimits(text_max=50))
    settings_schema = BrowserSettings
    secret_fields = ("token",)

    def publish(self, ctx):
        return PublishResult(remote_id=str(ctx.publication_id))


class BrowserPlugin:
    @hookimpl
    def register_publishers(self):
        return [BrowserPublisher]


@pytest.fixture
def server(tmp_path, sqlite_url):
    """The app served by waitress on 127.0.0.1 and a free port, in a thread."""
    from schedulerx_web.app import create_app
    from waitress import create_server
    if not os.path.exists(CHROMIUM):
        need("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    pm = make_plugin_manager(only="")
    pm.register(BrowserPlugin(), name="browserpub")
    rt = bootstrap(make_config(tmp_path, sqlite_url), pm=pm)
    app = create_app(rt, SCHEDULERX_SSE_SECONDS=6)
    srv = create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    # Let the threads finish (an open event stream ends by SCHEDULERX_SSE_SECONDS), then stop.
    srv.task_dispatcher.shutdown(cancel_pending=True, timeout=10)
    srv.close()
    thread.join(timeout=5)
    if not db.database.is_closed():
        db.database.close()


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=server)
        pg = context.new_page()
        pg.set_default_timeout(10_000)
        pg.problems = []
        pg.on("pageerror", lambda exc: pg.problems.append(f"JS error: {exc}"))
        # Form pages answer 422 on purpose; any failing script, style, image or stream is a problem.
        pg.on("console", lambda msg: pg.problems.append(msg.text)
              if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
        pg.on("response", lambda r: pg.problems.append(f"{r.status} {r.url}")
              if r.status >= 400 and r.request.resource_type != "document" else None)
        yield pg
        context.close()
        browser.close()


def shot(page, name):
    page.screenshot(path=f"/tmp/schedulerx-{name}.png", full_page=True)


def test_dashboard_end_to_end(page, tmp_path):
    from playwright.sync_api import expect

    # First run: / sends us to the set-up page.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.fill("input[name=email]", "me@example.com")
    page.fill("input[name=name]", "Me")
    page.fill("input[name=password]", "a long password")
    page.fill("input[name=password2]", "a long password")
    page.fill("input[name=workspace]", "Studio")
    page.fill("input[name=timezone]", "Europe/Berlin")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Studio")
    expect(page.locator(".alert-ok")).to_contain_text("Welcome")

    # Log out and in again through the form.
    page.click("button.logout")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("input[name=email]", "me@example.com")
    page.fill("input[name=password]", "a long password")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Studio")

    # Every sidebar page opens and is the highlighted one.
    for label in SIDEBAR:
        page.locator("nav.nav a", has_text=label).first.click()
        active = page.locator("nav.nav a.nav-item.active")
        expect(active).to_have_count(1)
        expect(active).to_have_text(label)
        assert page.locator("main h1").count() == 1
    shot(page, "settings")

    # Connect an account: the settings fields come from the plugin's schema.
    page.locator("nav.nav a", has_text="Accounts").click()
    page.select_option("select[name=platform]", "browserpub")
    expect(page.locator("fieldset[data-platform]:visible")).to_have_count(1)
    expect(page.locator("fieldset[data-platform=browserpub]")).to_be_visible()
    page.fill("input[name=display_name]", "Studio feed")
    page.fill("input[name='s.browserpub.handle']", "studio")
    page.click("button:has-text('Connect account')")
    expect(page.locator(".field-errors")).to_contain_text("Missing data for required field.")
    assert page.input_value("input[name=display_name]") == "Studio feed"
    page.fill("input[name='s.browserpub.token']", "secret-token")
    page.click("button:has-text('Connect account')")
    expect(page.locator("#accounts")).to_contain_text("Studio feed")
    expect(page.locator("#accounts")).to_contain_text("connected")
    shot(page, "accounts")

    # Upload an image into the library.
    page.locator("nav.nav a", has_text="Media").click()
    png = tmp_path / "dot.png"
    png.write_bytes(PNG)
    page.set_input_files("input[type=file]", str(png))
    page.fill("input[name=tags]", "sun")
    page.click("button:has-text('Upload')")
    expect(page.locator(".media-card")).to_have_count(1)
    expect(page.locator(".media-card")).to_contain_text("dot.png")
    thumb = page.locator(".media-card img")
    expect(thumb).to_have_attribute("src", re.compile(r"^/api/v1/media/\d+/content$"))
    page.wait_for_function("() => document.querySelector('.media-card img').complete")
    assert thumb.evaluate("img => img.naturalWidth") == 1  # served by the media API
    shot(page, "media")

    # Compose: too long for the platform first (inline error, input kept), then fixed.
    page.locator("nav.nav a", has_text="Schedule").click()
    page.click("a:has-text('New post')")
    when = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("input[name=title]", "Launch day")
    page.fill("textarea[name=body]", "x" * 80)
    expect(page.locator("#body-count")).to_have_text("80")
    page.check("input[name=account_ids]")
    page.check("input[name=media]")
    page.fill("input[name=scheduled_at]", when)
    page.select_option("select[name=retry_strategy]", "fixed")
    page.click("button:has-text('Schedule post')")
    expect(page.locator(".checklist .field-error")).to_contain_text("Browser Pub allows 50")
    assert page.input_value("input[name=title]") == "Launch day"
    shot(page, "compose-error")
    page.fill("textarea[name=body]", "We launch today!")
    page.click("button:has-text('Schedule post')")

    # It is on the Schedule page, with a badge and a live countdown.
    expect(page.locator(".alert-ok")).to_contain_text("Scheduled on 1 account")
    row = page.locator("#publications tbody tr").first
    expect(row).to_contain_text("Launch day")
    expect(row.locator(".badge")).to_have_text("scheduled")
    expect(row.locator(".countdown")).to_contain_text("in 1h")
    assert when.replace("T", " ") in row.inner_text()
    pub = Publication.get()
    assert pub.retry_strategy == "fixed" and pub.status == "scheduled"
    shot(page, "schedule")

    # The same publication on the month calendar.
    page.click(".segmented a:has-text('Calendar')")
    expect(page.locator(".calendar-item", has_text="Launch day")).to_have_count(1)
    expect(page.locator("nav.nav a.nav-item.active")).to_have_text("Schedule")
    shot(page, "calendar")

    # Home: the next post counts down.
    page.locator("nav.nav a", has_text="Home").click()
    expect(page.locator(".upcoming")).to_contain_text("Launch day")
    expect(page.locator(".upcoming .countdown")).to_contain_text("in 1h")
    shot(page, "home")

    # Pause from the list, then open the detail page and cancel there (after confirming).
    page.locator("nav.nav a", has_text="Schedule").click()
    page.locator("#publications tbody tr").first.locator("button:has-text('Pause')").click()
    expect(page.locator("#publications tbody tr").first.locator(".badge")).to_have_text("paused")
    page.locator("#publications tbody tr").first.locator("a", has_text="Launch day").click()
    expect(page.locator("h1")).to_contain_text(f"Publication #{pub.id}")
    expect(page.locator("body")).to_contain_text("No attempt yet")
    shot(page, "publication")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Cancel')")
    expect(page.locator("h1 .badge")).to_have_text("canceled")
    assert Publication.get().status == "canceled"

    # Logs: events written elsewhere arrive without a reload (server-sent events through waitress).
    page.locator("nav.nav a", has_text="Logs").click()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "on")
    events.record(Workspace.get().id, "browser-test", "a live event from the test", level="warning")
    fresh = page.locator("#log-table tbody tr", has_text="a live event from the test")
    expect(fresh).to_have_count(1)
    expect(fresh.locator(".level")).to_have_text("warning")
    shot(page, "logs")

    assert page.problems == []
