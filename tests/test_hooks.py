"""One ``test_hook_<name>`` per hook in schedulerx/hookspecs.py, each through the real
plugin manager and the part of the app that calls the hook; then plugin loading.

tests/test_hook_docs.py fails when a hook has no test here.
"""
from __future__ import annotations

import io
import json
import logging
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from importlib.metadata import EntryPoint

import click
import dramatiq
import marshmallow
import pytest
from click.testing import CliRunner

import schedulerx.plugins
from schedulerx import accounts, auth, db, engine, hookimpl, media, posts, publications, states
from schedulerx.ai import generation
from schedulerx.ai.providers import AIProvider, Completion
from schedulerx.cli import cli
from schedulerx.models import Heartbeat, Publication
from schedulerx.plugins import make_plugin_manager
from schedulerx.publishers import PlatformDescriptor, Publisher, PublishResult
from schedulerx.runtime import bootstrap
from schedulerx.storage import Storage
from schedulerx.timeutil import utcnow
from schedulerx.web_types import NavItem, Route
from schedulerx_plugins.localstorage import LocalStorage
from schedulerx_workers import broker as broker_mod


@pytest.fixture
def ws(owner):
    return owner[1]


@pytest.fixture
def plugin(rt):
    """Register plugin objects on the runtime's manager for one test."""
    names = []

    def register(obj):
        names.append(rt.pm.register(obj, name=f"test-{uuid.uuid4().hex[:8]}"))
        return obj

    yield register
    for name in names:
        rt.pm.unregister(name=name)


@pytest.fixture
def fresh_broker():
    broker_mod.reset()
    yield
    b = broker_mod.current()
    broker_mod.reset()
    if b is not None:
        b.close()


def in_a_minute():
    return datetime.now(timezone.utc) + timedelta(minutes=1)


def login(client, user, workspace):
    with client.session_transaction() as s:
        s["user_id"], s["workspace_id"] = user.id, workspace.id


# --- registries ------------------------------------------------------------------

class EchoPublisher(Publisher):
    descriptor = PlatformDescriptor(name="echo", label="Echo")
    idempotent = True
    posted: list[str] = []

    def publish(self, ctx):
        self.posted.append(ctx.idempotency_key)
        return PublishResult(remote_id=f"echo-{ctx.publication_id}")


def test_hook_register_publishers(rt, ws, plugin):
    class EchoPlugin:
        @hookimpl
        def register_publishers(self):
            return [EchoPublisher]

    assert {"localfeed", "webhook"} <= set(rt.pm.publishers())  # first-party, via entry points
    plugin(EchoPlugin())
    assert rt.pm.publisher("echo") is EchoPublisher
    acc = accounts.create(rt.config, rt.pm, ws.id, platform="echo", display_name="Echo")
    post = posts.create(ws.id, title="t", body="b")
    [pub] = publications.schedule(rt.config, rt.pm, ws.id, post, [acc.id], in_a_minute(), "UTC")
    [(pid, claim)] = engine.claim_due(rt.config, now=utcnow() + timedelta(minutes=5))
    assert engine.publish(rt.pm, rt.config, pid, claim) == states.PUBLISHED
    assert Publication.get_by_id(pub.id).remote_id == f"echo-{pub.id}"
    assert pub.idempotency_key in EchoPublisher.posted


class UpperCaseProvider(AIProvider):
    """Answers the metadata schema with the topic in upper case."""
    name, label, offline = "uppercase", "Upper case", True

    def complete(self, request):
        topic = request.variables["topic"].upper()
        return Completion(text=json.dumps({"title": topic, "description": topic, "hashtags": []}))


class ReverseStage:
    name, label = "reverse", "Reverse"

    class settings_schema(marshmallow.Schema):
        pass

    def run(self, inputs: dict, settings: dict) -> dict:
        return {"text": inputs["text"][::-1]}


def test_hook_register_ai_providers(rt, plugin, owner):
    class AiPlugin:
        @hookimpl
        def register_ai_providers(self):
            return [UpperCaseProvider]

    assert "uppercase" not in rt.pm.ai_providers()
    plugin(AiPlugin())
    assert rt.pm.ai_providers()["uppercase"] is UpperCaseProvider
    result = generation.generate(rt.config, rt.pm, owner[1].id, topic="hi", provider="uppercase")
    assert (result.title, result.provider) == ("HI", "uppercase")


