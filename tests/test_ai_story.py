"""The issue's "done when", walked through the API, with real worker threads for the jobs.

A new user with no network and no keys uploads ``python-functions-tutorial.mp4`` and
gets a title, description and hashtags per platform; switches to an OpenAI-compatible
provider by entering a base URL and model; edits and activates a template and sees the
next generation follow it. Also: automatic generation on ingest, and job recovery.
"""
from __future__ import annotations

import time
from datetime import timedelta

import dramatiq
import pytest

from schedulerx.ai import jobs
from schedulerx.ai.fitting import measure
from schedulerx.models import AICall, AIJob
from schedulerx.timeutil import utcnow
from schedulerx_workers import broker as broker_mod

from .ai_fakes import FakeOpenAI
from .api_support import mp4_bytes, upload

TERMINAL = ("done", "failed")


@pytest.fixture
def workers(rt):
    """The embedded set-up's worker threads on the in-process broker (no clock: the web's
    dispatch_tick starts each job, as in the embedded mode)."""
    broker_mod.reset()
    b = broker_mod.install(rt.config)
    worker = dramatiq.Worker(b, worker_threads=2, worker_timeout=100)
    worker.start()
    yield b
    worker.stop()
    broker_mod.reset()


def wait_for_job(api, job: dict, limit: float = 60) -> dict:
    """Poll the job's URL as a client would (bounded; not a timing assertion)."""
    deadline = time.monotonic() + limit
    while True:
        body = api.get(job["url"].removeprefix("/api/v1")).json
        if body["status"] in TERMINAL or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_done_when_story(api, workers):
    platforms = {p["name"]: p["limits"] for p in api.get("/platforms").json}

    # 1. No network, no keys: upload and generate with the default (offline) provider.
    media = upload(api, mp4_bytes(), "python-functions-tutorial.mp4").json
    r = api.post("/ai/generate", json={"media_id": media["id"]})
    assert r.status_code == 200, r.json
    first = r.json["result"]
    assert first["title"] == "Python Functions Tutorial"
    assert "Python Functions Tutorial" in first["description"]
    assert {"python", "functions"} <= {t.lower() for t in first["hashtags"]}
    assert {v["platform"] for v in first["variants"]} == set(platforms)
    for v in first["variants"]:
        assert v["title"] == "Python Functions Tutorial" and v["hashtags"]
        assert v["body"].startswith(first["description"]) and "#python" in v["body"]
        assert measure(v["body"]) <= (platforms[v["platform"]]["text_max"] or 10**9)

    with FakeOpenAI(key=None, model="llama3.1") as server:
        # 2. Switch to an OpenAI-compatible server by entering a base URL and a model.
        r = api.put("/ai/providers/openai", json={"settings": {"base_url": server.url,
                                                               "model": "llama3.1"}})
        assert r.status_code == 200, r.json
        assert api.patch("/ai/settings", json={"default_provider": "openai"}).status_code == 200
        r = api.post("/ai/generate", json={"media_id": media["id"]})
        assert r.status_code == 202, r.json  # a network provider runs in a worker
        job = wait_for_job(api, r.json["job"])
        assert job["status"] == "done", job
        second = job["result"]
        assert second["provider"] == "openai" and second["model"] == "llama3.1"
        assert second["title"] == "PYTHON FUNCTIONS TUTORIAL"  # the model's answer
        assert second["input_tokens"] and second["output_tokens"] == 17
        assert len(server.requests) == 1

        # 3. Edit a template, activate it: the next generation follows it.
        t = api.post("/ai/templates", json={"name": "Short titles", "purpose": "metadata",
                                            "body": "Topic: {{ topic }}\nTITLE: {{ title_hint }}"}).json
        r = api.put(f"/ai/templates/{t['id']}", json={
            "body": "Topic: {{ topic }}\nTITLE: {{ title_hint }} in 5 minutes"})
        assert r.json["version"] == 2
        assert api.post(f"/ai/templates/{t['id']}/activate").json["is_active"] is True
        r = api.post("/ai/generate", json={"media_id": media["id"], "platforms": ["localfeed"]})
        job = wait_for_job(api, r.json["job"])
        assert job["status"] == "done", job
        third = job["result"]
        assert third["title"] == "Python Functions Tutorial in 5 minutes"
        assert third["template"] == {"id": t["id"], "name": "Short titles", "version": 2,
                                     "builtin": False}
        assert "TITLE: Python Functions Tutorial in 5 minutes" in \
            server.requests[-1]["body"]["messages"][1]["content"]
        r = api.get(f"/ai/calls?job_id={job['id']}")
        assert r.status_code == 200, r.get_data(as_text=True)
        calls = r.json["items"]
        assert [c["template_version"] for c in calls] == [2]


