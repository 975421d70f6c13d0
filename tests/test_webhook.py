"""The webhook publisher against a real HTTP receiver on 127.0.0.1.

The receiver enforces the documented contract (JSON body, HMAC signature,
timestamp, Idempotency-Key), deduplicates on the key as receivers must, and
counts what it got, so the tests can assert "delivered exactly once".
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from schedulerx import accounts, engine, posts, publications, states
from schedulerx.crypto import decrypt_json
from schedulerx.errors import ValidationError
from schedulerx.models import Account, Publication
from schedulerx.timeutil import utcnow

SECRET = "receiver-shared-secret-0123456789"


class Receiver:
    """A webhook receiver. ``script`` holds what to do with the next requests:
    ``("ok",)``, ``("status", code, headers, text)`` or ``("slow", seconds)`` (deliver,
    then answer late). Without a script entry it delivers and answers 200."""

    def __init__(self, secret: str = SECRET):
        self.secret = secret
        self.requests: list[dict] = []   # every request that passed the contract checks
        self.delivered: dict[str, dict] = {}  # idempotency key → payload, deduplicated
        self.script: list[tuple] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, code, payload=None, headers=None, text=None):
                data = text.encode() if text is not None else json.dumps(payload or {}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json" if text is None else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                problem = receiver.check(self.headers, raw)
                if problem:
                    return self.answer(problem[0], {"error": problem[1]})
                payload = json.loads(raw)
                key = self.headers["Idempotency-Key"]
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "payload": payload})
                    step = receiver.script.pop(0) if receiver.script else ("ok",)
                if step[0] == "status":
                    _, code, headers, text = step
                    return self.answer(code, headers=headers, text=text)
                with receiver.lock:
                    receiver.delivered.setdefault(key, payload)
                    remote_id = f"rcv-{list(receiver.delivered).index(key) + 1}"
                if step[0] == "slow":
                    time.sleep(step[1])
                self.answer(200, {"id": remote_id, "url": f"https://example.org/p/{remote_id}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/schedulerx"

    def check(self, headers, raw: bytes):
        """The contract a receiver checks: (status, reason) when the request breaks it."""
        if headers.get("Content-Type") != "application/json":
            return 415, "JSON expected"
        expected = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("X-SchedulerX-Signature", ""), expected):
            return 401, "bad signature"
        payload = json.loads(raw)
        if headers.get("X-SchedulerX-Timestamp") != str(payload["sent_at"]):
            return 400, "timestamp header does not match the signed body"
        if abs(time.time() - payload["sent_at"]) > 300:
            return 400, "stale request"
        if not headers.get("Idempotency-Key") or headers["Idempotency-Key"] != payload["idempotency_key"]:
            return 400, "Idempotency-Key missing or not the body's"
        return None

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def allow_private(monkeypatch):
    # The receiver lives on 127.0.0.1, which webhooks refuse unless the operator allows it.
    monkeypatch.setenv("SCHEDULERX_WEBHOOK_ALLOW_PRIVATE", "1")


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def ws(owner):
    return owner[1]


def hook_account(rt, ws, url, **settings):
    return accounts.create(rt.config, rt.pm, ws.id, platform="webhook", display_name="Hook",
                           settings={"url": url, "secret": SECRET, **settings})


def schedule(rt, ws, account, **post_fields):
    post = posts.create(ws.id, **({"title": "Hello", "body": "The body", "tags": ["a", "b"]}
                                  | post_fields))
    [pub] = publications.schedule(rt.config, rt.pm, ws.id, post, [account.id],
                                  datetime.now(timezone.utc) + timedelta(minutes=1), "UTC")
    return pub


def run_due(rt, days: float = 1) -> dict[int, str]:
    """Claim everything due within ``days`` (as the tick would) and publish it."""
    claimed = engine.claim_due(rt.config, now=utcnow() + timedelta(days=days))
    return {pid: engine.publish(rt.pm, rt.config, pid, claim) for pid, claim in claimed}


def test_a_post_is_delivered_signed_once_and_published(rt, ws, receiver):
    acc = hook_account(rt, ws, receiver.url)
    pub = schedule(rt, ws, acc)
    assert run_due(rt) == {pub.id: states.PUBLISHED}
    pub = Publication.get_by_id(pub.id)
    assert (pub.remote_id, pub.remote_url) == ("rcv-1", "https://example.org/p/rcv-1")
    [request] = receiver.requests
    assert request["headers"]["Idempotency-Key"] == pub.idempotency_key
    assert request["headers"]["X-SchedulerX-Event"] == "publication.published"
    body = request["payload"]
    assert body["event"] == "publication.published"
    assert (body["publication_id"], body["idempotency_key"]) == (pub.id, pub.idempotency_key)
    assert (body["title"], body["body"], body["tags"]) == ("Hello", "The body", ["a", "b"])
    assert body["media"] == [] and body["scheduled_at"].endswith("+00:00")
    assert list(receiver.delivered) == [pub.idempotency_key]


def test_a_read_timeout_after_sending_is_retried_and_delivered_exactly_once(rt, ws, receiver):
    """The receiver got the post but answered too late: unknown → retried with the same key."""
    acc = hook_account(rt, ws, receiver.url, read_timeout=0.5)
    pub = schedule(rt, ws, acc)
    receiver.script = [("slow", 2.0)]
    assert run_due(rt) == {pub.id: states.RETRY_WAIT}
    assert Publication.get_by_id(pub.id).error_code == "reconciled_retry"
    assert run_due(rt) == {pub.id: states.PUBLISHED}
    keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
    assert keys == [pub.idempotency_key] * 2           # the same key on the retry …
    assert list(receiver.delivered) == [pub.idempotency_key]  # … so delivered exactly once
    assert Publication.get_by_id(pub.id).remote_id == "rcv-1"


def test_a_server_error_waits_for_a_retry_which_then_publishes(rt, ws, receiver):
    acc = hook_account(rt, ws, receiver.url)
    pub = schedule(rt, ws, acc)
    receiver.script = [("status", 503, {}, "down for maintenance")]
    assert run_due(rt) == {pub.id: states.RETRY_WAIT}
    row = Publication.get_by_id(pub.id)
    assert row.error_code == "http_503" and "down for maintenance" in row.error_message
    assert row.next_attempt_at > utcnow()
    assert run_due(rt) == {pub.id: states.PUBLISHED}
    assert len(receiver.requests) == 2 and list(receiver.delivered) == [pub.idempotency_key]


def test_a_client_error_fails_with_the_receivers_message(rt, ws, receiver):
    acc = hook_account(rt, ws, receiver.url)
    pub = schedule(rt, ws, acc)
    receiver.script = [("status", 400, {}, "tags must not contain 'b'")]
    assert run_due(rt) == {pub.id: states.FAILED}
    row = Publication.get_by_id(pub.id)
    assert row.error_code == "http_400"
    assert "400" in row.error_message and "tags must not contain 'b'" in row.error_message
    assert run_due(rt) == {}  # never retried
    assert receiver.delivered == {}


def test_rate_limited_retries_no_sooner_than_retry_after(rt, ws, receiver):
    acc = hook_account(rt, ws, receiver.url)
    pub = schedule(rt, ws, acc)
    receiver.script = [("status", 429, {"Retry-After": "900"}, "slow down")]
    before = utcnow()
    assert run_due(rt) == {pub.id: states.RETRY_WAIT}
    row = Publication.get_by_id(pub.id)
    assert row.error_code == "rate_limited"
    # The policy alone would wait 60 s after the first attempt; Retry-After says 900.
    assert row.next_attempt_at >= before + timedelta(seconds=899)
    assert engine.claim_due(rt.config, now=before + timedelta(seconds=800)) == []


def test_a_wrong_secret_fails_and_asks_to_reconnect(rt, ws, receiver):
    acc = accounts.create(rt.config, rt.pm, ws.id, platform="webhook", display_name="Hook",
                          settings={"url": receiver.url, "secret": "not-the-receivers-secret"})
    pub = schedule(rt, ws, acc)
    assert run_due(rt) == {pub.id: states.FAILED}
    assert "401" in Publication.get_by_id(pub.id).error_message
    assert Account.get_by_id(acc.id).health == "needs_reconnect"


def test_a_refused_connection_is_temporary(rt, ws):
    with Receiver() as gone:
        url = gone.url
    acc = hook_account(rt, ws, url, connect_timeout=1)
    pub = schedule(rt, ws, acc)
    assert run_due(rt) == {pub.id: states.RETRY_WAIT}
    assert Publication.get_by_id(pub.id).error_code == "connect"


def test_private_targets_are_refused_unless_the_operator_allows_them(rt, ws, receiver, monkeypatch):
    monkeypatch.delenv("SCHEDULERX_WEBHOOK_ALLOW_PRIVATE")
    acc = hook_account(rt, ws, receiver.url.replace("127.0.0.1", "localhost"))
    pub = schedule(rt, ws, acc)
    assert run_due(rt) == {pub.id: states.FAILED}
    row = Publication.get_by_id(pub.id)
    assert row.error_code == "target_refused" and "SCHEDULERX_WEBHOOK_ALLOW_PRIVATE" in row.error_message
    assert receiver.requests == []


def test_the_secret_is_stored_encrypted_and_settings_are_validated(rt, ws, receiver):
    acc = hook_account(rt, ws, receiver.url)
    assert "secret" not in acc.settings and SECRET not in acc.credentials
    assert decrypt_json(rt.config.secret_key, acc.credentials) == {"secret": SECRET}
    acc = accounts.update(rt.config, rt.pm, acc, settings={"read_timeout": 30})
    assert decrypt_json(rt.config.secret_key, acc.credentials) == {"secret": SECRET}
    for bad in ({"url": "ftp://example.org/x", "secret": SECRET},
                {"url": "https://user:pw@example.org/x", "secret": SECRET},
                {"url": "https://example.org/x"},
                {"url": "https://example.org/x", "secret": SECRET, "read_timeout": 0}):
        with pytest.raises(ValidationError):
            accounts.create(rt.config, rt.pm, ws.id, platform="webhook", display_name="Bad",
                            settings=bad)
