"""The publisher contract: the checks every SchedulerX publisher must pass, against its own fake.

Subclass ``PublisherContract`` in a test module (the class name must start with
``Test``), say which publisher it checks and give a running fake (subclass
``PublisherHarness`` instead for a platform's own extra tests on the same set-up)::

    from schedulerx.testing.publisher_contract import PublisherContract

    class TestPasteContract(PublisherContract):
        publisher = PastePublisher
        media_kinds = ("image",)

        @pytest.fixture
        def fake(self):
            with PasteFake() as fake:
                yield fake

        def account_settings(self, fake):          # settings-form platforms
            return {"api_url": fake.url, "api_key": "good"}

        def platform_config(self, fake):           # OAuth platforms, base URL overrides
            return {"api_url": fake.url}

Each test builds its own SchedulerX (SQLite in ``tmp_path``, the ``localstorage``
plugin and your publisher), connects an account (through the OAuth flow against
the fake when the publisher declares ``oauth``), schedules a post and runs the
real engine — the same claim/publish/reconcile code the workers run — moving the
clock forward instead of sleeping. The fake must follow ``FakePlatform``'s
protocol: ``posts``, ``fail_next(kind)``, ``reject_message``, ``rate_limit_wait``;
OAuth fakes also ``OAuthFake``'s ``refresh_count``, ``expire_access_tokens()``,
``revoke_refresh_tokens()``; settings-form fakes ``revoke_access_tokens()``.
"""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from schedulerx import accounts, engine, hookimpl, media, oauth, posts, publications, states
from schedulerx.config import load_config
from schedulerx.crypto import decrypt_json
from schedulerx.db import database
from schedulerx.errors import ValidationError
from schedulerx.models import Account, Event, Publication
from schedulerx.plugins import make_plugin_manager
from schedulerx.publishers import Publisher
from schedulerx.runtime import Runtime, bootstrap
from schedulerx.timeutil import from_storage, utcnow

from .samples import mp4_bytes, png_bytes

SECRET_KEY = "contract-kit-secret-key-" + "k" * 32


@dataclass
class Harness:
    """One SchedulerX with one connected account on the platform under test."""
    rt: Runtime
    workspace: Any
    user: Any
    account: Account
    fake: Any
    publisher: type[Publisher]
    #: what every post carries unless a test says otherwise: one file of the first media
    #: kind when the platform takes no text-only post (``PlatformLimits.media_required``)
    default_media: tuple[str, ...] = ()

    def upload(self, kind: str) -> int:
        data, name = (png_bytes(), "pic.png") if kind == "image" else (mp4_bytes(64), "clip.mp4")
        asset = media.ingest(self.rt.config, self.rt.pm, self.workspace.id, io.BytesIO(data), name)
        return asset.id

    def schedule(self, body: str = "Hello from the contract kit", *, media_kinds=None, **fields) -> Publication:
        if media_kinds is None:
            media_kinds = self.default_media
        post = posts.create(self.workspace.id, body=body,
                            media=[self.upload(k) for k in media_kinds], **fields)
        [pub] = publications.schedule(self.rt.config, self.rt.pm, self.workspace.id, post,
                                      [self.account.id], from_storage(utcnow()), "UTC")
        return pub

    def run(self, pub: Publication) -> Publication:
        """Tick when ``pub`` is next due (moving the clock, not sleeping) and publish all
        that was claimed, as the workers would; return ``pub`` as it is then."""
        pub = Publication.get_by_id(pub.id)
        at = max(pub.due_at or utcnow(), utcnow()) + timedelta(seconds=1)
        claimed = engine.claim_due(self.rt.config, now=at)
        assert pub.id in dict(claimed), f"publication {pub.id} ({pub.status}) was not due at {at}"
        for pub_id, claim in claimed:
            engine.publish(self.rt.pm, self.rt.config, pub_id, claim)
        return Publication.get_by_id(pub.id)

    def fresh_account(self) -> Account:
        return Account.get_by_id(self.account.id)

    def events_about(self, kind: str, subject_id: int) -> list[str]:
        return [e.message for e in Event.select().where(Event.subject_type == kind,
                                                        Event.subject_id == subject_id)]


