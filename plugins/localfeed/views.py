"""Public views of the local feeds: the Atom file, the media, one page per entry.

Flask is imported inside the views only, so loading the plugin (in a worker or
the clock) never imports the web stack. Every path segment from the URL is
checked against a strict pattern before it touches the filesystem, and the file
is then served with ``send_from_directory``, which refuses to leave its folder.
"""
from __future__ import annotations

import html

from .feed import FeedFolder, feed_path, media_path

#: Files are user content served from the app's origin: no scripts, ever (an SVG or an
#: HTML file opened directly runs in a sandbox without the app's origin).
FILE_CSP = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"}
#: The entry page escapes everything it shows and loads only the feed's own media.
PAGE_CSP = {"Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; "
                                       "style-src 'unsafe-inline'"}


def _folder(feed_id: str) -> FeedFolder:
    from flask import abort

    from schedulerx.runtime import current
    try:
        return FeedFolder(current().config.data_dir, feed_id)
    except ValueError:
        abort(404)


def feed_atom(feed_id: str):
    from flask import abort, send_from_directory
    folder = _folder(feed_id)
    if not folder.atom_path.is_file():
        abort(404)
    response = send_from_directory(folder.root, folder.atom_path.name,
                                   mimetype="application/atom+xml")
    response.headers.update(FILE_CSP)
    return response


def feed_media(feed_id: str, name: str):
    from flask import abort, send_from_directory
    folder = _folder(feed_id)
    try:
        path = folder.media_file(name)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_from_directory(folder.media_dir, path.name)
    response.headers.update(FILE_CSP)
    return response


def feed_entry(feed_id: str, entry_id: str):
    from flask import abort
    folder = _folder(feed_id)
    entry = folder.find(entry_id) if folder.index_path.is_file() else None
    if entry is None:
        abort(404)
    e = html.escape
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
             f'<title>{e(entry["title"])}</title>'
             f'<link rel="alternate" type="application/atom+xml" href="{e(feed_path(feed_id))}">'
             f'</head><body><article><h1>{e(entry["title"])}</h1>'
             f'<p><time datetime="{e(entry["published"])}">{e(entry["published"])}</time></p>'
             f'<div style="white-space: pre-wrap">{e(entry["content"])}</div>']
    for m in entry.get("media", ()):
        src = e(media_path(feed_id, m["name"]))
        kind = m["mime"].split("/", 1)[0]
        if kind == "image":
            parts.append(f'<p><img src="{src}" alt="{e(m.get("filename") or "")}" '
                         f'style="max-width: 100%"></p>')
        elif kind in ("video", "audio"):
            parts.append(f'<p><{kind} controls src="{src}"></{kind}></p>')
        else:
            parts.append(f'<p><a href="{src}">{e(m.get("filename") or m["name"])}</a></p>')
    parts.append("</article></body></html>")
    return "".join(parts), 200, {"Content-Type": "text/html; charset=utf-8", **PAGE_CSP}
