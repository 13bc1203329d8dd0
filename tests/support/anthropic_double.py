"""An Anthropic Messages API server for tests, with scripted failures.

Answers ``POST /v1/messages`` (``base_url`` is the bare origin, as ``ANTHROPIC_BASE_URL``
expects: the SDK appends ``/v1/messages``; pydantic-ai calls the beta endpoint, so the query
``?beta=true`` comes along and is ignored) in the Messages format: step ``k < len(plan)`` gets
one ``tool_use`` block (id ``toolu_{k+1:02d}``, ``stop_reason: tool_use``), later steps a text
block with the plan summary (``end_turn``); ``usage`` carries ``input_tokens``/``output_tokens``.

Both answers Anthropic gives are served: a JSON message, and with ``"stream": true`` the
server-sent events of a streamed one (``message_start``, ``content_block_*``, ``ping``,
``message_delta``, ``message_stop``). pydantic-ai 2.68's ``AnthropicModel.request`` streams
behind the scenes when the request sets a timeout (DALS does) and the model's default
``max_tokens`` is above the SDK's non-streaming limit (``claude-sonnet-4-5``: 64,000), and asks for
a plain message otherwise (a model name it does not know: 16,384).

Errors have Anthropic's shape (``{"type": "error", "error": {"type", "message"}}``). With
``api_key`` set, the key is checked in ``x-api-key`` or ``Authorization: Bearer`` (the anthropic
SDK 2.x sends the latter). The server, the plan script, the failure hooks and the request record
are ``provider_double``'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .provider_double import ProviderDouble, Reply, Turn, conversation_key, first_user_text

__all__ = ["AnthropicDouble", "conversation_key", "first_user_text", "tool_results"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class AnthropicDouble(ProviderDouble):
    """A scripted stand-in for the Anthropic Messages API."""

    route = "/v1/messages"

    @property
    def base_url(self) -> str:
        return self.origin

    def _presented_key(self, headers: Mapping[str, str]) -> str | None:
        return headers.get("x-api-key") or super()._presented_key(headers)

    def _completion(self, body: dict[str, Any], turn: Turn, key: str) -> Reply:
        if turn.tool is not None:
            block = {"type": "tool_use", "id": f"toolu_{turn.step + 1:02d}", "name": turn.tool, "input": turn.args}
            stop = "tool_use"
        else:
            block, stop = {"type": "text", "text": turn.text}, "end_turn"
        message = {
            "id": f"msg_{key}_{turn.step}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or self.model,
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens},
        }
        if body.get("stream"):
            return Reply(200, events=_stream_events(message))
        return Reply(200, message)

    def _error(self, status: int, message: str) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}


def _stream_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events Anthropic streams for ``message``: the block's content arrives in two deltas."""
    block = message["content"][0]
    usage = message["usage"]
    if block["type"] == "tool_use":
        opening = {**block, "input": {}}
        whole = json.dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": part} for part in _halves(whole)]
    else:
        opening = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": part} for part in _halves(block["text"])]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
    }
    return [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": opening}),
        ("ping", {"type": "ping"}),
        *(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


def tool_results(messages: list[dict[str, Any]]) -> dict[str, str]:
    """``{tool_use_id: content}`` of every ``tool_result`` block the request fed back."""
    found: dict[str, str] = {}
    for message in messages:
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, list):
                    inner = "".join(p.get("text", "") for p in inner if isinstance(p, dict))
                found[block["tool_use_id"]] = str(inner)
    return found
