"""An OpenAI-compatible Chat Completions server for tests, with scripted failures.

Owns a real HTTP endpoint (stdlib ``ThreadingHTTPServer`` on 127.0.0.1, an
ephemeral port, a daemon thread) that answers ``POST /v1/chat/completions``
with the same plan semantics as the offline model: the plan is parsed from the
first user message with ``dals.agent.plan.parse_plan``; step ``k`` is the
number of assistant messages in the request; step ``k < len(plan)`` gets one
tool call (id ``call-{k+1}``), later steps the plan summary. Only non-streaming
requests are served.

Every request is recorded (step, conversation key, time, answer status), so
tests can assert how many model calls really reached the provider, and the
hooks ``delays``, ``fail_next`` and ``fail_until``/``fail_status`` script
slow and failing provider behaviour.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dals.agent.plan import parse_plan, plan_summary

_CONNECTION_DROPS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class OpenAIDouble:
    """A scripted stand-in for an OpenAI Chat Completions provider."""

    def __init__(self, model: str = "double") -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.delays: dict[int, float] = {}
        """Seconds to wait before answering step k, failures included (cut short by ``stop()``)."""
        self.fail_next: list[int] = []
        """HTTP statuses for the next requests, popped in order."""
        self.fail_until: threading.Event | None = None
        """While set to an unset event, every request fails with ``fail_status``."""
        self.fail_status = 503
        self.fail_from_step = 0
        """``fail_until`` applies only to steps at or after this one."""
        self.retry_after_ms = 10
        """Sent as ``retry-after-ms`` with failures, so retrying clients back off briefly."""
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> OpenAIDouble:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.double = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> OpenAIDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("OpenAIDouble is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # observations

    def count(self, step: int | None = None, key: str | None = None, status: int | None = None) -> int:
        """Requests received, optionally only for ``step``, conversation ``key`` and answer ``status``."""
        with self._changed:
            return sum(
                1
                for r in self.requests
                if (step is None or r["step"] == step)
                and (key is None or r["key"] == key)
                and (status is None or r["status"] == status)
            )

    def repeated(self, status: int | None = None) -> dict[tuple[str, int], int]:
        """``{(key, step): n}`` for every step requested more than once (optionally only with ``status``)."""
        with self._changed:
            seen = Counter(
                (r["key"], r["step"]) for r in self.requests if status is None or r["status"] == status
            )
        return {pair: n for pair, n in seen.items() if n > 1}

    def wait_for_step(self, step: int, timeout: float) -> bool:
        """Block until a request for ``step`` has arrived (answered or not); False on timeout."""
        return self.wait_until(lambda requests: any(r["step"] == step for r in requests), timeout)

    def wait_until(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float) -> bool:
        """Block until ``predicate(requests)`` holds, re-checked on every arrival and answer."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.requests), timeout)

    # request handling (runs on the server's threads)

    def _record(self, step: int, key: str) -> dict[str, Any]:
        entry = {"step": step, "key": key, "time": time.time(), "status": None}
        with self._changed:
            self.requests.append(entry)
            self._changed.notify_all()
        return entry

    def _set_status(self, entry: dict[str, Any], status: int) -> None:
        with self._changed:
            entry["status"] = status
            self._changed.notify_all()

    def _scripted_failure(self, step: int) -> int | None:
        with self._changed:
            if self.fail_next:
                return self.fail_next.pop(0)
        if step < self.fail_from_step:
            return None
        if self.fail_until is not None and not self.fail_until.is_set():
            return self.fail_status
        return None

    def _answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = body.get("messages") or []
        prompt = first_user_text(messages)
        step = sum(1 for m in messages if m.get("role") == "assistant")
        entry = self._record(step, conversation_key(prompt))
        entry["messages"] = messages
        status, payload = self._reply(body, messages, prompt, step)
        delay = self.delays.get(step, 0.0)
        if delay:
            self._stopping.wait(delay)
        self._set_status(entry, status)
        return status, payload

    def _reply(
        self, body: dict[str, Any], messages: list[dict[str, Any]], prompt: str, step: int
    ) -> tuple[int, dict[str, Any]]:
        if body.get("stream"):
            message = "streaming is not supported by OpenAIDouble; send stream=false"
            return 400, _error(message, "invalid_request_error")
        failure = self._scripted_failure(step)
        if failure is not None:
            return failure, _error(f"scripted failure {failure} for step {step}", _error_type(failure))
        try:
            plan = parse_plan(prompt)
        except ValueError as err:
            return 400, _error(str(err), "invalid_request_error")
        if step < len(plan):
            arguments = json.dumps(plan[step].args)
            function = {"name": plan[step].tool, "arguments": arguments}
            call = {"id": f"call-{step + 1}", "type": "function", "function": function}
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish, out_len = "tool_calls", len(plan[step].tool) + len(arguments)
        else:
            text = plan_summary(plan) if plan else "No plan in the prompt."
            message = {"role": "assistant", "content": text}
            finish, out_len = "stop", len(text)
        prompt_tokens = max(1, len(json.dumps(messages, sort_keys=True)) // 4)
        completion_tokens = max(1, out_len // 4)
        return 200, {
            "id": f"chatcmpl-{conversation_key(prompt)}-{step}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def first_user_text(messages: list[dict[str, Any]]) -> str:
    """Text of the first user message; list contents are joined from their text parts."""
    for message in messages:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = (p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            return "\n".join(texts)
        return ""
    return ""


def conversation_key(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:12]


def _error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_exceeded"
    return "server_error" if status >= 500 else "invalid_request_error"


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: OpenAIDouble

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-delay is expected in these tests, not an error worth a traceback.
        if isinstance(sys.exc_info()[1], _CONNECTION_DROPS):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, _error(f"no route for POST {self.path}", "invalid_request_error"))
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as err:
            self._send(400, _error(f"request body is not JSON: {err}", "invalid_request_error"))
            return
        status, payload = self.server.double._answer(body)
        self._send(status, payload)

    def do_GET(self) -> None:
        self._send(404, _error(f"no route for GET {self.path}", "invalid_request_error"))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status >= 400:
                self.send_header("retry-after-ms", str(self.server.double.retry_after_ms))
            self.end_headers()
            self.wfile.write(data)
        except _CONNECTION_DROPS:
            self.close_connection = True
