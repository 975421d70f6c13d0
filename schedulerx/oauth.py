"""OAuth 2.0 authorization code flow (RFC 6749, PKCE RFC 7636) and token refresh.

The publisher declares its endpoints and scopes (``Publisher.oauth``); the
operator gives the app's client id and secret (``SCHEDULERX_<PLATFORM>_CLIENT_ID``
/ ``…_CLIENT_SECRET``, see ``Config.platform_setting``). The web app calls:

* ``begin``    → the platform's authorize URL. The ``state`` is stored, single
  use, for ten minutes, bound to the user and workspace that began it; the PKCE
  verifier is stored encrypted beside it.
* ``complete`` → on the callback: consume the state (compare-and-set delete),
  check it belongs to the caller, exchange the code, ask the publisher who the
  account is, store the tokens encrypted. A reconnect keeps the stored refresh
  token when the platform sends no new one.

Workers call ``ensure_fresh`` before publishing: a token close to expiry is
refreshed under a compare-and-set lease on the account row, so two workers never
spend one single-use (rotating) refresh token twice; a worker that finds the
lease taken waits for the other's result.

Platforms that trade tokens their own way (Meta: a short-lived token exchanged
for a long-lived one, renewed by ``ig_refresh_token``) implement
``Publisher.connected_tokens`` and ``Publisher.refresh_tokens``; both run at the
same points, under the same lease, with the same error handling.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import httpx

from . import events
from .crypto import decrypt_json, encrypt_json
from .db import database
from .errors import Forbidden, UpstreamError, ValidationError
from .models import Account, OAuthState
from .publisher_http import raise_for_answer, send
from .publishers import AuthError, PermanentError, PublishError, TemporaryError
from .timeutil import utcnow

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
#: How long one worker may hold the refresh lease.
REFRESH_LEASE = timedelta(seconds=60)
#: How long a worker waits for another one's refresh before giving up (a retry).
REFRESH_WAIT = 15.0
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _oauth_of(pm, platform: str):
    cls = pm.publisher(platform)
    if cls.oauth is None:
        raise ValidationError(f"{cls.descriptor.label} accounts connect with their settings, "
                              "not through OAuth", field="platform")
    return cls


def endpoint(config, cls, which: str) -> str:
    """The authorize or token URL: the operator's override, else the publisher's."""
    return config.platform_setting(cls.name, f"{which}_url") or getattr(cls.oauth, f"{which}_url")


def client_credentials(config, cls) -> tuple[str, str | None]:
    client_id = config.platform_setting(cls.name, "client_id")
    if not client_id:
        env = f"SCHEDULERX_{cls.name}_CLIENT_ID".upper().replace("-", "_")
        raise ValidationError(f"{cls.descriptor.label} is not set up on this server: the operator "
                              f"must register an app and set {env}", field="platform")
    return client_id, config.platform_setting(cls.name, "client_secret")


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect_uri(config, platform: str) -> str:
    """The callback URL to register with the platform (under BASE_URL)."""
    return f"{config.public_base_url}/accounts/connect/{platform}/callback"


def begin(config, pm, *, workspace_id: int, user_id: int, platform: str,
          account_id: int | None = None, display_name: str = "") -> tuple[str, OAuthState]:
    """Start connecting (or reconnecting ``account_id``): return the authorize URL and the state row."""
    cls = _oauth_of(pm, platform)
    client_id, _ = client_credentials(config, cls)
    if account_id is not None:
        acc = Account.get_or_none(Account.id == account_id, Account.workspace == workspace_id)
        if acc is None or acc.platform != platform:
            raise ValidationError(f"no {cls.descriptor.label} account {account_id} here",
                                  field="account_id")
    now = utcnow()
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: RFC 7636 allows 43-128
    with database.atomic():
        OAuthState.delete().where(OAuthState.expires_at < now).execute()
        row = OAuthState.create(
            state=secrets.token_urlsafe(32), workspace=workspace_id, user=user_id,
            platform=platform, account=account_id, display_name=(display_name or "").strip()[:200],
            code_verifier=encrypt_json(config.secret_key, {"v": verifier}) if cls.oauth.pkce else "",
            redirect_uri=redirect_uri(config, platform), created_at=now, expires_at=now + STATE_TTL)
    params = {"response_type": "code", cls.oauth.client_id_param: client_id, "redirect_uri": row.redirect_uri,
              "state": row.state}
    if cls.oauth.scopes:
        params["scope"] = cls.oauth.scope_separator.join(cls.oauth.scopes)
    if cls.oauth.pkce:
        params.update(code_challenge=pkce_challenge(verifier), code_challenge_method="S256")
    params.update(dict(cls.oauth.extra_authorize_params))
    authorize = endpoint(config, cls, "authorize")
    return f"{authorize}{'&' if '?' in authorize else '?'}{urlencode(params)}", row


def _consume_state(state: str, workspace_id: int, user_id: int) -> OAuthState:
    row = OAuthState.get_or_none(OAuthState.state == (state or ""))
    # Deleting is the compare-and-set: of two callbacks with one state, one wins.
    if row is None or OAuthState.delete().where(OAuthState.id == row.id).execute() != 1:
        raise ValidationError("this sign-in link is unknown or was already used; connect again",
                              field="state")
    if row.expires_at < utcnow():
        raise ValidationError("this sign-in took longer than 10 minutes; connect again", field="state")
    if row.workspace_id != workspace_id or row.user_id != user_id:
        raise Forbidden("this sign-in was started by someone else; connect again from your account")
    return row


def token_request(config, cls, form: dict) -> dict:
    """POST to the platform's token endpoint; the JSON answer, or a PublishError."""
    client_id, client_secret = client_credentials(config, cls)
    form = {k: v for k, v in form.items() if v is not None}
    auth = None
    if client_secret and cls.oauth.client_auth == "basic":
        auth = httpx.BasicAuth(client_id, client_secret)
    else:
        form[cls.oauth.client_id_param] = client_id  # public clients (PKCE) send their id in the form
        if client_secret:
            form["client_secret"] = client_secret
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        response = send(client, "POST", endpoint(config, cls, "token"), data=form, auth=auth,
                        headers={"Accept": "application/json"},
                        what=f"{cls.descriptor.label}'s token endpoint")
    raise_for_answer(response, f"{cls.descriptor.label}'s token endpoint")
    try:
        tokens = response.json()
    except ValueError:
        tokens = None
    if not isinstance(tokens, dict) or not tokens.get("access_token"):
        raise PermanentError(f"{cls.descriptor.label}'s token endpoint sent no access token",
                             raw=response.text[:2000])
    return tokens


