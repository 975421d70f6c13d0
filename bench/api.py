"""API latency and throughput with 100k publications stored, through the real WSGI
server (waitress, as ``schedulerx web`` / ``schedulerx run`` serve it) and the
``wrk`` load generator on 127.0.0.1, for a bounded time per endpoint.

Scaled: ``schedulerx web`` on PostgreSQL (Redis as broker). Embedded: ``schedulerx
run`` on SQLite (its idle workers and clock in the same process). Rate limits are
switched off (``RATE_LIMIT=off``): this measures the server, not the limiter.

    python -m bench.api --setup scaled|embedded [--rows 100000] [--duration 15]

Needs ``wrk`` (Debian: ``apt-get install wrk``).
"""
from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

import httpx

from .common import (ROOT, SchedulerX, database_url, free_port, log, parse_setup, redis_server, table,
                     write_json)
from .tick_scaling import fill

TARGET_P99_MS = 50.0
POST_SCRIPT = """wrk.method = "POST"
wrk.body = '{"title": "bench", "body": "created by the API benchmark", "tags": ["bench"]}'
wrk.headers["Content-Type"] = "application/json"
"""
ENDPOINTS = {
    "GET /publications (page 1)": ("GET", "/api/v1/publications?page_size=20", None),
    "GET /publications?status=scheduled&page=50": ("GET", "/api/v1/publications?status=scheduled&page=50", None),
    "POST /posts": ("POST", "/api/v1/posts", POST_SCRIPT),
}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, token: str, seconds: float, script: str | None, tmp: Path) -> dict:
    cmd = [shutil.which("wrk"), "-t2", "-c8", f"-d{int(seconds)}s", "--latency", "--timeout", "10s",
           "-H", f"Authorization: Bearer {token}"]
    if script:
        path = tmp / "post.lua"
        path.write_text(script)
        cmd += ["-s", str(path)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, flags=re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50_ms": _ms(dist["50"]), "p99_ms": _ms(dist["99"]),
            "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "raw": out}


def main(argv=None):
    args = parse_setup(argv, rows=(int, 100_000, "stored publications"),
                       duration=(float, 15.0, "seconds of load per endpoint"))
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    results = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        db_url, _ = stack.enter_context(database_url(args.setup, tmp))
        broker = stack.enter_context(redis_server() if args.setup == "scaled" else nullcontext("memory://"))
        sx = SchedulerX(args.setup, db_url, broker, tmp)
        t0 = time.time()
        fill(sx, args.rows, random.Random(6))
        log(f"{args.rows:,} publications stored ({time.time() - t0:.0f}s)")
        from schedulerx import auth
        from schedulerx.models import User, Workspace
        _, token = auth.create_token(User.get(), Workspace.get_by_id(sx.workspace_id), "bench")
        from schedulerx.db import database
        database.close()
        port = free_port()
        env = {**os.environ, "DATABASE_URL": db_url, "BROKER_URL": broker, "PORT": str(port),
               "SECRET_KEY": sx.config.secret_key, "SCHEDULERX_DATA_DIR": str(sx.config.data_dir),
               "SCHEDULERX_RATE_LIMIT": "off"}
        command = "web" if args.setup == "scaled" else "run"
        server = subprocess.Popen([str(Path(sys.executable).with_name("schedulerx")), command],
                                  cwd=ROOT, env=env, stdout=open(tmp / "server.log", "w"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            for name, (_, path, script) in ENDPOINTS.items():
                log(f"wrk {name} for {args.duration:g}s")
                results[name] = wrk(base + path, token, args.duration, script, tmp)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    rows = [[name, r["p50_ms"], r["p99_ms"], r["requests_per_s"], r["requests"], r["non_2xx"]]
            for name, r in results.items()]
    text = table(f"API with {args.rows:,} publications, {args.setup} (waitress, wrk -t2 -c8, "
                 f"{args.duration:g}s each; target p99 ≤ {TARGET_P99_MS:g} ms)",
                 ["endpoint", "p50 ms", "p99 ms", "requests/s", "requests", "non-2xx"], rows)
    write_json("api", args.setup, {"rows": args.rows, "duration": args.duration,
                                   "target_p99_ms": TARGET_P99_MS, "results": results, "table": text})


if __name__ == "__main__":
    main()
