"""Database connection and versioned migrations.

One peewee ``DatabaseProxy`` is bound at start-up from ``DATABASE_URL``: a SQLite
file in the embedded mode, PostgreSQL in the scaled one. Migrations are peewee's
own runner over the numbered scripts in ``schedulerx/migrations``.
"""
from __future__ import annotations

import json
from pathlib import Path

import peewee
from playhouse.db_url import connect as connect_url
from playhouse.migrations import Runner

database = peewee.DatabaseProxy()

MIGRATIONS_DIR = str(Path(__file__).with_name("migrations"))

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
}


class JSONField(peewee.TextField):
    """JSON stored as text: the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"), default=str)

    def python_value(self, value):
        return None if value is None else json.loads(value)


def make_database(url: str) -> peewee.Database:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ":memory:"
        if path not in ("", ":memory:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # RETURNING needs SQLite >= 3.35; timeout is the driver-level busy wait.
        # Every transaction takes the write lock at BEGIN (IMMEDIATE): a deferred
        # one that reads, then writes, fails at once with "database is locked"
        # when another writer is active, without waiting for the busy timeout.
        return peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10,
                                     returning_clause=True, lock_type="IMMEDIATE")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        # Pooled: web requests and worker messages give connections back instead
        # of reconnecting every time.
        url = "postgresql+pool://" + url[len("postgresql://"):]
        sep = "&" if "?" in url else "?"
        if "max_connections=" not in url:
            url += f"{sep}max_connections=64&stale_timeout=300"
    return connect_url(url)


def bind(url: str) -> peewee.Database:
    """Point the models at the database named by ``url``."""
    db = make_database(url)
    database.initialize(db)
    return db


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


def migrations() -> Runner:
    return Runner(database.obj, directory=MIGRATIONS_DIR)


#: Any fixed number: the PostgreSQL advisory lock that serialises migrations.
_MIGRATION_LOCK = 5_148_923


def upgrade() -> list[str]:
    """Apply every pending migration; return the names applied.

    Safe when web, worker and clock start together against PostgreSQL: an
    advisory lock lets one process migrate while the others wait.
    """
    db = database.obj
    if isinstance(db, peewee.PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            return migrations().up()
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return migrations().up()
