"""The one place that builds the broker. Actors are bound to it by ``install``.

``memory://`` is the embedded in-process broker; ``redis://`` and ``amqp://``
(RabbitMQ, needs the ``rabbitmq`` extra) are for the scaled set-up.
"""
from __future__ import annotations

import threading

import dramatiq
from dramatiq.brokers.stub import StubBroker

from .middleware import CloseDatabase, WorkerHeartbeat

_installed: tuple[str, dramatiq.Broker] | None = None
_lock = threading.Lock()


def make_broker(url: str) -> dramatiq.Broker:
    if url.startswith("memory"):
        broker = StubBroker()
        broker.emit_after("process_boot")
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker
        broker = RedisBroker(url=url)
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker
        broker = RabbitmqBroker(url=url)
    else:
        raise ValueError(f"unsupported BROKER_URL {url!r}: use memory://, redis:// or amqp://")
    return broker


def install(config, broker: dramatiq.Broker | None = None) -> dramatiq.Broker:
    """Make ``broker`` (or one from ``config.broker_url``) current and bind the actors to it."""
    global _installed
    from . import actors
    with _lock:
        if broker is None and _installed and _installed[0] == config.broker_url:
            return _installed[1]
        broker = broker or make_broker(config.broker_url)
        broker.add_middleware(WorkerHeartbeat(config.heartbeat_interval))
        broker.add_middleware(CloseDatabase())
        dramatiq.set_broker(broker)
        for actor in actors.ALL:
            actor.broker = broker
            broker.declare_actor(actor)
        _installed = (config.broker_url, broker)
        return broker


def current() -> dramatiq.Broker | None:
    return _installed[1] if _installed else None


def reset() -> None:
    """Forget the installed broker (tests switch between brokers)."""
    global _installed
    with _lock:
        _installed = None
