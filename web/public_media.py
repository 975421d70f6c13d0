"""``GET /m/<token>``: media files behind signed, expiring links (``schedulerx.media_links``).

Platforms that pull media by URL (Instagram) fetch it here without a login. Every
refusal — malformed, tampered, expired, or a file that is gone or not ready — is
the same bare 404, so a link tells an outsider nothing about what exists.
"""
from __future__ import annotations

from flask import Blueprint, Response

from schedulerx import media_links
from schedulerx.models import MediaAsset

from .api.media import send_asset
from .app import runtime
from .auth import public

bp = Blueprint("public_media", __name__)


def _not_found() -> Response:
    return Response("not found\n", status=404, mimetype="text/plain")


@bp.get(f"{media_links.PATH_PREFIX}<token>")
@public
def media_link(token: str):
    parsed = media_links.parse(token)
    asset = MediaAsset.get_or_none(MediaAsset.id == parsed[0]) if parsed else None
    if asset is None or asset.status != "ready" or not media_links.verify(
            runtime().config.secret_key, token, asset.storage_key):
        return _not_found()
    response = send_asset(asset)
    response.headers["X-Robots-Tag"] = "noindex"
    return response
