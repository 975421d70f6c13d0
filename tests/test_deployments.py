"""The two deployments for real, as separate processes:

* embedded: `schedulerx run` — one process, SQLite, in-process broker;
* scaled: `honcho start` runs the Procfile's web, worker and clock on PostgreSQL and Redis.

In each, a post scheduled through the API a few seconds ahead is published once
to a local feed that is then fetched publicly."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
ATOM = "{http://www.w3.org/2005/Atom}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    return str(path) if path.exists() else shutil.which(name)


@pytest.fixture(params=["embedded", pytest.param("scaled", marks=[pytest.mark.postgres,
                                                                   pytest.mark.redis])])
def stack(request, tmp_path):
    from schedulerx import db
    scaled = request.param == "scaled"
    port = _free_port()
    env = {**os.environ}
    if scaled:
        from .conftest import _fresh_postgres
        postgres_url = request.getfixturevalue("postgres_url")
        db_url, schema = _fresh_postgres(postgres_url)
        redis_db = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/14"
        env.update(DATABASE_URL=db_url, BROKER_URL=redis_db)
        import redis
        redis.Redis.from_url(redis_db).flushdb()
        command = [_bin("honcho"), "start", "-f", str(ROOT / "Procfile")]
    else:
        for var in ("DATABASE_URL", "BROKER_URL", "SCHEDULERX_DATABASE_URL", "SCHEDULERX_BROKER_URL"):
            env.pop(var, None)
        command = [_bin("schedulerx"), "run"]
    env = {**env,
           "SCHEDULERX_DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "procfile-test-" + "k" * 30,
           "PORT": str(port), "SCHEDULERX_TICK_INTERVAL": "0.5",
           "SCHEDULERX_HEARTBEAT_INTERVAL": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    sx = _bin("schedulerx")
    subprocess.run([sx, "create-user", "--email", "ops@example.com", "--password", "a long password"],
                   env=env, check=True, capture_output=True, timeout=60)
    token = subprocess.run([sx, "create-token", "--email", "ops@example.com", "--name", "ci"],
                           env=env, check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    log = open(tmp_path / "honcho.log", "w")
    proc = subprocess.Popen(command, cwd=tmp_path,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if client.get("/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "honcho.log").read_text()
            time.sleep(0.3)
        yield client, proc, tmp_path
    finally:
        client.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # graceful for every process
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        if scaled:
            redis.Redis.from_url(redis_db).flushdb()
            admin = db.make_database(postgres_url)
            admin.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.close()


def test_deployment_publishes_once_to_the_local_feed(stack):
    client, proc, tmp_path = stack
    r = client.post("/api/v1/accounts", json={"platform": "localfeed", "display_name": "My feed",
                                              "settings": {"feed_title": "Ops feed"}})
    assert r.status_code == 201, r.text
    account = r.json()
    r = client.post("/api/v1/posts", json={"title": "From the Procfile", "body": "Hello, scaled world"})
    assert r.status_code == 201, r.text
    post = r.json()
    at = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat()
    r = client.post(f"/api/v1/posts/{post['id']}/schedule",
                    json={"account_ids": [account["id"]], "scheduled_at": at})
    assert r.status_code == 201, r.text
    [pub] = r.json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pub = client.get(f"/api/v1/publications/{pub['id']}").json()
        if pub["status"] in ("published", "failed", "unknown"):
            break
        time.sleep(0.3)
    assert pub["status"] == "published", (pub, (tmp_path / "honcho.log").read_text()[-3000:])
    assert pub["attempts"] == 1 and len(pub["attempt_log"]) == 1
    [feed_file] = list((tmp_path / "data" / "feeds").rglob("feed.atom"))
    # The feed is public: fetched without a token, at its stable URL.
    public = httpx.get(f"{str(client.base_url).rstrip('/')}/feeds/{feed_file.parent.name}/feed.atom")
    assert public.status_code == 200
    entries = ElementTree.fromstring(public.content).findall(f"{ATOM}entry")
    assert len(entries) == 1 and entries[0].findtext(f"{ATOM}title") == "From the Procfile"
    status = client.get("/api/v1/status").json()
    assert status["clock_alive"] and status["workers_alive"] and status["tick_alive"], status
