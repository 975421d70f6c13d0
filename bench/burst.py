"""Burst: 10,000 publications due at the same instant, to a no-op publisher.

Reports time to the last publication, throughput, duplicates and misses for
SchedulerX, the ceiling (a bare Dramatiq actor doing the same two statements per
item: ``bench.ceiling``) and the peers, all in the same run, with SchedulerX's
throughput as a fraction of the ceiling and the peers' completion times as
ratios to SchedulerX's.

    python -m bench.burst --setup scaled|embedded [--n 10000] [--peers 1]
"""
from __future__ import annotations

import time
from contextlib import ExitStack

from . import ceiling, run
from .common import log, parse_setup, ratio, table, write_json

TARGET_FRACTION = {"scaled": 0.85, "embedded": 0.50}


def main(argv=None):
    args = parse_setup(argv, n=(int, 10_000, "publications due at one instant"),
                       peers=(int, 1, "also run the peers (0: SchedulerX and the ceiling only)"))
    due_of = lambda start: [float(int(start))] * args.n  # noqa: E731
    results = {}
    with ExitStack() as stack:
        tmp, db_url, broker = run.environment(args.setup, stack)
        results["SchedulerX"] = run.schedulerx(args.setup, tmp, db_url, broker, due_of, timeout=600)
        log("ceiling: bare Dramatiq actor, two statements per item")
        results["ceiling (bare Dramatiq)"] = ceiling.run(args.setup, db_url, broker,
                                                         time.time() + 3, args.n, timeout=600)
        if args.peers:
            for grace in ("default", "none"):
                log(f"APScheduler 3, {grace} misfire grace")
                results[f"APScheduler 3 ({grace} grace)"] = run.apscheduler(
                    args.setup, db_url, due_of, timeout=600, grace=grace)
            log("polling daemon (10 s)")
            results["polling daemon (10 s)"] = run.polling(db_url, due_of, timeout=600)
    sx, ceil = results["SchedulerX"], results["ceiling (bare Dramatiq)"]
    fraction = ratio(sx["throughput"], ceil["throughput"])
    rows = [[name, r["n"], r["published"], r.get("skipped_as_misfire", 0), r["missed"],
             r["duplicates"], r["time_to_last"], r["throughput"],
             ratio(r["time_to_last"], sx["time_to_last"])] for name, r in results.items()]
    text = table(f"Burst of {args.n:,} due at one instant, {args.setup} — SchedulerX at "
                 f"{(fraction or 0):.0%} of the ceiling (target ≥ {TARGET_FRACTION[args.setup]:.0%})",
                 ["system", "due", "published", "skipped (misfire)", "missed", "duplicates",
                  "time to last (s)", "per second", "time ÷ SchedulerX"], rows)
    write_json("burst", args.setup, {"n": args.n, "ceiling_fraction": fraction,
                                     "target_fraction": TARGET_FRACTION[args.setup],
                                     "results": results, "table": text})


if __name__ == "__main__":
    main()