class PublisherHarness:
    """The set-up without the checks: subclass it for a platform's own tests on the same harness."""

    publisher: ClassVar[type[Publisher]]
    #: which media the platform takes: "image", "video" (each is published once in a test)
    media_kinds: ClassVar[tuple[str, ...]] = ("image",)

    # --- what a subclass gives ---------------------------------------------------

    @pytest.fixture
    def fake(self):
        raise NotImplementedError("give a `fake` fixture that yields your running platform fake")

    def account_settings(self, fake) -> dict:
        """Settings (secrets included) that connect an account to the fake (settings-form platforms)."""
        return {}

    def platform_config(self, fake) -> dict:
        """Operator settings of the platform (``Config.platforms``): client id/secret, base URLs."""
        return {}

    # --- the harness -------------------------------------------------------------

    @pytest.fixture
    def harness(self, tmp_path, fake):
        from schedulerx import auth
        config = load_config(data_dir=tmp_path / "data",
                             database_url=f"sqlite:///{tmp_path / 'contract.db'}",
                             secret_key=SECRET_KEY,
                             platforms={self.publisher.descriptor.name: self.platform_config(fake)})
        pm = make_plugin_manager(only="localstorage")
        cls = self.publisher

        class _Plugin:
            @hookimpl
            def register_publishers(self):
                return [cls]

        pm.register(_Plugin(), name="publisher-under-test")
        rt = bootstrap(config, pm=pm)
        user, ws = auth.create_user("contract@example.com", "contract kit password",
                                    workspace_name="Contract")
        account = self._connect(rt, ws, user, fake)
        default_media = self.media_kinds[:1] if cls.descriptor.limits.media_required else ()
        yield Harness(rt, ws, user, account, fake, cls, default_media)
        if not database.is_closed():
            database.close()

    def _connect(self, rt, ws, user, fake) -> Account:
        name = self.publisher.descriptor.name
        if self.publisher.oauth is None:
            # A publisher that checks the connection names the account itself.
            named = self.publisher.check_connection is not Publisher.check_connection
            return accounts.create(rt.config, rt.pm, ws.id, platform=name,
                                   display_name="" if named else "Contract",
                                   settings=self.account_settings(fake))
        # The real flow: authorize at the fake (it approves at once), then the callback's work.
        url, _row = oauth.begin(rt.config, rt.pm, workspace_id=ws.id, user_id=user.id, platform=name)
        answer = httpx.get(url, follow_redirects=False)
        assert answer.status_code in (302, 303), f"the fake's authorize endpoint answered {answer.status_code}: {answer.text}"
        back = parse_qs(urlsplit(answer.headers["Location"]).query)
        return oauth.complete(rt.config, rt.pm, workspace_id=ws.id, user_id=user.id, platform=name,
                              state=back["state"][0], code=back["code"][0])