def merge_tokens(stored: dict, tokens: dict) -> dict:
    """Stored credentials updated with a token answer; a missing refresh token keeps the old one."""
    merged = {**stored, "access_token": tokens["access_token"]}
    for key in ("refresh_token", "token_type", "scope"):
        if tokens.get(key):
            merged[key] = tokens[key]
    return merged


def expiry_of(tokens: dict, now=None):
    try:
        seconds = float(tokens.get("expires_in"))
    except (TypeError, ValueError):
        return None
    return (now or utcnow()) + timedelta(seconds=seconds)


def complete(config, pm, *, workspace_id: int, user_id: int, platform: str, state: str,
             code: str | None = None, error: str | None = None) -> Account:
    """Finish the flow on the callback: a connected (or reconnected) account."""
    row = _consume_state(state, workspace_id, user_id)
    if row.platform != platform:
        raise ValidationError("this sign-in belongs to another platform; connect again", field="state")
    cls = _oauth_of(pm, platform)
    label = cls.descriptor.label
    if error or not code:
        raise ValidationError(f"{label} did not grant access ({error or 'no code'})", field="code")
    verifier = decrypt_json(config.secret_key, row.code_verifier).get("v") if row.code_verifier else None
    try:
        tokens = token_request(config, cls, {"grant_type": "authorization_code", "code": code,
                                             "redirect_uri": row.redirect_uri,
                                             "code_verifier": verifier})
        publisher = cls(config)
        existing = Account.get_by_id(row.account_id) if row.account_id else None
        tokens = publisher.connected_tokens(tokens, dict(existing.settings if existing else {}))
        stored = decrypt_json(config.secret_key, existing.credentials) if existing else {}
        credentials = merge_tokens(stored, tokens)
        conn = publisher.check_connection(dict(existing.settings if existing else {}), credentials)
    except TemporaryError as exc:
        raise UpstreamError(f"{label} could not be reached: {exc}") from exc
    except PublishError as exc:
        raise ValidationError(f"{label} refused the connection: {exc}", field="code") from exc
    now = utcnow()
    info = dict(conn.info) if conn else {}
    with database.atomic():
        fields = dict(credentials=encrypt_json(config.secret_key, credentials),
                      token_expires_at=expiry_of(tokens, now), health="connected",
                      health_message="", updated_at=now)
        if existing is not None:
            (Account.update(platform_info={**(existing.platform_info or {}), **info}, **fields)
             .where(Account.id == existing.id).execute())
            account = Account.get_by_id(existing.id)
            verb = "reconnected"
        else:
            name = row.display_name or (conn.display_name if conn else None) or label
            account = Account.create(workspace=workspace_id, platform=platform, display_name=name,
                                     settings={}, platform_info=info, **fields)
            verb = "connected"
        events.record(workspace_id, "user", f"{verb} {account.display_name} ({label}) through OAuth",
                      subject=("account", account.id))
    return account


