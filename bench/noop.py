"""The no-op publisher the benchmarks publish to: it answers at once with its call time."""
from __future__ import annotations

import time

from schedulerx import hookimpl
from schedulerx.publishers import PlatformDescriptor, PlatformLimits, Publisher, PublishResult

PLATFORM = "bench-noop"


class NoopPublisher(Publisher):
    descriptor = PlatformDescriptor(PLATFORM, "Benchmark no-op", PlatformLimits())
    idempotent = True

    def publish(self, ctx):
        # The raw response is the call time: lateness = this − the due time.
        return PublishResult(remote_id=str(ctx.publication_id), raw=repr(time.time()))


@hookimpl
def register_publishers():
    return [NoopPublisher]


def seed_owner(rt) -> tuple[int, int, int]:
    """A workspace, one post and one no-op account: (workspace, post, account) ids."""
    from schedulerx import accounts, auth, posts
    user, ws = auth.create_user("bench@example.com", "benchmark password", workspace_name="Bench")
    post = posts.create(ws.id, title="bench", body="a no-op post")
    account = accounts.create(rt.config, rt.pm, ws.id, platform=PLATFORM, display_name="no-op")
    return ws.id, post.id, account.id