def test_hook_register_pipeline_stages(rt, plugin):
    class StagePlugin:
        @hookimpl
        def register_pipeline_stages(self):
            return [ReverseStage]

    plugin(StagePlugin())
    stage = rt.pm.pipeline_stages()["reverse"]
    assert stage is ReverseStage and stage().run({"text": "abc"}, {}) == {"text": "cba"}


class MemoryStorage(Storage):
    name = "memory"
    blobs: dict[str, bytes] = {}

    def save(self, key, fileobj):
        self.blobs[key] = fileobj.read()
        return len(self.blobs[key])

    def open(self, key):
        return io.BytesIO(self.blobs[key])

    def size(self, key):
        return len(self.blobs[key])

    def delete(self, key):
        self.blobs.pop(key, None)


def test_hook_register_storage_backends(rt, ws, plugin):
    from .test_localfeed import png_bytes
    assert rt.pm.storage_backends()["local"] is LocalStorage

    class MemoryPlugin:
        @hookimpl
        def register_storage_backends(self):
            return [MemoryStorage]

    plugin(MemoryPlugin())
    asset = media.ingest(rt.config, rt.pm, ws.id, io.BytesIO(png_bytes()), "a.png", storage="memory")
    assert MemoryStorage.blobs[asset.storage_key] == png_bytes()


# --- process wiring ---------------------------------------------------------------

def test_hook_register_commands(pm):
    class CommandPlugin:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("say-hello")
            def say_hello():
                """Greet from a plugin."""
                click.echo("hello from a plugin")

    saved = dict(cli.commands)
    pm.register(CommandPlugin(), name="command-plugin")
    try:
        pm.hook.register_commands(cli=cli)  # what `schedulerx` (cli.main) does at start
        runner = CliRunner()
        listing = runner.invoke(cli, ["--help"]).output
        for name in ("say-hello", "run", "web", "worker", "clock"):  # ours, web's, workers'
            assert name in listing
        assert "Greet from a plugin." in listing
        assert runner.invoke(cli, ["say-hello"]).output == "hello from a plugin\n"
    finally:
        cli.commands.clear()
        cli.commands.update(saved)


def test_hook_register_routes(rt, plugin):
    from schedulerx_web.app import create_app

    class RoutePlugin:
        @hookimpl
        def register_routes(self):
            return [Route("/hello/<name>", "hello", lambda name: f"hello {name}", public=True),
                    Route("/private-report", "report", lambda: "secret numbers")]

    plugin(RoutePlugin())
    client = create_app(rt, TESTING=True).test_client()
    got = client.get("/hello/world")
    assert (got.status_code, got.text) == (200, "hello world")
    private = client.get("/private-report")  # not public: the login page, not the report
    assert private.status_code == 302 and "/login" in private.headers["Location"]
    assert b"secret numbers" not in private.data


def test_hook_dashboard_nav(rt, ws, owner, plugin):
    from schedulerx_web.app import create_app
    seen = []

    class NavPlugin:
        @hookimpl
        def dashboard_nav(self, workspace):
            seen.append(workspace.id)
            return [NavItem("Reports", "/reports", "chart")]

    plugin(NavPlugin())
    assert [NavItem("Reports", "/reports", "chart")] in rt.pm.hook.dashboard_nav(workspace=ws)
    client = create_app(rt, TESTING=True).test_client()
    login(client, owner[0], ws)
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/reports"' in page.text and "Reports" in page.text
    assert ws.id in seen


def test_hook_start_embedded(rt, fresh_broker):
    config = replace(rt.config, tick_interval=0.1, heartbeat_interval=0.2, publish_lease=5)
    stops = [s for s in rt.pm.hook.start_embedded(config=config) if s]
    assert len(stops) == 1  # the workers plugin
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            kinds = {h.kind for h in Heartbeat.select()}
            if {"clock", "tick", "worker"} <= kinds:
                break
            time.sleep(0.1)
        assert {"clock", "tick", "worker"} <= kinds, kinds
    finally:
        started = time.monotonic()
        stops[0]()
    assert time.monotonic() - started < 10
    assert not [t for t in threading.enumerate() if t.name == "schedulerx-clock"]


def test_hook_dispatch_tick(rt, fresh_broker, plugin):
    class Abstains:
        @hookimpl(tryfirst=True)
        def dispatch_tick(self):
            return None  # firstresult: None lets the next implementation answer

    plugin(Abstains())
    assert rt.pm.hook.dispatch_tick() is True  # the workers plugin sent it
    queue = broker_mod.current().queues["schedulerx"]
    [message] = [dramatiq.Message.decode(queue.get_nowait()) for _ in range(queue.qsize())]
    assert message.actor_name == "tick"


