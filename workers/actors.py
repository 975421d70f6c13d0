"""The fixed set of actors. Messages carry ids; plugins are reached through the hook relay.

Dramatiq's own retries are off: the retry policy lives on each publication and
the tick re-dispatches. Actors are bound to a broker by ``broker.install``.
"""
from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker

from schedulerx import engine, runtime
from schedulerx.ai import jobs as ai_jobs

log = logging.getLogger(__name__)

# Placeholder until broker.install binds the actors to the configured broker.
_unbound = StubBroker()
QUEUE = "schedulerx"


@dramatiq.actor(broker=_unbound, queue_name=QUEUE, max_retries=0, time_limit=3_600_000)
def tick():
    """Claim due publications and send one publish message each."""
    rt = runtime.current()
    result = engine.tick(rt.config, pm=rt.pm)
    for pub_id, claim in result.claimed:
        publish.send(pub_id, claim)
    for pub_id in result.to_reconcile:
        reconcile.send(pub_id)
    if result.claimed or result.to_reconcile:
        log.info("tick: claimed %d, expired %d, reconcile resent %d", len(result.claimed),
                 len(result.expired), len(result.unreconciled))
    for job_id, claim in ai_jobs.claim_due():
        ai_generate.send(job_id, claim)


@dramatiq.actor(broker=_unbound, queue_name=QUEUE, max_retries=0, time_limit=3_600_000)
def publish(publication_id: int, claim: str):
    """Publish one claimed publication, exactly once for its claim."""
    rt = runtime.current()
    engine.publish(rt.pm, rt.config, publication_id, claim)


@dramatiq.actor(broker=_unbound, queue_name=QUEUE, max_retries=0, time_limit=3_600_000)
def reconcile(publication_id: int):
    """Settle a publication whose outcome is unknown."""
    rt = runtime.current()
    engine.reconcile(rt.pm, rt.config, publication_id)


@dramatiq.actor(broker=_unbound, queue_name=QUEUE, max_retries=0, time_limit=3_600_000)
def ai_generate(job_id: int, claim: str):
    """Run one claimed AI generation job (a provider call can take minutes)."""
    rt = runtime.current()
    ai_jobs.run(rt.config, rt.pm, job_id, claim)


ALL = (tick, publish, reconcile, ai_generate)
