"""The ``offline`` model: a deterministic, network-free pydantic-ai ``FunctionModel``.

Owns the decision of the next model response from the message history alone.
The user prompt is the text of the first ``UserPromptPart`` of the request that
started the current turn (the first request, or a follow-up's: a request after the
model's final answer); the step index ``k`` is the number of ``ModelResponse``
messages after it. A user message sent while the turn runs (a steer) starts no turn.

Plan prompts (see ``dals.agent.plan``): lines ``/TOOL {json-args}``. Step
``k < len(plan)`` answers with one call of ``plan[k]`` (id ``call-{k+1}``);
after the last step, a summary text such as
``Plan done: 3 steps (read_file ×1, run_command ×2).``. Tool results are never
consulted, so a failed tool call (a retry or failed return) does not change
what comes next. A malformed plan raises ``PlanError``, a ``ValueError``.

Any other prompt gets the built-in behaviour, which really edits the task's file:

- with a ``File: <path>`` context line: step 0 calls ``read_file(path)``;
  step 1 calls ``write_file(path, content)`` where ``content`` is the text that
  read returned with one comment line inserted at the top (after a shebang
  line, if any): ``<c> DALS: <request>``, ``<c>`` chosen by the file's
  extension (``#`` by default, ``//`` for C-like languages, ``--`` for Lua and
  SQL, ``;;`` for Emacs Lisp) and ``<request>`` the first non-context line of
  the prompt, cut to 80 characters; then a summary text. If the read failed
  (an error outcome, or a return starting with ``error: ``, which is how the
  tools report workspace errors), the model says so and writes nothing.
- without one: step 0 calls ``list_files()``, then answers
  ``The workspace has N files.``

Usage is deterministic and non-zero: input tokens are the characters of all
text in the history // 4, output tokens those of the response // 4. With a
``request_log`` path, each call appends ``{"step": k, "prompt_sha": ...}`` as a
JSON line, so demos and tests can count real model requests (a request
answered from a journal never reaches this function).

Cost per request: the plan is parsed once per prompt and the history's length is
kept per message, so a request reads only what is new since the last one; an
N-step plan costs O(N) in all, not O(N²). The responses are the same as
re-reading everything each time (tests/unit/test_offline_*.py compares them):
journaled tasks depend on it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import StreamedResponse
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from dals.agent.plan import PlanStep, file_context, parse_plan, plan_summary, request_text

MODEL_NAME = "offline"
TOOL_ERROR_PREFIX = "error: "
"""How ``dals.agent.tools`` reports a workspace error: as a successful return with this prefix."""

_COMMENT_BY_SUFFIX = {
    **dict.fromkeys((".js", ".ts", ".c", ".cpp", ".h", ".java", ".go", ".rs"), "//"),
    **dict.fromkeys((".lua", ".sql"), "--"),
    ".el": ";;",
}


class PlanError(ValueError):
    """The prompt's plan cannot be run; retrying the same prompt cannot help."""


class OfflineModel(FunctionModel):
    """The offline model; a streamed request answers the same response, its text in word-sized
    pieces (so live output can be shown and tested without a provider)."""

    @asynccontextmanager
    async def request_stream(self, messages, model_settings, model_request_parameters, run_context=None):
        response = await self.request(messages, model_settings, model_request_parameters)
        yield OfflineStream(model_request_parameters=model_request_parameters, _response=response)


@dataclass
class OfflineStream(StreamedResponse):
    """A whole response given as stream events, through the hooks pydantic-ai's own models use."""

    _response: ModelResponse = field(default_factory=lambda: ModelResponse(parts=[]))

    async def _get_event_iterator(self):
        self._usage = self._response.usage
        for index, part in enumerate(self._response.parts):
            if isinstance(part, TextPart):
                for piece in re.findall(r"\s*\S+", part.content) or [part.content]:
                    for event in self._parts_manager.handle_text_delta(vendor_part_id=index, content=piece):
                        yield event
            else:
                yield self._parts_manager.handle_part(vendor_part_id=index, part=part)

    async def close_stream(self) -> None:
        pass

    @property
    def model_name(self) -> str:
        return self._response.model_name or MODEL_NAME

    @property
    def provider_name(self) -> None:
        return None

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._response.timestamp


def offline_model(request_log: Path | None = None) -> FunctionModel:
    """Return the deterministic offline model, logging each call to ``request_log`` if given."""

    plans = _PlanCache()
    history = _HistoryLength()

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        start = turn_start(messages)
        prompt = user_prompt(messages[start:])
        step = sum(isinstance(message, ModelResponse) for message in messages[start:])
        if request_log is not None:
            _log_request(request_log, step, prompt)
        plan = plans.get(prompt)
        if plan:
            part = _plan_part(plan, step)
        else:
            part = _builtin_part(prompt, messages[start:], step)
        return ModelResponse(parts=[part], usage=_usage(history(messages), part))

    return OfflineModel(respond, model_name=MODEL_NAME)


class _PlanCache:
    """The plan of the last prompt seen: a task asks with the same prompt at every step."""

    def __init__(self) -> None:
        self._last: tuple[str, list[PlanStep]] | None = None

    def get(self, prompt: str) -> list[PlanStep]:
        last = self._last
        if last is not None and last[0] == prompt:
            return last[1]
        try:
            plan = parse_plan(prompt)
        except ValueError as err:  # not cached: every request raises it again, as before
            raise PlanError(str(err)) from err
        self._last = (prompt, plan)
        return plan