# --- refresh -------------------------------------------------------------------

def _expiring(account: Account, margin: float) -> bool:
    at = account.token_expires_at
    return at is not None and at <= utcnow() + timedelta(seconds=margin)


def _take_lease(account_id: int) -> str | None:
    token, now = uuid.uuid4().hex, utcnow()
    n = (Account.update(refresh_lock=token, refresh_lock_until=now + REFRESH_LEASE)
         .where(Account.id == account_id,
                Account.refresh_lock_until.is_null() | (Account.refresh_lock_until < now))
         .execute())
    return token if n == 1 else None


def _release(account_id: int, lease: str, **fields) -> int:
    return (Account.update(refresh_lock=None, refresh_lock_until=None, **fields)
            .where(Account.id == account_id, Account.refresh_lock == lease).execute())


def ensure_fresh(config, pm, account_id: int, *, rejected: str | None = None) -> dict:
    """The account's credentials with an access token that is not about to expire.

    ``rejected``: the access token the platform just refused (401); it is replaced
    unless another worker already did. Raises ``AuthError`` when the platform
    refuses the refresh (the caller marks the account), ``TemporaryError`` when
    it cannot be reached or another worker's refresh takes too long.
    """
    account = Account.get_by_id(account_id)
    cls = pm.publisher(account.platform)
    if cls.oauth is None:
        return decrypt_json(config.secret_key, account.credentials)
    deadline = time.monotonic() + REFRESH_WAIT
    while True:
        stored = decrypt_json(config.secret_key, account.credentials)
        if rejected is None and not _expiring(account, cls.oauth.refresh_margin):
            return stored
        if rejected is not None and stored.get("access_token") != rejected:
            return stored  # someone refreshed since that token was used
        lease = _take_lease(account_id)
        if lease is not None:
            break
        if time.monotonic() > deadline:
            raise TemporaryError("another worker is refreshing this account's token", code="refresh_busy")
        time.sleep(0.2)
        account = Account.get_by_id(account_id)
    try:
        # Re-read under the lease: the previous holder may have just finished.
        account = Account.get_by_id(account_id)
        stored = decrypt_json(config.secret_key, account.credentials)
        if (stored.get("access_token") != rejected if rejected is not None
                else not _expiring(account, cls.oauth.refresh_margin)):
            _release(account_id, lease)
            return stored
        refresh_token = stored.get("refresh_token")
        try:
            # A platform that renews tokens its own way says so; else the standard grant.
            tokens = cls(config).refresh_tokens(stored)
            if tokens is None and refresh_token:
                tokens = token_request(config, cls, {"grant_type": "refresh_token",
                                                     "refresh_token": refresh_token})
        except TemporaryError:
            raise
        except PermanentError as exc:  # invalid_grant, revoked app, …: only the user can fix it
            raise AuthError(f"{cls.descriptor.label} refused to refresh the token: {exc.message}",
                            code="refresh_failed", raw=exc.raw) from exc
        if tokens is None:
            raise AuthError(f"the {cls.descriptor.label} token expired and there is no refresh "
                            "token; reconnect the account", code="no_refresh_token")
    except BaseException:
        _release(account_id, lease)
        raise
    fresh = merge_tokens(stored, tokens)
    now = utcnow()
    with database.atomic():
        # Saved even if the lease ran out meanwhile: these are the tokens that now work.
        (Account.update(credentials=encrypt_json(config.secret_key, fresh),
                        token_expires_at=expiry_of(tokens, now), updated_at=now)
         .where(Account.id == account_id).execute())
        _release(account_id, lease)
        events.record(account.workspace_id, "engine", f"refreshed the {cls.descriptor.label} token",
                      level="debug", subject=("account", account_id))
    return fresh
