"""Fake AI services: real HTTP servers on 127.0.0.1 that enforce the documented request shape.

``FakeOpenAI`` speaks ``POST /v1/chat/completions`` (OpenAI, Ollama, vLLM, LM Studio,
OpenRouter all accept this shape); ``FakeAnthropic`` speaks ``POST /v1/messages``.
Each checks auth, model and body shape, answers like the real service (error bodies
included), counts what it received, and follows a script: answer slowly, with an
error status, with content that is not JSON, or with a body that is not JSON.

The default answer "follows the prompt" in one deterministic way, so tests can see
a template change reach the output: a prompt line ``TITLE: …`` becomes the title;
otherwise the title is the prompt's ``Topic:`` line in upper case.
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer_for(purpose: str, prompt: str) -> dict:
    wanted = re.search(r"^TITLE: (.+)$", prompt, flags=re.M)
    topic = re.search(r"^Topic: (.+)$", prompt, flags=re.M)
    title = wanted.group(1).strip() if wanted else (topic.group(1).upper() if topic else "A TITLE")
    full = {"title": title, "description": f"All about {title.lower()}.",
            "hashtags": ["#fake", "model answer"], "caption": f"{title}!",
            "script": f"Hook: {title}"}
    keys = {"metadata": ("title", "description", "hashtags"), "caption": ("caption", "hashtags"),
            "hashtags": ("hashtags",), "script": ("title", "script")}[purpose]
    return {k: full[k] for k in keys}


class _Server:
    path = "/"

    def __init__(self):
        self.requests: list[dict] = []  # bodies (and headers) that passed the checks
        self.rejected: list[tuple[int, str]] = []
        self.script: list[tuple] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, code, payload=None, text=None, headers=None):
                data = text.encode() if text is not None else json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != server.path:
                    return self.send(404, server.error(404, f"no route {self.path}"))
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self.send(400, server.error(400, "body is not JSON"))
                problem = server.check(self.headers, body)
                if problem:
                    with server.lock:
                        server.rejected.append(problem)
                    return self.send(problem[0], server.error(*problem))
                with server.lock:
                    server.requests.append({"headers": dict(self.headers), "body": body})
                    step = server.script.pop(0) if server.script else ("ok",)
                kind = step[0]
                if kind == "slow":
                    time.sleep(step[1])
                    return self.send(200, server.reply(body, None))
                if kind == "status":
                    _, code, headers = (*step, {})[:3]
                    return self.send(code, server.error(code, f"scripted {code}"), headers=headers)
                if kind == "content":  # the model's text, e.g. not JSON at all
                    return self.send(200, server.reply(body, step[1]))
                if kind == "garbage":  # the HTTP body itself is not JSON
                    return self.send(200, text="<html>proxy error</html>")
                return self.send(200, server.reply(body, None))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class FakeOpenAI(_Server):
    """``POST /v1/chat/completions``. ``key=None``: no key expected (Ollama, LM Studio)."""
    path = "/v1/chat/completions"

    def __init__(self, *, key: str | None = "sk-test-key", model: str = "gpt-test",
                 response_format: str = "json_schema"):
        super().__init__()
        self.key, self.model, self.response_format = key, model, response_format
        self.url = self.base + "/v1"

    def error(self, code, message):
        kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(code, "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def check(self, headers, body):
        auth = headers.get("Authorization")
        if self.key is not None and auth != f"Bearer {self.key}":
            return 401, "Incorrect API key provided"
        if self.key is None and auth is not None:
            return 400, "this server takes no Authorization header"
        if headers.get("Content-Type") != "application/json":
            return 400, "JSON body expected"
        if body.get("model") != self.model:
            return 404, f"The model `{body.get('model')}` does not exist"
        messages = body.get("messages")
        if not (isinstance(messages, list) and messages and all(
                isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str) for m in messages)):
            return 400, "messages must be a list of {role, content}"
        if [m["role"] for m in messages[:2]] != ["system", "user"]:
            return 400, "expected a system then a user message"
        rf = body.get("response_format")
        if self.response_format == "json_schema":
            js = (rf or {}).get("json_schema") or {}
            if rf.get("type") != "json_schema" or not js.get("name") or js.get("strict") is not True \
                    or js.get("schema", {}).get("type") != "object":
                return 400, "response_format must be a strict json_schema"
        elif self.response_format == "json_object" and rf != {"type": "json_object"}:
            return 400, "response_format must be json_object"
        return None

    def purpose(self, body) -> str:
        rf = body.get("response_format") or {}
        name = (rf.get("json_schema") or {}).get("name", "schedulerx_metadata")
        return name.removeprefix("schedulerx_")

    def reply(self, body, content):
        user = body["messages"][1]["content"]
        if content is None:
            content = json.dumps(answer_for(self.purpose(body), user))
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": len(user.split()), "completion_tokens": 17,
                          "total_tokens": len(user.split()) + 17}}


class FakeAnthropic(_Server):
    """``POST /v1/messages`` with the documented headers and a forced tool call."""
    path = "/v1/messages"

    def __init__(self, *, key: str = "sk-ant-test", model: str = "claude-test"):
        super().__init__()
        self.key, self.model = key, model
        self.url = self.base

    def error(self, code, message):
        kind = {400: "invalid_request_error", 401: "authentication_error",
                404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"
                }.get(code, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def check(self, headers, body):
        # The key comes as x-api-key or, from newer SDKs, as a bearer token.
        if self.key not in (headers.get("x-api-key"), (headers.get("Authorization") or "")[7:]) \
                or (headers.get("Authorization") and not headers["Authorization"].startswith("Bearer ")):
            return 401, "invalid x-api-key"
        if not headers.get("anthropic-version"):
            return 400, "anthropic-version header is required"
        if body.get("model") != self.model:
            return 404, f"model: {body.get('model')}"
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            return 400, "max_tokens: field required"
        messages = body.get("messages") or []
        if not messages or messages[0].get("role") != "user" or any(
                m.get("role") not in ("user", "assistant") for m in messages):
            return 400, "messages: roles must be user/assistant, starting with user"
        if not isinstance(body.get("system"), str):
            return 400, "system must be a string here"
        tools = body.get("tools") or []
        choice = body.get("tool_choice") or {}
        if len(tools) != 1 or tools[0].get("input_schema", {}).get("type") != "object" \
                or choice != {"type": "tool", "name": tools[0].get("name")}:
            return 400, "expected one tool with an input_schema, forced by tool_choice"
        return None

    def reply(self, body, content):
        tool = body["tools"][0]
        purpose = tool["description"].removeprefix("Record the ").rstrip(".")
        prompt = body["messages"][0]["content"]
        block = ({"type": "text", "text": content} if content is not None else
                 {"type": "tool_use", "id": "toolu_01", "name": tool["name"],
                  "input": answer_for(purpose, prompt)})
        return {"id": "msg_01", "type": "message", "role": "assistant", "model": body["model"],
                "content": [block], "stop_reason": "tool_use", "stop_sequence": None,
                "usage": {"input_tokens": len(prompt.split()), "output_tokens": 21}}
