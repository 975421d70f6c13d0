"""Tick scaling: the cost of one tick with 10k, 100k and 1M stored publications.

The stored rows are what a long-lived instance holds: mostly published, many
scheduled weeks ahead, some canceled or failed. Each measured tick finds the
same 100 rows due (put back between ticks, outside the timing), so only the
size of the table changes. It must stay flat: the target is ≤ 1.5× from 10k to 1M.

    python -m bench.tick_scaling --setup scaled|embedded [--sizes 10000,100000,1000000]
"""
from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from .common import SchedulerX, database_url, log, naive, parse_setup, ratio, table, write_json

DUE_PER_TICK, TICKS = 100, 30
TARGET_GROWTH = 1.5


def fill(sx: SchedulerX, count: int, rng: random.Random) -> None:
    """Add ``count`` rows: 60% published, 35% scheduled 1–60 days ahead, 5% canceled/failed."""
    from schedulerx.db import database
    from schedulerx.models import Publication
    now = time.time()
    fields = [Publication.workspace, Publication.post, Publication.account, Publication.status,
              Publication.scheduled_at, Publication.due_at, Publication.idempotency_key,
              Publication.timezone, Publication.created_at, Publication.updated_at,
              Publication.published_at]
    created = naive(now)
    batch = []
    for _ in range(count):
        x = rng.random()
        if x < 0.60:
            at = naive(now - rng.uniform(60, 86400 * 365))
            row = ("published", at, None, at)
        elif x < 0.95:
            at = naive(now + rng.uniform(86400, 86400 * 60))
            row = ("scheduled", at, at, None)
        else:
            at = naive(now - rng.uniform(60, 86400 * 30))
            row = (rng.choice(("canceled", "failed")), at, None, None)
        batch.append((sx.workspace_id, sx.post_id, sx.account_id, row[0], row[1], row[2],
                      uuid.uuid4().hex, "UTC", created, created, row[3]))
        if len(batch) == 10_000:
            with database.atomic():
                Publication.insert_many(batch, fields=fields).execute()
            batch = []
    if batch:
        with database.atomic():
            Publication.insert_many(batch, fields=fields).execute()
    sx.analyze()


def measure(sx: SchedulerX) -> dict:
    from schedulerx import engine
    from schedulerx.models import Publication
    due_ids = [p.id for p in Publication.select(Publication.id).where(Publication.status == "scheduled")
               .order_by(Publication.id).limit(DUE_PER_TICK)]
    timings = []
    for _ in range(TICKS):
        past = naive(time.time() - 1)
        Publication.update(status="scheduled", due_at=past, claim_token=None).where(
            Publication.id.in_(due_ids)).execute()
        t0 = time.perf_counter()
        result = engine.tick(sx.config)
        timings.append(time.perf_counter() - t0)
        assert len(result.claimed) == DUE_PER_TICK, len(result.claimed)
    # Leave them scheduled far ahead again, so they do not count as due later.
    Publication.update(status="scheduled", due_at=naive(time.time() + 86400 * 30)).where(
        Publication.id.in_(due_ids)).execute()
    return {"median_ms": statistics.median(timings) * 1000, "p95_ms": sorted(timings)[int(0.95 * TICKS)] * 1000,
            "min_ms": min(timings) * 1000}


def main(argv=None):
    args = parse_setup(argv, sizes=(str, "10000,100000,1000000", "stored publications, ascending"))
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(6)
    out = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        db_url, _ = stack.enter_context(database_url(args.setup, tmp))
        sx = SchedulerX(args.setup, db_url, "memory://", tmp)
        stored = 1
        for size in sizes:
            t0 = time.time()
            fill(sx, size - stored, rng)
            stored = size
            log(f"{size:,} rows stored ({time.time() - t0:.0f}s); timing {TICKS} ticks")
            out[size] = measure(sx)
    base = out[sizes[0]]["median_ms"]
    rows = [[f"{s:,}", r["median_ms"], r["p95_ms"], ratio(r["median_ms"], base)] for s, r in out.items()]
    growth = ratio(out[sizes[-1]]["median_ms"], base)
    text = table(f"One tick ({DUE_PER_TICK} due) by stored publications, {args.setup} — "
                 f"growth {growth:.2f}× (target ≤ {TARGET_GROWTH}×)",
                 ["stored", "median ms", "p95 ms", "× smallest"], rows)
    write_json("tick_scaling", args.setup, {"due_per_tick": DUE_PER_TICK, "ticks": TICKS,
                                            "growth": growth, "target_growth": TARGET_GROWTH,
                                            "results": out, "table": text})


if __name__ == "__main__":
    main()
