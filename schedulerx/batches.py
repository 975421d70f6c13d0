"""Batches: many posts scheduled in one call, from JSON items or a CSV file.

All or nothing: every row is tried inside one transaction, each in its own
savepoint; when any row fails, the whole batch is rolled back and the error lists
every failing row with its reasons.

CSV columns (header row required, UTF-8, comma-separated):
  title, body            the post's text (one of them, or media, is needed)
  tags                   words separated by spaces or commas; a leading # is dropped
  media                  media ids separated by ``;``
  accounts               account ids or display names separated by ``;``
  scheduled_at           ISO 8601; empty: each account's next free slot (the queue)
  timezone               IANA zone for a scheduled_at without offset (default: workspace)
"""
from __future__ import annotations

import csv
import io
import re

from . import posts, publications
from .db import database
from .errors import SchedulerXError, ValidationError
from .models import Account, Publication, Workspace
from .timeutil import parse_datetime

MAX_ROWS = 1000
CSV_COLUMNS = ("title", "body", "tags", "media", "accounts", "scheduled_at", "timezone")


class _Rollback(Exception):
    pass


def run(config, pm, workspace_id: int, items: list[dict], *, row_base: int = 0) -> list[Publication]:
    """Schedule every item (see ``schedule_item``); 422 listing each bad row, nothing written.

    ``row_base`` numbers the rows in errors: 0 for JSON (item index), 2 for CSV
    (the line number, after the header).
    """
    if not items:
        raise ValidationError("the batch is empty", field="items")
    if len(items) > MAX_ROWS:
        raise ValidationError(f"at most {MAX_ROWS} rows in one batch", field="items")
    ws = Workspace.get_by_id(workspace_id)
    created, errors = [], {}
    try:
        with database.atomic():
            for i, item in enumerate(items):
                try:
                    with database.atomic():
                        created += schedule_item(config, pm, ws, item)
                except SchedulerXError as exc:
                    errors[str(row_base + i)] = _reasons(exc)
            if errors:
                raise _Rollback
    except _Rollback:
        label = "line" if row_base else "item"
        first = next(iter(errors))
        raise ValidationError(
            f"{len(errors)} of {len(items)} rows are invalid, nothing was scheduled; "
            f"{label} {first}: {errors[first][0]}", errors={"rows": errors})
    return created


def _reasons(exc: SchedulerXError) -> list[str]:
    out = []
    for field, messages in (exc.errors or {}).items():
        if isinstance(messages, dict):
            for key, inner in messages.items():
                out += [f"{field} {key}: {m}" for m in (inner if isinstance(inner, list) else [inner])]
        else:
            out += [f"{field}: {m}" for m in (messages if isinstance(messages, list) else [messages])]
    return out or [exc.message]


def schedule_item(config, pm, ws: Workspace, item: dict) -> list[Publication]:
    """One row: create the post, then schedule it at ``scheduled_at`` or queue it."""
    post = posts.create(ws.id, title=item.get("title") or "", body=item.get("body") or "",
                        tags=item.get("tags") or [], media=item.get("media") or [],
                        variants=item.get("variants") or [])
    account_ids = item.get("account_ids") or []
    when = item.get("scheduled_at")
    if when:
        tz = item.get("timezone") or ws.timezone
        at = parse_datetime(when, tz)
        return publications.schedule(config, pm, ws.id, post, account_ids, at, tz,
                                     retry=item.get("retry"))
    return publications.queue(config, pm, ws.id, post, account_ids, retry=item.get("retry"))


def _split(text: str, pattern: str) -> list[str]:
    return [p.strip() for p in re.split(pattern, text or "") if p.strip()]


def parse_csv(workspace_id: int, data: bytes) -> list[dict]:
    """CSV bytes → batch items; 422 for a bad file or header, and per line for bad cells."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("the CSV file is not UTF-8", field="file")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if not header or unknown or "accounts" not in header:
        raise ValidationError(
            f"the header must name columns from {', '.join(CSV_COLUMNS)} and include accounts"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""), field="file")
    reader.fieldnames = header
    by_name: dict[str, list[int]] = {}
    for acc in Account.select(Account.id, Account.display_name).where(Account.workspace == workspace_id):
        by_name.setdefault(acc.display_name.strip().lower(), []).append(acc.id)
    items, errors = [], {}
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ValidationError(f"the CSV file cannot be read: {exc}", field="file")
    if len(rows) > MAX_ROWS:
        raise ValidationError(f"at most {MAX_ROWS} rows in one batch", field="file")
    for line, row in enumerate(rows, start=2):
        if None in row:
            errors[str(line)] = ["more cells than header columns"]
            continue
        problems, account_ids, media = [], [], []
        for ref in _split(row.get("accounts"), r";"):
            if ref.isdigit():
                account_ids.append(int(ref))
            elif len(by_name.get(ref.lower(), [])) == 1:
                account_ids.append(by_name[ref.lower()][0])
            else:
                problems.append(f"accounts: {ref!r} is not an account id or a unique account name")
        for ref in _split(row.get("media"), r";"):
            if ref.isdigit():
                media.append(int(ref))
            else:
                problems.append(f"media: {ref!r} is not a media id")
        if problems:
            errors[str(line)] = problems
            continue
        items.append({"title": row.get("title") or "", "body": row.get("body") or "",
                      "tags": [t.lstrip("#") for t in _split(row.get("tags"), r"[\s,]+") if t.lstrip("#")],
                      "media": media, "account_ids": account_ids,
                      "scheduled_at": (row.get("scheduled_at") or "").strip() or None,
                      "timezone": (row.get("timezone") or "").strip() or None})
    if errors:
        first = next(iter(errors))
        raise ValidationError(f"{len(errors)} of {len(rows)} rows are invalid, nothing was "
                              f"scheduled; line {first}: {errors[first][0]}", errors={"rows": errors})
    return items