class PublisherContract(PublisherHarness):
    """Inherit it; give ``publisher``, ``media_kinds``, a ``fake`` fixture and the settings."""

    # --- the checks ---------------------------------------------------------------

    def test_connects_and_keeps_secrets_encrypted(self, harness):
        acc = harness.fresh_account()
        assert acc.health == "connected" and acc.display_name
        secrets = decrypt_json(harness.rt.config.secret_key, acc.credentials)
        for value in secrets.values():
            if isinstance(value, str) and len(value) >= 6:
                assert value not in acc.credentials, "a secret is stored in clear"
        if self.publisher.oauth is not None:
            assert secrets.get("access_token") and acc.token_expires_at is not None

    def test_publishes_text_exactly_once(self, harness):
        if self.publisher.descriptor.limits.media_required:
            # The platform takes no text-only post: refused when scheduling, nothing sent.
            # (Every other check here posts the first of ``media_kinds`` with its text.)
            with pytest.raises(ValidationError) as info:
                harness.schedule("Contract: plain text", media_kinds=())
            assert "text-only" in str(info.value.errors)
            assert harness.fake.posts == []
            return
        pub = harness.run(harness.schedule("Contract: plain text"))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert pub.remote_id
        assert [p["text"] for p in harness.fake.posts] == ["Contract: plain text"]

    def test_publishes_each_media_kind(self, harness):
        for kind in self.media_kinds:
            pub = harness.run(harness.schedule(f"Contract: with {kind}", media_kinds=(kind,)))
            assert pub.status == states.PUBLISHED, (kind, pub.error_message)
            post = harness.fake.posts[-1]
            assert post["text"] == f"Contract: with {kind}" and len(post["media"]) == 1, post
        assert len(harness.fake.posts) == len(self.media_kinds)

    def test_too_long_text_is_refused_when_scheduling(self, harness):
        limits = self.publisher(harness.rt.config).limits_for(
            harness.account.settings, harness.account.platform_info)
        if limits.text_max is None:
            pytest.skip(f"{self.publisher.descriptor.label} declares no text limit")
        with pytest.raises(ValidationError) as info:
            harness.schedule("x" * (limits.text_max + 1))
        assert "text is" in str(info.value.errors)
        assert harness.fake.posts == []

    def test_rate_limit_waits_then_succeeds(self, harness):
        harness.fake.fail_next("rate_limit")
        before = utcnow()
        pub = harness.run(harness.schedule("Contract: rate limited"))
        assert pub.status == states.RETRY_WAIT and pub.error_code == "rate_limited", pub.error_message
        # Never sooner than the platform asked (minus a second of clock rounding).
        assert pub.next_attempt_at >= before + timedelta(seconds=harness.fake.rate_limit_wait - 1)
        pub = harness.run(pub)
        assert pub.status == states.PUBLISHED
        assert len(harness.fake.posts) == 1

    def test_server_error_is_retried(self, harness):
        harness.fake.fail_next("server_error")
        pub = harness.run(harness.schedule("Contract: 5xx first"))
        assert pub.status == states.RETRY_WAIT, pub.error_message
        pub = harness.run(pub)
        assert pub.status == states.PUBLISHED and len(harness.fake.posts) == 1

    def test_permanent_error_fails_with_the_platform_message(self, harness):
        harness.fake.fail_next("reject")
        pub = harness.run(harness.schedule("Contract: refused"))
        assert pub.status == states.FAILED
        assert harness.fake.reject_message in (pub.error_message or "")
        assert harness.fake.posts == []

    def test_interrupted_after_posting_never_posts_twice(self, harness):
        harness.fake.fail_next("drop_after_post")
        pub = harness.run(harness.schedule("Contract: answer lost"))
        pub = self._settle(harness, pub)
        if self.publisher.can_look_up or self.publisher.idempotent:
            assert pub.status == states.PUBLISHED, (pub.status, pub.error_message)
        else:  # the platform cannot be asked: the user decides
            assert pub.status == states.UNKNOWN
            assert any("mark it published" in m for m in harness.events_about("publication", pub.id))
        assert len(harness.fake.posts) == 1

    def test_interrupted_before_posting_posts_once(self, harness):
        harness.fake.fail_next("drop_before_post")
        pub = harness.run(harness.schedule("Contract: request lost"))
        pub = self._settle(harness, pub)
        if self.publisher.can_look_up or self.publisher.idempotent:
            assert pub.status == states.PUBLISHED, (pub.status, pub.error_message)
            assert len(harness.fake.posts) == 1
        else:
            assert pub.status == states.UNKNOWN and harness.fake.posts == []

    @staticmethod
    def _settle(harness, pub) -> Publication:
        """Run the retries reconciliation allowed, as the tick would."""
        for _ in range(3):
            if pub.status != states.RETRY_WAIT:
                break
            pub = harness.run(pub)
        return pub

    # --- credentials ------------------------------------------------------------

    def test_expired_token_is_refreshed_before_publishing(self, harness):
        if self.publisher.oauth is None:
            pytest.skip("connects with a long-lived token: nothing to refresh")
        Account.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
            Account.id == harness.account.id).execute()
        old = decrypt_json(harness.rt.config.secret_key, harness.fresh_account().credentials)
        pub = harness.run(harness.schedule("Contract: after refresh"))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.refresh_count == 1
        new = decrypt_json(harness.rt.config.secret_key, harness.fresh_account().credentials)
        assert new["access_token"] != old["access_token"] and new.get("refresh_token")
        assert harness.fresh_account().token_expires_at > utcnow()

    def test_token_rejected_mid_publish_is_refreshed_once(self, harness):
        if self.publisher.oauth is None:
            pytest.skip("connects with a long-lived token: nothing to refresh")
        harness.fake.expire_access_tokens()  # the platform revoked it early
        pub = harness.run(harness.schedule("Contract: 401 then refresh"))
        assert pub.status == states.PUBLISHED, pub.error_message
        assert harness.fake.refresh_count == 1 and len(harness.fake.posts) == 1

    def test_two_workers_refresh_with_one_single_use_token(self, harness):
        if self.publisher.oauth is None:
            pytest.skip("connects with a long-lived token: nothing to refresh")
        Account.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
            Account.id == harness.account.id).execute()
        results, errors = [], []

        def refresh():
            try:
                results.append(oauth.ensure_fresh(harness.rt.config, harness.rt.pm, harness.account.id))
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                database.close()
        threads = [threading.Thread(target=refresh) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert harness.fake.refresh_count == 1
        assert results[0]["access_token"] == results[1]["access_token"]

    def test_failed_refresh_needs_reconnect_and_fails_due_posts(self, harness):
        if self.publisher.oauth is None:
            harness.fake.revoke_access_tokens()
        else:
            harness.fake.revoke_refresh_tokens()
            Account.update(token_expires_at=utcnow() - timedelta(seconds=1)).where(
                Account.id == harness.account.id).execute()
        first = harness.schedule("Contract: cannot refresh")
        second = harness.schedule("Contract: also due")
        harness.run(first)
        acc = harness.fresh_account()
        assert acc.health == "needs_reconnect" and acc.health_message
        assert any("needs reconnecting" in m for m in harness.events_about("account", acc.id))
        pubs = [Publication.get_by_id(p.id) for p in (first, second)]
        assert [p.status for p in pubs] == [states.FAILED, states.FAILED]
        # The one that did not meet the refusal itself says why it was not tried.
        assert any("reconnect" in (p.error_message or "") for p in pubs)
        assert harness.fake.posts == []
        # Nothing is left to retry on its own: the user reconnects first.
        assert engine.claim_due(harness.rt.config, now=utcnow() + timedelta(days=2)) == []
