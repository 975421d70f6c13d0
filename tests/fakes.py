"""An in-process publisher whose behaviour each test chooses, and which counts what it got.

Used for engine tests, which are about the state machine rather than a platform
(the platform fakes are real HTTP servers, in the publisher tests).
"""
from __future__ import annotations

import threading
from collections import Counter

import marshmallow as ma

from schedulerx import hookimpl
from schedulerx.publishers import (AuthError, PermanentError, PlatformDescriptor, PlatformLimits,
                                   Publisher, PublishResult, RateLimited, TemporaryError)


class Script:
    """What the fake does on each call: a list of outcomes consumed in order, then 'ok'."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.outcomes: list[str] = []
        self.posted: Counter = Counter()  # idempotency key → times the platform stored it
        self.calls: Counter = Counter()
        self.reconcile_answer = "lookup"  # lookup / none / raise
        self.on_call = None

    def next(self) -> str:
        with self.lock:
            return self.outcomes.pop(0) if self.outcomes else "ok"


SCRIPT = Script()


class FakeSettings(ma.Schema):
    handle = ma.fields.String(load_default="me")
    token = ma.fields.String(load_default="")


class FakePublisher(Publisher):
    descriptor = PlatformDescriptor("fake", "Fake", PlatformLimits(text_max=50, media_max_count=1))
    settings_schema = FakeSettings
    secret_fields = ("token",)
    idempotent = False
    can_look_up = True

    def publish(self, ctx):
        SCRIPT.calls[ctx.idempotency_key] += 1
        if SCRIPT.on_call:
            SCRIPT.on_call(ctx)
        outcome = SCRIPT.next()
        if outcome == "temporary":
            raise TemporaryError("server said 503", raw={"status": 503})
        if outcome == "rate":
            raise RateLimited("slow down", retry_after=120)
        if outcome == "permanent":
            raise PermanentError("text rejected: duplicate status", raw={"status": 422})
        if outcome == "auth":
            raise AuthError("token expired and refresh failed")
        if outcome == "crash_after_post":  # the post went out, the answer was lost
            SCRIPT.posted[ctx.idempotency_key] += 1
            raise ConnectionResetError("connection reset by peer")
        if outcome == "crash_before_post":
            raise ConnectionResetError("connection reset by peer")
        SCRIPT.posted[ctx.idempotency_key] += 1
        return PublishResult(remote_id=f"fake-{ctx.publication_id}",
                             url=f"https://fake.example/{ctx.publication_id}", raw={"ok": True})

    def reconcile(self, ctx):
        if SCRIPT.reconcile_answer == "none":
            return None
        if SCRIPT.reconcile_answer == "raise":
            raise TimeoutError("platform search timed out")
        if SCRIPT.posted[ctx.idempotency_key]:
            return PublishResult(remote_id=f"fake-{ctx.publication_id}", url=None, raw="found")
        return False


class IdempotentFake(FakePublisher):
    descriptor = PlatformDescriptor("fake-idem", "Fake (idempotent)", PlatformLimits(text_max=50))
    idempotent = True

    def reconcile(self, ctx):
        return None


class FakePlugin:
    @hookimpl
    def register_publishers(self):
        return [FakePublisher, IdempotentFake]
