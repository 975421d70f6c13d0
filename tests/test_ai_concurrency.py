"""Template rules under concurrent requests, on SQLite and PostgreSQL (real threads, one
test client each): exactly one active template per purpose; one version per edit."""
from __future__ import annotations

import threading

from schedulerx.models import PromptTemplate, PromptTemplateVersion

from .conftest import Api

THREADS = 6
ROUNDS = 4


def run_together(fn, n=THREADS):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker(i):
        try:
            barrier.wait()
            results.extend(fn(i))
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_concurrent_activations_leave_exactly_one_active(app, owner):
    token = owner[2]
    api = Api(app.test_client(), token)
    ids = [api.post("/ai/templates", json={"name": f"T{i}", "purpose": "metadata",
                                           "body": f"template {i}: {{{{ topic }}}}"}).json["id"]
           for i in range(THREADS)]
    caption = api.post("/ai/templates", json={"name": "C", "purpose": "caption", "body": "c",
                                              "activate": True}).json["id"]

    def activate(i):
        mine = Api(app.test_client(), token)
        return [mine.post(f"/ai/templates/{ids[(i + r) % THREADS]}/activate").status_code
                for r in range(ROUNDS)]

    statuses = run_together(activate)
    assert statuses == [200] * THREADS * ROUNDS
    active = [t.id for t in PromptTemplate.select().where(PromptTemplate.is_active == True)  # noqa: E712
              .order_by(PromptTemplate.id)]
    assert len(active) == 2 and active[-1] == caption and active[0] in ids
    assert api.get("/ai/templates/active?purpose=metadata").json["id"] == active[0]


def test_concurrent_edits_each_get_their_own_version(app, owner):
    token = owner[2]
    api = Api(app.test_client(), token)
    tid = api.post("/ai/templates", json={"name": "T", "purpose": "metadata",
                                          "body": "v1 {{ topic }}"}).json["id"]

    def edit(i):
        mine = Api(app.test_client(), token)
        return [mine.put(f"/ai/templates/{tid}", json={"body": f"edit {i}.{r} {{{{ topic }}}}"}).status_code
                for r in range(ROUNDS)]

    assert run_together(edit) == [200] * THREADS * ROUNDS
    versions = [v.version for v in PromptTemplateVersion.select()
                .where(PromptTemplateVersion.template == tid).order_by(PromptTemplateVersion.version)]
    assert versions == list(range(1, THREADS * ROUNDS + 2))
    t = PromptTemplate.get_by_id(tid)
    assert t.version == versions[-1]
    last = PromptTemplateVersion.get(PromptTemplateVersion.template == tid,
                                     PromptTemplateVersion.version == t.version)
    assert last.body == t.body