# --- events -----------------------------------------------------------------------

def test_hook_publication_status_changed(rt, ws, plugin):
    calls = []

    class Recorder:
        @hookimpl
        def publication_status_changed(self, publication, old_status, new_status):
            # Called after commit: the database already says so.
            committed = Publication.get_by_id(publication.id).status
            calls.append((publication.id, old_status, new_status, committed))

    class Broken:
        @hookimpl
        def publication_status_changed(self, publication, old_status, new_status):
            raise RuntimeError("a plugin bug")

    plugin(Broken())
    plugin(Recorder())
    acc = accounts.create(rt.config, rt.pm, ws.id, platform="localfeed", display_name="Feed")
    post = posts.create(ws.id, title="t", body="b")
    [pub] = publications.schedule(rt.config, rt.pm, ws.id, post, [acc.id], in_a_minute(), "UTC")
    canceled = publications.act(rt.pm, pub, "cancel")
    assert canceled.status == states.CANCELED  # a failing plugin undoes nothing
    assert calls == [(pub.id, states.SCHEDULED, states.CANCELED, states.CANCELED)]


# --- plugin loading ---------------------------------------------------------------

@pytest.fixture
def fake_entry_points(tmp_path, monkeypatch):
    """Plugin modules written to disk, offered as entry points next to the real ones."""
    monkeypatch.syspath_prepend(str(tmp_path))
    suffix = uuid.uuid4().hex[:8]
    sources = {
        "good": """
            from schedulerx import hookimpl

            class Provider:
                name, label = "good-ai", "Good"

            @hookimpl
            def register_ai_providers():
                return [Provider]
        """,
        "broken": "raise RuntimeError('boom at import')\n",
        "misspelt": """
            from schedulerx import hookimpl

            @hookimpl
            def register_publisher():  # the hook is register_publishers
                return []
        """,
    }
    fakes = []
    for name, source in sources.items():
        module = f"sx_test_{name}_{suffix}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        fakes.append(EntryPoint(name=name, value=module, group="schedulerx"))
        monkeypatch.delitem(sys.modules, module, raising=False)
    real = schedulerx.plugins.entry_points
    monkeypatch.setattr(schedulerx.plugins, "entry_points",
                        lambda group: [*fakes, *real(group=group)])
    monkeypatch.delenv("SCHEDULERX_PLUGINS", raising=False)


def test_a_broken_or_misspelt_plugin_is_a_load_error_and_the_rest_loads(fake_entry_points):
    pm = make_plugin_manager()
    errors = {e.name: e for e in pm.load_errors}
    assert set(errors) == {"broken", "misspelt"}
    assert "boom at import" in errors["broken"].error
    assert "register_publisher" in errors["misspelt"].error
    assert pm.get_plugin("misspelt") is None  # unregistered, so it cannot half-work
    assert "good-ai" in pm.ai_providers()
    assert {"localfeed", "webhook"} <= set(pm.publishers())


def test_the_app_goes_on_and_reports_broken_plugins_on_status(fake_entry_points, config):
    from schedulerx_web.app import create_app
    rt = bootstrap(config, pm=make_plugin_manager())
    try:
        user, ws = auth.create_user("ops@example.com", "a long password", workspace_name="Ops")
        _, token = auth.create_token(user, ws, "status")
        client = create_app(rt, TESTING=True).test_client()
        status = client.get("/api/v1/status", headers={"Authorization": f"Bearer {token}"})
    finally:
        db.database.close()
    assert status.status_code == 200
    assert {e["name"] for e in status.json["plugin_errors"]} == {"broken", "misspelt"}
    assert status.json["healthy"] is False
    assert "good" in {p["name"] for p in status.json["plugins"]}


def test_schedulerx_plugins_restricts_which_entry_points_load(fake_entry_points, monkeypatch):
    monkeypatch.setenv("SCHEDULERX_PLUGINS", "good, localfeed")
    pm = make_plugin_manager()
    assert {name for name, _ in pm.list_name_plugin()} == {"good", "localfeed"}
    assert pm.load_errors == []  # the broken ones were never imported
    assert set(pm.publishers()) == {"localfeed"}


def test_schedulerx_trace_hooks_logs_every_hook_call(monkeypatch, caplog):
    monkeypatch.setenv("SCHEDULERX_TRACE_HOOKS", "1")
    pm = make_plugin_manager("localfeed")
    with caplog.at_level(logging.INFO, logger="schedulerx.plugins"):
        pm.publishers()
    assert "register_publishers" in caplog.text
