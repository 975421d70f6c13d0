"""Steady load: publications due at a steady rate (200/s for 60 s) to a no-op publisher.

Reports dispatch lateness (due time → publisher call) p50/p95/p99 for SchedulerX
and, in the same run, for its peers, with their ratios to SchedulerX.

    python -m bench.steady --setup scaled|embedded [--rate 200] [--duration 60] [--peers 1]
"""
from __future__ import annotations

from contextlib import ExitStack

from . import run
from .common import log, parse_setup, ratio, spread, table, write_json

TARGET_P99 = 1.0


def main(argv=None):
    args = parse_setup(argv, rate=(float, 200.0, "publications due per second"),
                       duration=(float, 60.0, "seconds of load"),
                       peers=(int, 1, "also run the peers (0: SchedulerX only)"),
                       tick_interval=(float, 1.0, "SchedulerX's TICK_INTERVAL (default 1 s)"))
    due_of = lambda start: spread(start, args.rate, args.duration)  # noqa: E731
    results = {}
    with ExitStack() as stack:
        tmp, db_url, broker = run.environment(args.setup, stack)
        results["SchedulerX"] = run.schedulerx(args.setup, tmp, db_url, broker, due_of, timeout=120,
                                               tick_interval=args.tick_interval)
        if args.peers:
            for grace in ("default", "none"):
                log(f"APScheduler 3, {grace} misfire grace")
                results[f"APScheduler 3 ({grace} grace)"] = run.apscheduler(
                    args.setup, db_url, due_of, timeout=300, grace=grace)
            log("polling daemon (10 s)")
            results["polling daemon (10 s)"] = run.polling(db_url, due_of, timeout=120)
    sx = results["SchedulerX"]["lateness"]
    rows = []
    for name, r in results.items():
        lat = r["lateness"]
        rows.append([name, r["n"], r["published"], r.get("skipped_as_misfire", 0), r["duplicates"],
                     lat["p50"], lat["p95"], lat["p99"], lat["max"], ratio(lat["p99"], sx["p99"])])
    text = table(f"Steady {args.rate:g}/s for {args.duration:g}s, {args.setup}, TICK_INTERVAL "
                 f"{args.tick_interval:g}s — lateness in seconds "
                 f"(target: SchedulerX p99 ≤ {TARGET_P99} s)",
                 ["system", "due", "published", "skipped (misfire)", "duplicates", "p50", "p95", "p99",
                  "max", "p99 ÷ SchedulerX"], rows)
    # The default run keeps the plain name; variants are written beside it.
    name = ("steady" + ("" if args.tick_interval == 1.0 else f"-tick{args.tick_interval:g}")
            + ("" if args.rate == 200 else f"-{args.rate:g}per_s"))
    write_json(name, args.setup, {"tick_interval": args.tick_interval, "rate": args.rate, "duration": args.duration,
                                      "target_p99": TARGET_P99, "results": results, "table": text})


if __name__ == "__main__":
    main()
