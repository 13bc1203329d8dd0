"""An OpenAI-compatible Chat Completions server for tests, with scripted failures.

Answers ``POST /v1/chat/completions`` (``base_url`` ends in ``/v1``, as ``OPENAI_BASE_URL``
expects) in the Chat Completions format: step ``k < len(plan)`` gets one tool call (id
``call-{k+1}``), later steps the plan summary. A streamed request (``stream: true``) gets the same
answer as ``chat.completion.chunk`` server-sent events, the text word by word (``stream_gap``
seconds apart), the usage in a last chunk, then ``[DONE]``. The server,
the plan script, the failure hooks and the request record are ``provider_double``'s; the API key,
when ``api_key`` is set, is checked in ``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from .provider_double import ProviderDouble, Reply, Turn, conversation_key, first_user_text

__all__ = ["OpenAIDouble", "conversation_key", "first_user_text"]


class OpenAIDouble(ProviderDouble):
    """A scripted stand-in for an OpenAI Chat Completions provider."""

    route = "/v1/chat/completions"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def _completion(self, body: dict[str, Any], turn: Turn, key: str) -> Reply:
        if body.get("stream"):
            return Reply(200, events=self._chunks(body, turn, key))
        return self._whole(body, turn, key)

    def _chunks(self, body: dict[str, Any], turn: Turn, key: str) -> list[tuple[str | None, Any]]:
        head = {
            "id": f"chatcmpl-{key}-{turn.step}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
            return None, {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

        out = [chunk({"role": "assistant", "content": ""})]
        if turn.tool is not None:
            call = {
                "index": 0,
                "id": f"call-{turn.step + 1}",
                "type": "function",
                "function": {"name": turn.tool, "arguments": json.dumps(turn.args)},
            }
            out += [chunk({"tool_calls": [call]}), chunk({}, "tool_calls")]
        else:
            out += [chunk({"content": piece}) for piece in re.findall(r"\s*\S+", turn.text or "")]
            out.append(chunk({}, "stop"))
        usage = {
            "prompt_tokens": turn.input_tokens,
            "completion_tokens": turn.output_tokens,
            "total_tokens": turn.input_tokens + turn.output_tokens,
        }
        return out + [(None, {**head, "choices": [], "usage": usage}), (None, "[DONE]")]

    def _whole(self, body: dict[str, Any], turn: Turn, key: str) -> Reply:
        if turn.tool is not None:
            function = {"name": turn.tool, "arguments": json.dumps(turn.args)}
            call = {"id": f"call-{turn.step + 1}", "type": "function", "function": function}
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish = "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": turn.text}, "stop"
        return Reply(
            200,
            {
                "id": f"chatcmpl-{key}-{turn.step}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": {
                    "prompt_tokens": turn.input_tokens,
                    "completion_tokens": turn.output_tokens,
                    "total_tokens": turn.input_tokens + turn.output_tokens,
                },
            },
        )

    def _error(self, status: int, message: str) -> dict[str, Any]:
        kind = _error_type(status)
        return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def _error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_exceeded"
    return "server_error" if status >= 500 else "invalid_request_error"
