"""What the scripted model-provider doubles share: the HTTP server, the plan script, the failure
hooks and the request record. The wire formats are theirs (`openai_double`, `anthropic_double`).

A double owns a real HTTP endpoint (stdlib ``ThreadingHTTPServer`` on 127.0.0.1, an ephemeral
port, a daemon thread) answering ``POST {route}`` with the same plan semantics as the offline
model: the plan is parsed from the user message that started the current turn (the first one, or a
follow-up's: a user message after the assistant's final text) with ``dals.agent.plan.parse_plan``;
step ``k`` is the number of assistant messages after it; step ``k < len(plan)`` gets one tool call,
later steps the plan summary. A user message after tool results (a steer) does not start a turn.

Every request is recorded (step, turn, position in the conversation, conversation key, time, answer status, the messages sent,
whether it asked for a stream, the usage answered, the characters of its whole JSON body), so tests can assert how many model calls really reached the provider and what
they carried; the hooks ``delays``, ``holds``, ``fail_next``, ``fail_until``/``fail_status``/
``fail_from_step`` and ``api_key`` script slow, failing and key-refusing provider behaviour.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from dals.agent.plan import parse_plan, plan_summary

_CONNECTION_DROPS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class Turn:
    """What the plan says the model answers at one step: one tool call, or the final text."""

    step: int
    input_tokens: int
    output_tokens: int
    tool: str | None = None
    args: dict[str, Any] | None = None
    text: str | None = None


@dataclass
class Reply:
    """An HTTP answer: a JSON ``body``, or server-sent ``events`` (name, data) when not None (no
    ``event:`` line for a None name; a str data is sent as it is)."""

    status: int
    body: dict[str, Any] | None = None
    events: list[tuple[str | None, Any]] | None = None
    usage: tuple[int, int] | None = None
    """(input, output) tokens this answer reported."""


class ProviderDouble:
    """A scripted stand-in for a model provider; subclasses speak one provider's API."""

    route = ""
    """The path served, e.g. ``/v1/chat/completions``."""

    def __init__(self, model: str = "double", api_key: str | None = None) -> None:
        self.model = model
        self.api_key = api_key
        """When set, a request presenting another key (or none) gets a 401, as a real provider would."""
        self.requests: list[dict[str, Any]] = []
        self.delays: dict[int, float] = {}
        """Seconds to wait before answering step k, failures included (cut short by ``stop()``)."""
        self.holds: dict[int, threading.Event] = {}
        """Step k is answered only once its event is set (or ``stop()``)."""
        self.fail_next: list[int] = []
        """HTTP statuses for the next requests, popped in order."""
        self.fail_until: threading.Event | None = None
        """While set to an unset event, every request fails with ``fail_status``."""
        self.fail_status = 503
        self.fail_from_step = 0
        """``fail_until`` applies only to steps at or after this one."""
        self.stream_log: list[tuple[float, Any]] = []
        """(time.time() when written, data) of every server-sent event of streamed answers."""
        self.stream_gap = 0.0
        """Seconds between the server-sent events of a streamed answer (the first goes at once)."""
        self.retry_after_ms = 10
        """Sent as ``retry-after-ms`` with failures, so retrying clients back off briefly."""
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # the provider's wire format (subclasses)

    def _completion(self, body: dict[str, Any], turn: Turn, key: str) -> Reply:
        raise NotImplementedError

    def _error(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def _refusal(self, body: dict[str, Any]) -> Reply | None:
        """A request this double does not serve at all (answered before anything else), else None."""
        return None

    def _presented_key(self, headers: Mapping[str, str]) -> str | None:
        auth = headers.get("Authorization") or ""
        return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None

    # lifecycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.double = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

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
        """``{(key, position): n}`` for every request of a conversation sent more than once (optionally
        only with ``status``); ``position`` is the step for the first turn, and counts on over follow-ups."""
        with self._changed:
            seen = Counter((r["key"], r["position"]) for r in self.requests if status is None or r["status"] == status)
        return {pair: n for pair, n in seen.items() if n > 1}

    def wait_for_step(self, step: int, timeout: float) -> bool:
        """Block until a request for ``step`` has arrived (answered or not); False on timeout."""
        return self.wait_until(lambda requests: any(r["step"] == step for r in requests), timeout)

    def wait_until(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float) -> bool:
        """Block until ``predicate(requests)`` holds, re-checked on every arrival and answer."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.requests), timeout)

    # request handling (runs on the server's threads)

    def _record(self, step: int, key: str, body: dict[str, Any], turn: int = 0, position: int = 0) -> dict[str, Any]:
        entry = {
            "step": step,
            "key": key,
            "turn": turn,
            "position": position,
            "time": time.time(),
            "status": None,
            "messages": body.get("messages") or [],
            "stream": bool(body.get("stream")),
            "usage": None,
            "chars": len(json.dumps(body)),
        }
        with self._changed:
            self.requests.append(entry)
            self._changed.notify_all()
        return entry

    def _settle(self, entry: dict[str, Any], reply: Reply) -> None:
        with self._changed:
            entry["status"] = reply.status
            entry["usage"] = reply.usage
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

    def _answer(self, body: dict[str, Any], headers: Mapping[str, str]) -> Reply:
        messages = body.get("messages") or []
        starts = turn_starts(messages)
        start = starts[-1] if starts else 0
        prompt = user_text(messages[start]) if starts else ""
        step = sum(1 for m in messages[start:] if m.get("role") == "assistant")
        position = sum(1 for m in messages if m.get("role") == "assistant")
        entry = self._record(step, conversation_key(first_user_text(messages)), body, max(0, len(starts) - 1), position)
        reply = self._reply(body, headers, messages, prompt, step)
        delay = self.delays.get(step, 0.0)
        if delay:
            self._stopping.wait(delay)
        hold = self.holds.get(step)
        while hold is not None and not hold.wait(0.05) and not self._stopping.is_set():
            pass
        self._settle(entry, reply)
        return reply

    def _fail(self, status: int, message: str) -> Reply:
        return Reply(status, self._error(status, message))

    def _reply(
        self, body: dict[str, Any], headers: Mapping[str, str], messages: list[dict[str, Any]], prompt: str, step: int
    ) -> Reply:
        refused = self._refusal(body)
        if refused is not None:
            return refused
        if self.api_key is not None and self._presented_key(headers) != self.api_key:
            return self._fail(401, "invalid API key")
        failure = self._scripted_failure(step)
        if failure is not None:
            return self._fail(failure, f"scripted failure {failure} for step {step}")
        try:
            plan = parse_plan(prompt)
        except ValueError as err:
            return self._fail(400, str(err))
        input_tokens = max(1, len(json.dumps(messages, sort_keys=True)) // 4)
        if step < len(plan):
            tool, args = plan[step].tool, plan[step].args
            turn = Turn(step, input_tokens, max(1, (len(tool) + len(json.dumps(args))) // 4), tool=tool, args=args)
        else:
            text = plan_summary(plan) if plan else "No plan in the prompt."
            turn = Turn(step, input_tokens, max(1, len(text) // 4), text=text)
        reply = self._completion(body, turn, conversation_key(first_user_text(messages)))
        reply.usage = (turn.input_tokens, turn.output_tokens)
        return reply


def first_user_text(messages: list[dict[str, Any]]) -> str:
    """Text of the first user message; list contents are joined from their text parts."""
    for message in messages:
        if message.get("role") == "user":
            return user_text(message)
    return ""


def user_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        return "\n".join(texts)
    return ""


def _blocks(message: dict[str, Any], kind: str) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == kind for p in content)


def turn_starts(messages: list[dict[str, Any]]) -> list[int]:
    """Indexes of the user messages that start a turn: the first, and each one right after the
    assistant's final text (no tool calls); not one after tool results (a steer)."""
    starts, before = [], None
    for i, message in enumerate(messages):
        if message.get("role") == "user" and not _blocks(message, "tool_result"):
            if before is None or (
                before.get("role") == "assistant" and not before.get("tool_calls") and not _blocks(before, "tool_use")
            ):
                starts.append(i)
        if message.get("role") != "system":
            before = message
    return starts


def conversation_key(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:12]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: ProviderDouble

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
        double = self.server.double
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)  # read even a refused body, so the connection stays usable
        if urlsplit(self.path).path.rstrip("/") != double.route:
            self._send(double._fail(404, f"no route for POST {self.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as err:
            self._send(double._fail(400, f"request body is not JSON: {err}"))
            return
        self._send(double._answer(body, self.headers))

    def do_GET(self) -> None:
        self._send(self.server.double._fail(404, f"no route for GET {self.path}"))

    def _send(self, reply: Reply) -> None:
        if reply.events is None:
            pieces, kind = [json.dumps(reply.body).encode()], "application/json"
        else:
            pieces = [
                (
                    (f"event: {name}\n" if name is not None else "")
                    + f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n"
                ).encode()
                for name, event in reply.events
            ]
            kind = "text/event-stream"
        double = self.server.double
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(sum(map(len, pieces))))
            if reply.status >= 400:
                self.send_header("retry-after-ms", str(double.retry_after_ms))
            self.end_headers()
            for i, piece in enumerate(pieces):
                if i and double.stream_gap:
                    self.wfile.flush()
                    if double._stopping.wait(double.stream_gap):
                        break
                self.wfile.write(piece)
                if reply.events is not None:
                    self.wfile.flush()
                    double.stream_log.append((time.time(), reply.events[i][1]))
        except _CONNECTION_DROPS:
            self.close_connection = True
