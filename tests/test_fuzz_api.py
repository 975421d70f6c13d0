"""Property-based fuzzing of the whole API from its own OpenAPI spec (schemathesis).

Every operation in ``/api/v1/openapi.json`` is called with generated valid and
invalid input, with a valid token, against a workspace that holds one object of
each kind, on SQLite and on PostgreSQL. Checked: no 5xx, status codes, content types and bodies as the spec
says, and every error in the standard body. Bounded for CI;
``SCHEDULERX_FUZZ_EXAMPLES`` raises the number of examples per operation.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from schedulerx.models import ApiToken

from .api_support import account, png_bytes, testpub, upload  # noqa: F401

EXAMPLES = int(os.environ.get("SCHEDULERX_FUZZ_EXAMPLES", "15"))
ERROR_KEYS = {"error_code", "error_message", "error_class", "errors"}


@schemathesis.check
def standard_error_body(ctx, response, case):
    """Every 4xx/5xx answer of the API is the one error body."""
    if response.status_code >= 400:
        body = response.json()
        if not isinstance(body, dict) or set(body) != ERROR_KEYS:
            raise AssertionError(f"not the standard error body: {response.text[:300]}")
        if not (isinstance(body["error_code"], str) and isinstance(body["error_message"], str)
                and isinstance(body["errors"], dict)):
            raise AssertionError(f"error body fields of the wrong type: {body}")


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection, standard_error_body]


@pytest.fixture
def fuzz_state(app, api, account):  # noqa: F811
    """One object of each kind (id 1), so generated ids find real rows too."""
    assert upload(api, png_bytes()).status_code == 201
    assert api.post("/posts", json={"title": "Seed", "body": "for the fuzzer", "media": [1]}).status_code == 201
    r = api.post("/posts/1/schedule", json={"account_ids": [account["id"]],
                                            "scheduled_at": "2099-01-01T09:00:00Z"})
    assert r.status_code == 201, r.json
    return app, api.token


def test_api_answers_as_its_spec_says(fuzz_state):
    """Each operation, valid then invalid input; every failure is listed at the end."""
    app, token = fuzz_state
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                # The fuzzer may revoke the very token it uses (DELETE /tokens/{id}): give it back.
                ApiToken.update(revoked_at=None).execute()
                case.call_and_validate(headers=headers, checks=CHECKS)
            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # one operation's failure must not hide the others'
                failures.append(f"{operation.method.upper()} {operation.path} [{mode}]: {exc}")
    assert operations >= 20, operations
    assert not failures, "\n\n".join(failures)


def test_nul_characters_are_refused_before_they_reach_the_database(api, client):
    """What the fuzzer found on PostgreSQL (which cannot store U+0000): now a 422 everywhere."""
    import io

    from .api_support import assert_error
    cases = [
        api.get("/posts?q=a%00b"),
        api.post("/posts", json={"title": "a\x00b"}),
        api.post("/posts", json={"body": "ok", "variants": [{"platform": "x", "body": "\x00"}]}),
        api.post("/tokens", json={"name": "\x00"}),
        api.post("/media", data={"file": (io.BytesIO(png_bytes()), "a\x00.png")},
                 content_type="multipart/form-data"),
    ]
    for r in cases:
        body = assert_error(r, 422, "validation_error")
        assert "NUL" in body["error_message"] and body["errors"], body
    assert client.get("/feeds/a%00b/feed.atom").status_code == 422
    assert client.post("/login", data={"email": "a\x00"}).status_code in (400, 422)  # CSRF first


def test_numbers_no_column_can_hold_are_refused_on_every_json_route(api):
    """Also found by the fuzzer (SQLite overflows past 64 bits): a 422, not a 500."""
    from .api_support import assert_error
    for path in ("/posts", "/tokens", "/accounts"):
        body = assert_error(api.post(path, json={"title": "x", "body": "y", "anything": 2**70}),
                            422, "validation_error")
        assert body["errors"] == {"anything": ["is a number outside the 64-bit range"]}
