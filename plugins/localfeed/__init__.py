"""Local feed: publish posts into an Atom feed served by SchedulerX itself.

Each account gets a folder ``DATA_DIR/feeds/<feed id>/`` (see ``feed.py``) and
three public URLs, no login needed (the feed id is random, so a feed is as
private as its URL):

    /feeds/<feed id>/feed.atom             the Atom feed, newest 100 entries
    /feeds/<feed id>/media/<name>          the media copied with each entry
    /feeds/<feed id>/entries/<entry uuid>  one entry as a page (the post's URL)
"""
from __future__ import annotations

from schedulerx import hookimpl
from schedulerx.web_types import Route

from . import views
from .publisher import LocalFeedPublisher


@hookimpl
def register_publishers():
    return [LocalFeedPublisher]


@hookimpl
def register_routes():
    return [
        Route("/feeds/<feed_id>/feed.atom", "localfeed.feed", views.feed_atom, public=True),
        Route("/feeds/<feed_id>/media/<name>", "localfeed.media", views.feed_media, public=True),
        Route("/feeds/<feed_id>/entries/<entry_id>", "localfeed.entry", views.feed_entry,
              public=True),
    ]
