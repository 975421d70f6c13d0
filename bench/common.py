"""What every benchmark shares: the two set-ups, seeding, timings, tables and JSON.

* ``scaled``: PostgreSQL (a fresh schema in ``BENCH_POSTGRES``), a Redis server of
  our own on a spare port, two ``dramatiq`` worker processes × 8 threads and one
  ``schedulerx clock`` process — the Procfile's shape.
* ``embedded``: a SQLite file, the in-process broker, 8 worker threads and the
  clock thread, started exactly as ``schedulerx run`` starts them.

The no-op publisher (``bench.noop``) returns the time of its call as the raw
response, so lateness is measured from the publication's due time to the call.
"""
from __future__ import annotations

import calendar
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
WORKER_PROCESSES, WORKER_THREADS = 2, 8
SETUPS = ("scaled", "embedded")


# --- output ----------------------------------------------------------------------

def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 // 1024 for line in open("/proc/meminfo")
                if line.startswith("MemTotal")), None)
    info = {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    for name, cmd in (("postgres", ["psql", "--version"]), ("redis", ["redis-server", "--version"])):
        try:
            info[name] = subprocess.run(cmd, capture_output=True, text=True).stdout.split("\n")[0]
        except OSError:
            info[name] = None
    return info


def table(title: str, headers: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:,.3f}" if isinstance(v, float) else str(v)
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    out = [f"\n{title}", line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    text = "\n".join(out)
    print(text, flush=True)
    return text


def write_json(name: str, setup: str, data: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{setup}.json"
    path.write_text(json.dumps({"benchmark": name, "setup": setup, "machine": machine(), **data},
                               indent=2, default=str))
    print(f"\nwritten: {path.relative_to(ROOT)}", flush=True)
    return path


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def lateness_stats(late: list[float]) -> dict:
    return {"n": len(late), "p50": pct(late, 50), "p95": pct(late, 95), "p99": pct(late, 99),
            "max": max(late) if late else None,
            "mean": statistics.fmean(late) if late else None}


def epoch(naive_utc: datetime) -> float:
    return calendar.timegm(naive_utc.timetuple()) + naive_utc.microsecond / 1e6


def naive(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- services ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_server():
    """A redis-server of our own on a spare port; yields its URL."""
    import redis
    port, tmp = free_port(), tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def postgres_schema():
    """A fresh schema; yields (url with search_path, schema name)."""
    import psycopg2
    schema = "bench_" + uuid.uuid4().hex[:10]
    conn = psycopg2.connect(POSTGRES)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES else "?"
    try:
        yield f"{POSTGRES}{sep}options=-csearch_path%3D{schema}", schema
    finally:
        from schedulerx import db
        if db.database.obj is not None and not db.database.is_closed():
            db.database.close_all() if hasattr(db.database.obj, "close_all") else db.database.close()
        conn.cursor().execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def database_url(setup: str, tmp: Path):
    """A context manager giving an empty database of the set-up's kind."""
    if setup == "scaled":
        return postgres_schema()

    @contextmanager
    def sqlite():
        yield f"sqlite:///{tmp / 'bench.db'}", None
    return sqlite()


# --- SchedulerX under load -------------------------------------------------------------

class SchedulerX:
    """SchedulerX in one set-up: seed publications, start the workers and clock, read results."""

    def __init__(self, setup: str, db_url: str, broker_url: str, tmp: Path, **settings):
        from schedulerx.config import load_config
        from schedulerx.plugins import make_plugin_manager
        from schedulerx.runtime import bootstrap

        from . import noop
        self.setup, self.tmp = setup, tmp
        self.env_settings = {"TICK_INTERVAL": "1.0", "WORKER_THREADS": str(WORKER_THREADS),
                             "RATE_LIMIT": "off", "HEARTBEAT_INTERVAL": "5",
                             **{k.upper(): str(v) for k, v in settings.items()}}
        self.config = load_config(data_dir=tmp / "data", database_url=db_url, broker_url=broker_url,
                                  secret_key="bench-" + "k" * 40,
                                  tick_interval=float(self.env_settings["TICK_INTERVAL"]),
                                  worker_threads=WORKER_THREADS, rate_limit="off",
                                  **{k: v for k, v in settings.items() if k != "tick_interval"})
        pm = make_plugin_manager(only="workers,web,localstorage")
        pm.register(noop, name="bench-noop")
        self.rt = bootstrap(self.config, pm=pm)
        self.procs: list[subprocess.Popen] = []
        self.stop_embedded = None
        self.workspace_id, self.post_id, self.account_id = noop.seed_owner(self.rt)

    # seeding -----------------------------------------------------------------
    def seed(self, due: list[float], status: str = "scheduled") -> None:
        """One publication per due time (epoch seconds), bulk-inserted."""
        from schedulerx.db import database
        from schedulerx.models import Publication
        now = naive(time.time())
        rows = [{"workspace": self.workspace_id, "post": self.post_id, "account": self.account_id,
                 "status": status, "scheduled_at": naive(t), "due_at": naive(t),
                 "idempotency_key": uuid.uuid4().hex, "timezone": "UTC", "max_attempts": 3,
                 "created_at": now, "updated_at": now} for t in due]
        with database.atomic():
            for i in range(0, len(rows), 2000):
                Publication.insert_many(rows[i:i + 2000]).execute()
        self.analyze()

    def analyze(self) -> None:
        from schedulerx.db import database
        database.execute_sql("ANALYZE")

    # running -----------------------------------------------------------------
    def start(self) -> None:
        if self.setup == "embedded":
            from schedulerx_workers import broker
            from schedulerx_workers.embedded import start
            broker.reset()
            self.stop_embedded = start(self.config)
            return
        from schedulerx_workers.plugin import IDLE_POLL_ENV, dramatiq_args
        env = {**os.environ, "DATABASE_URL": self.config.database_url,
               "BROKER_URL": self.config.broker_url, "SECRET_KEY": self.config.secret_key,
               "SCHEDULERX_DATA_DIR": str(self.config.data_dir),
               "SCHEDULERX_PLUGINS": "workers,localstorage", **IDLE_POLL_ENV,
               **{f"SCHEDULERX_{k}": v for k, v in self.env_settings.items()}}
        logs = open(self.tmp / "processes.log", "a")
        for _ in range(WORKER_PROCESSES):
            # `schedulerx worker`'s own arguments, with the no-op publisher added.
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "dramatiq",
                 *dramatiq_args("bench.worker_entry:setup", 1, WORKER_THREADS, 30), "--path", str(ROOT)],
                cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True))
        self.procs.append(subprocess.Popen(
            [str(Path(sys.executable).with_name("schedulerx")), "clock"],
            cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True))

    def stop(self) -> None:
        import signal
        if self.stop_embedded:
            self.stop_embedded()
            self.stop_embedded = None
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        self.procs = []

    def wait_published(self, n: int, timeout: float) -> bool:
        from schedulerx.models import Publication
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if Publication.select().where(Publication.status == "published").count() >= n:
                return True
            time.sleep(0.25)
        return False

    def results(self) -> dict:
        """Due time, publisher-call time and attempts of every publication."""
        from schedulerx.models import Publication, PublishAttempt
        calls: dict[int, list[float]] = {}
        for a in PublishAttempt.select(PublishAttempt.publication, PublishAttempt.raw_response):
            calls.setdefault(a.publication_id, []).append(
                float(a.raw_response) if a.raw_response else None)
        rows = []
        for p in Publication.select(Publication.id, Publication.scheduled_at, Publication.status):
            times = [t for t in calls.get(p.id, []) if t is not None]
            rows.append({"due": epoch(p.scheduled_at), "status": p.status,
                         "call": min(times) if times else None, "calls": len(calls.get(p.id, []))})
        return summarize(rows)


def summarize(rows: list[dict]) -> dict:
    """Lateness, completion, duplicates and misses of a list of {due, call, calls, status}."""
    done = [r for r in rows if r["call"] is not None]
    late = [r["call"] - r["due"] for r in done]
    first_due = min((r["due"] for r in rows), default=None)
    last_call = max((r["call"] for r in done), default=None)
    return {"n": len(rows), "published": len(done),
            "missed": len(rows) - len(done),
            "duplicates": sum(max(0, r["calls"] - 1) for r in rows),
            "lateness": lateness_stats(late),
            "time_to_last": (last_call - first_due) if done else None,
            "throughput": (len(done) / (last_call - first_due)) if done and last_call > first_due else None}


def spread(start: float, rate: float, seconds: float) -> list[float]:
    """Due times at a steady ``rate`` per second for ``seconds``, from ``start``."""
    n = int(rate * seconds)
    return [start + i / rate for i in range(n)]


def parse_setup(argv=None, **extra):
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", choices=SETUPS, default="scaled")
    for name, (kind, default, help_) in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, help=help_)
    return parser.parse_args(argv)


def start_at(lead: float) -> float:
    """A due instant ``lead`` seconds ahead, on a whole second (ticks run every second)."""
    return float(int(time.time() + lead))


def ratio(a, b):
    return (a / b) if a is not None and b not in (None, 0) else None


__all__ = ["SchedulerX", "table", "write_json", "lateness_stats", "summarize", "spread",
           "redis_server", "database_url", "machine", "parse_setup", "start_at", "log", "ratio",
           "timedelta"]
