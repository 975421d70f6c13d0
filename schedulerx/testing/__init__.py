"""Test kit for publisher authors: a fake-platform server base and the publisher contract.

* ``fake_server``         — ``FakePlatform``: a real HTTP server on 127.0.0.1 that a
  platform fake subclasses (routes, fault injection, counting), and
  ``OAuthFake`` for the platform's OAuth 2.0 authorize and token endpoints.
* ``publisher_contract``  — ``PublisherContract``: subclass it in your tests, give it
  your publisher and your fake, and pytest runs the same checks SchedulerX runs on
  its own publishers (see docs/writing-a-publisher.md).
* ``samples``             — tiny valid media files.

Needs pytest (the ``test`` extra); nothing here is imported by the app itself.
"""
