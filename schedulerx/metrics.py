"""Numbers of published posts (views, likes, comments, shares), read from the platform.

Each reading is a row of ``PublicationMetrics``: a time series for analytics.
Reading is on demand (``collect``: the API's POST /publications/{id}/metrics);
a periodic collector is not built yet.
"""
from __future__ import annotations

from . import oauth, states
from .db import database
from .errors import Conflict, UpstreamError, ValidationError
from .models import Publication, PublicationMetrics
from .publish_context import build_context, publisher_for
from .publishers import AuthError, PublishError
from .timeutil import utcnow


def collect(config, pm, pub: Publication) -> PublicationMetrics:
    """Ask the platform for the post's numbers now and store them."""
    if pub.status != states.PUBLISHED or not pub.remote_id:
        raise Conflict(f"the publication is {pub.status}; only a published post has numbers",
                       errors={"status": [pub.status]})
    publisher = publisher_for(config, pm, pub)
    if not publisher.offers_metrics():
        raise ValidationError(f"{publisher.descriptor.label} offers no post metrics to read")
    try:
        oauth.ensure_fresh(config, pm, pub.account_id)
        ctx = build_context(config, pm, pub)
        found = publisher.metrics(ctx)
    except AuthError as exc:
        raise UpstreamError(f"the account needs reconnecting: {exc}") from exc
    except PublishError as exc:
        raise UpstreamError(f"{publisher.descriptor.label}: {exc}") from exc
    if found is None:
        raise UpstreamError(f"{publisher.descriptor.label} has no numbers for this post")
    with database.atomic():
        return PublicationMetrics.create(
            publication=pub, fetched_at=utcnow(), views=found.views, likes=found.likes,
            comments=found.comments, shares=found.shares,
            raw=found.raw if isinstance(found.raw, (dict, list)) else {"text": str(found.raw or "")})


def history(pub: Publication):
    """The publication's readings, newest first, to paginate."""
    return (PublicationMetrics.select().where(PublicationMetrics.publication == pub)
            .order_by(PublicationMetrics.fetched_at.desc(), PublicationMetrics.id.desc()))
