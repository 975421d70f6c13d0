"""What every page shares: the sidebar, time and size filters, paging, form error answers."""
from __future__ import annotations

import logging
from datetime import datetime
from http import HTTPStatus

from flask import g, render_template, request, url_for

from schedulerx.timeutil import from_storage, isoformat, utcnow, zone

from ..pagination import paginate

log = logging.getLogger(__name__)

#: The sidebar: label, endpoint, and the endpoint prefixes that make the item active.
NAV = (
    ("Home", "pages.home", "home", ("pages.home",)),
    ("Media", "media.index", "media", ("media.",)),
    ("Schedule", "schedule.index", "schedule", ("schedule.", "calendar.")),
    ("Pipelines", "placeholders.pipelines", "pipelines", ("placeholders.pipelines",)),
    ("AI", "ai.index", "ai", ("ai.",)),
    ("Accounts", "accounts.index", "accounts", ("accounts.",)),
    ("Logs", "logs.index", "logs", ("logs.",)),
    ("Settings", "settings.index", "settings", ("settings.",)),
)

PAGE_SIZE = 50


def rt():
    from ..app import runtime
    return runtime()


def sidebar() -> list[dict]:
    endpoint = request.endpoint or ""
    items = [{"label": label, "href": url_for(ep), "icon": icon,
              "active": endpoint.startswith(prefixes)}
             for label, ep, icon, prefixes in NAV]
    try:
        groups = rt().pm.hook.dashboard_nav(workspace=g.workspace)
    except Exception:  # a broken plugin must not take every page down with it
        log.exception("dashboard_nav hook failed")
        groups = []
    for group in groups:
        for item in group or ():
            items.append({"label": item.label, "href": item.href, "icon": "plugin",
                          "glyph": item.icon, "active": request.path == item.href,
                          "plugin": True})
    return items


def workspace_zone_label() -> str:
    """"Europe/Berlin (UTC+01:00)": the zone times on the pages are read and shown in."""
    name = g.workspace.timezone
    offset = datetime.now(zone(name)).strftime("%z")
    return f"{name} (UTC{offset[:3]}:{offset[3:]})"


def localtime(dt, fmt: str = "%Y-%m-%d %H:%M", tz_name: str | None = None) -> str:
    """A stored (naive UTC) or aware datetime, shown in the workspace's timezone."""
    if dt is None:
        return "—"
    aware = from_storage(dt) if dt.tzinfo is None else dt
    return aware.astimezone(zone(tz_name or g.workspace.timezone)).strftime(fmt)


def local_input_value(dt) -> str:
    """The value of a datetime-local input for ``dt`` in the workspace's timezone."""
    return localtime(dt, "%Y-%m-%dT%H:%M") if dt is not None else ""


def filesize(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def status_phrase(code) -> str:
    try:
        return HTTPStatus(int(code)).phrase
    except (TypeError, ValueError):
        return "Error"


def page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 1_000_000))
    except ValueError:
        return 1


def paged(query, page_size: int = PAGE_SIZE) -> dict:
    """The page of ``query`` asked for by ``?page=``: LIMIT/OFFSET through the one paginator."""
    envelope, _headers = paginate(query, page_number(), page_size)
    return envelope


def page_url(page: int) -> str:
    args = request.args.to_dict()
    args["page"] = page
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def form_error(template: str, exc, **context):
    """Re-render a form with a domain error: the message, the field errors, the user's input."""
    return render_template(template, error=exc.message, errors=exc.errors or {},
                           **context), exc.status


def register_template_helpers(app) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(local_input_value)
    app.add_template_filter(filesize)
    app.add_template_filter(isoformat)
    app.add_template_filter(status_phrase)

    @app.context_processor
    def page_context():
        if getattr(g, "user", None) is None or getattr(g, "workspace", None) is None:
            return {"page_url": page_url}
        return {"sidebar": sidebar(), "workspace_zone": workspace_zone_label(),
                "can_edit": g.role != "viewer", "page_url": page_url, "now_utc": utcnow()}