def test_automatic_generation_on_ingest(api, workers):
    assert api.patch("/ai/settings", json={"auto_generate": True,
                                           "auto_platforms": ["localfeed"]}).status_code == 200
    media = upload(api, mp4_bytes(), "weekend-hiking-trip.mp4").json
    [job] = api.get("/ai/jobs").json["items"]
    assert job["request"]["media_id"] == media["id"] and job["request"]["source"] == "ingest"
    job = wait_for_job(api, job)
    assert job["status"] == "done", job
    ai = api.get(f"/media/{media['id']}").json["meta"]["ai"]
    assert ai["title"] == "Weekend Hiking Trip" and [v["platform"] for v in ai["variants"]] == ["localfeed"]
    api.patch("/ai/settings", json={"auto_generate": False})
    upload(api, mp4_bytes(), "second.mp4")
    assert api.get("/ai/jobs").json["total"] == 1


def test_a_failing_job_says_why(api, workers):
    with FakeOpenAI() as server:  # expects a key that is not given
        api.put("/ai/providers/openai", json={"settings": {"base_url": server.url, "model": "gpt-test",
                                                           "max_retries": 0}})
        r = api.post("/ai/generate", json={"topic": "x", "provider": "openai"})
        job = wait_for_job(api, r.json["job"])
    assert job["status"] == "failed" and job["error_code"] == "ai_provider_auth"
    assert "refused the API key" in job["error_message"]
    assert AICall.get().status == "error"


def test_claims_are_exact_and_lost_jobs_are_recovered(rt, owner):
    ws = owner[1]
    job = jobs.create(rt.pm, ws.id, {"purpose": "metadata", "topic": "bread"})
    [(job_id, claim)] = jobs.claim_due()
    assert jobs.claim_due() == []  # claimed once
    assert jobs.run(rt.config, rt.pm, job_id, "stale-claim") is None
    # The message was lost: after the lease the tick claims it again under a new token.
    later = utcnow() + timedelta(seconds=jobs.LEASE_SECONDS + 1)
    [(same, claim2)] = jobs.claim_due(now=later)
    assert same == job.id and claim2 != claim
    assert jobs.run(rt.config, rt.pm, job_id, claim) is None  # the old claim is dead
    assert jobs.run(rt.config, rt.pm, job_id, claim2) == "done"
    assert AIJob.get_by_id(job.id).result["title"] == "Bread"


def test_a_dead_worker_gets_one_more_attempt_then_the_job_fails(rt, owner):
    job = jobs.create(rt.pm, owner[1].id, {"purpose": "metadata", "topic": "bread"})
    now = utcnow()
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        [(_, claim)] = jobs.claim_due(now=now)
        jobs._start(job.id, claim)  # the worker starts, then dies without finishing
        assert AIJob.get_by_id(job.id).attempts == attempt
        now += timedelta(seconds=jobs.LEASE_SECONDS + 1)
    assert jobs.claim_due(now=now) == []
    failed = AIJob.get_by_id(job.id)
    assert failed.status == "failed" and failed.error_code == "lease_expired"