class _HistoryLength:
    """``len(_history_text(messages))``, reading only the messages not seen in the last request.

    Messages are remembered by identity together with their ``parts`` list and its length: the
    history grows by appending, and a message whose parts list was replaced or grew is read again
    (pydantic-ai builds new parts rather than changing old ones). Only the messages of the last
    request are kept, so memory stays one history's worth."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[ModelMessage, Sequence[Any], int, int]] = {}

    def __call__(self, messages: Sequence[ModelMessage]) -> int:
        known, now = self._known, {}
        total = 0
        for message in messages:
            hit = known.get(id(message))
            if hit is None or hit[0] is not message or hit[1] is not message.parts or hit[2] != len(message.parts):
                hit = (message, message.parts, len(message.parts), len(_history_text([message])))
            now[id(message)] = hit
            total += hit[3]
        self._known = now
        return total


def turn_start(messages: Sequence[ModelMessage]) -> int:
    """Index of the request that started the current turn: the last request with a user prompt
    that follows a response without tool calls (or nothing)."""
    start = 0
    for i, message in enumerate(messages):
        if not (isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts)):
            continue
        before = messages[i - 1] if i else None
        if before is None or (
            isinstance(before, ModelResponse) and not any(isinstance(p, ToolCallPart) for p in before.parts)
        ):
            start = i
    return start


def user_prompt(messages: Sequence[ModelMessage]) -> str:
    """Return the text of the first user prompt in the history ('' if none)."""
    for message in messages:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                if isinstance(part.content, str):
                    return part.content
                return "\n".join(item for item in part.content if isinstance(item, str))
    return ""


def comment_line(path: str, request: str) -> str:
    """Return the ``DALS:`` comment line for ``path`` (without newline)."""
    marker = _COMMENT_BY_SUFFIX.get(PurePosixPath(path).suffix.lower(), "#")
    return f"{marker} DALS: {request[:80] or 'edited offline'}"


def insert_comment(text: str, comment: str) -> str:
    """Insert ``comment`` as the first line of ``text``, or the second after a shebang."""
    newline = "\r\n" if "\r\n" in text else "\n"
    if text.startswith("#!"):
        first, sep, rest = text.partition("\n")
        if not sep:
            return f"{first}{newline}{comment}{newline}"
        return f"{first}{sep}{comment}{newline}{rest}"
    return f"{comment}{newline}{text}"


def _plan_part(plan: list[PlanStep], step: int) -> TextPart | ToolCallPart:
    if step < len(plan):
        # A fresh copy, as a fresh parse gave: the plan is cached, the call's arguments are the agent's.
        return ToolCallPart(plan[step].tool, copy.deepcopy(plan[step].args), tool_call_id=f"call-{step + 1}")
    return TextPart(plan_summary(plan))


def _builtin_part(prompt: str, messages: Sequence[ModelMessage], step: int) -> TextPart | ToolCallPart:
    path = file_context(prompt)
    if path is None:
        if step == 0:
            return ToolCallPart("list_files", {}, tool_call_id="call-1")
        listing = _last_return(messages, "list_files")
        if listing is None:
            return TextPart("Could not list the workspace files.")
        return TextPart(f"The workspace has {_count_entries(listing)} files.")
    if step == 0:
        return ToolCallPart("read_file", {"path": path}, tool_call_id="call-1")
    text = _last_return(messages, "read_file")
    if text is None:
        return TextPart(f"Could not read {path}; nothing was changed.")
    if step == 1:
        if not isinstance(text, str):
            text = "\n".join(str(item) for item in text)
        content = insert_comment(text, comment_line(path, request_text(prompt)))
        return ToolCallPart("write_file", {"path": path, "content": content}, tool_call_id="call-2")
    if _last_return(messages, "write_file") is None:
        return TextPart(f"Could not write {path}.")
    return TextPart(f"Added a DALS comment to {path}.")


def _last_return(messages: Sequence[ModelMessage], tool: str) -> Any | None:
    """Return the content of the latest successful return of ``tool``, or None if it failed."""
    for message in reversed(messages):
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, RetryPromptPart) and part.tool_name == tool:
                return None
            if isinstance(part, ToolReturnPart) and part.tool_name == tool:
                if part.outcome != "success":
                    return None
                if isinstance(part.content, list):
                    return part.content
                text = part.model_response_str()
                return None if text.startswith(TOOL_ERROR_PREFIX) else text
    return None


def _count_entries(listing: Any) -> int:
    if isinstance(listing, list):
        return len(listing)
    lines = [line for line in str(listing).splitlines() if line.strip()]
    return sum(1 for line in lines if line not in ("(no files)",) and not line.startswith("[truncated"))


def _history_text(messages: Sequence[ModelMessage]) -> str:
    chunks: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, ToolCallPart):
                chunks.append(part.tool_name + part.args_as_json_str())
            elif isinstance(part, ToolReturnPart):
                chunks.append(part.model_response_str())
            else:
                content = getattr(part, "content", None)
                if content is not None:
                    chunks.append(content if isinstance(content, str) else json.dumps(content, default=str))
    return "".join(chunks)


def _usage(history_length: int, part: TextPart | ToolCallPart) -> RequestUsage:
    out = part.content if isinstance(part, TextPart) else part.tool_name + part.args_as_json_str()
    return RequestUsage(
        input_tokens=max(1, history_length // 4),
        output_tokens=max(1, len(out) // 4),
    )


def _log_request(path: Path, step: int, prompt: str) -> None:
    sha = hashlib.sha256(prompt.encode()).hexdigest()[:12]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps({"step": step, "prompt_sha": sha}) + "\n")
