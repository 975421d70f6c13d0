"""Users, workspaces, memberships and API tokens.

Passwords are hashed with scrypt (stdlib); API tokens are random 256-bit strings
stored as their SHA-256 (a token of that entropy needs no slow hash), shown once.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from .db import database
from .errors import Conflict, NotFound, Unauthorized, ValidationError
from .models import ApiToken, Membership, User, Workspace
from .timeutil import is_zone, utcnow

TOKEN_PREFIX = "sx_"
ROLES = ("owner", "editor", "viewer")
_SCRYPT = dict(n=2**14, r=8, p=1, dklen=32)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(got.hex(), digest)


def has_users() -> bool:
    return User.select().exists()


def create_user(email: str, password: str, *, name: str = "", workspace: Workspace | None = None,
                workspace_name: str = "My workspace", timezone: str = "UTC",
                role: str = "owner") -> tuple[User, Workspace]:
    """A user and their membership; a new workspace unless one is given."""
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValidationError("a valid email address is required", field="email")
    if len(password or "") < 8:
        raise ValidationError("the password needs at least 8 characters", field="password")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", field="role")
    if not is_zone(timezone):
        raise ValidationError(f"unknown IANA timezone {timezone!r}", field="timezone")
    with database.atomic():
        if User.select().where(User.email == email).exists():
            raise Conflict(f"a user with email {email} already exists", field="email")
        user = User.create(email=email, name=name, password_hash=hash_password(password))
        if workspace is None:
            workspace = Workspace.create(name=workspace_name, timezone=timezone)
        Membership.create(workspace=workspace, user=user, role=role)
    return user, workspace


def authenticate(email: str, password: str) -> User:
    user = User.get_or_none(User.email == (email or "").strip().lower())
    if user is None or not user.is_active or not check_password(password or "", user.password_hash):
        raise Unauthorized("wrong email or password")
    User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
    return user


def membership(user_id: int, workspace_id: int | None = None) -> Membership:
    """The user's membership in ``workspace_id``, else their first one."""
    q = Membership.select(Membership, Workspace).join(Workspace).where(Membership.user == user_id)
    if workspace_id is not None:
        q = q.where(Membership.workspace == workspace_id)
    m = q.order_by(Membership.id).first()
    if m is None:
        raise Unauthorized("this user belongs to no workspace")
    return m


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, workspace: Workspace, name: str) -> tuple[ApiToken, str]:
    """Create a token; the plain text is returned once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError("a token needs a name of 1-200 characters", field="name")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.create(workspace=workspace, user=user, name=name, prefix=plain[:10],
                          token_hash=_digest(plain))
    return row, plain


def token_owner(plain: str) -> ApiToken:
    """The live token row for a bearer string; 401 when unknown or revoked."""
    row = ApiToken.get_or_none(ApiToken.token_hash == _digest(plain or ""))
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked API token")
    now = utcnow()
    # Write last-used at most once a minute: tokens are checked on every request.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
        row.last_used_at = now
    return row


def revoke_token(workspace_id: int, token_id: int) -> ApiToken:
    row = ApiToken.get_or_none(ApiToken.id == token_id, ApiToken.workspace == workspace_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.save()
    return row
