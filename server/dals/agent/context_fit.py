"""Fitting a conversation into the model's context window, on plain pydantic-ai messages (no Restate):
the token estimate, long tool results shortened, where older messages are cut off, the view the
model gets (a summary in place of what was cut), and the text of a summarising request.

Tokens are estimated as characters / 4 of what a request carries (message contents, instructions,
tool definitions), counted from the contents only, never from values pydantic-ai makes up at run
time (times, ids): the same messages always give the same estimate, so a replay decides alike.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters

CHARS_PER_TOKEN = 4
PART_OVERHEAD = 40  # characters a part costs besides its content (role, ids, the wire format's framing)
COMPACT_AT = 0.75  # of the window: a request estimated above it compacts first (the rest is for the answer)
AFTER = 0.5  # of the window: what a request is estimated at, at most, right after a compaction
SUMMARY_SHARE = 8  # a summary gets at most 1/8 of the window
SUMMARY_INPUT = 0.5  # of the window: what one summarising request is given at most
TOOL_RESULT_MAX_CHARS = 20_000
SUMMARY_LEAD = "[Summary of the earlier conversation, compacted to fit the model's context window]\n"
SUMMARY_END = "\n[End of summary; the conversation goes on from here]\n\n"


def part_chars(part: object) -> int:
    """Characters of what a part sends to the model, plus its framing."""
    if isinstance(part, UserPromptPart):
        content = part.content
        size = (
            len(content) if isinstance(content, str) else sum(len(c) if isinstance(c, str) else 1000 for c in content)
        )
    elif isinstance(part, (TextPart, ThinkingPart)):
        size = len(part.content)
    elif isinstance(part, ToolCallPart):
        size = len(part.tool_name) + len(part.args_as_json_str())
    elif isinstance(part, ToolReturnPart):
        size = len(part.tool_name) + len(part.model_response_str())
    elif isinstance(part, RetryPromptPart):
        size = len(part.model_response())
    else:
        size = len(str(getattr(part, "content", "")))
    return size + PART_OVERHEAD


def message_chars(message: ModelMessage) -> int:
    return sum(part_chars(p) for p in message.parts)


def fixed_chars(parameters: ModelRequestParameters | None, tool_sizes: dict[str, int] | None = None) -> int:
    """What every request carries besides its messages: the instructions and the tool definitions
    (`tool_sizes`: a cache of each tool's size by name, for the same tools request after request)."""
    if parameters is None:
        return 0
    size = sum(len(p.content) for p in parameters.instruction_parts or ())
    for tool in [*parameters.function_tools, *parameters.output_tools]:
        known = tool_sizes.get(tool.name) if tool_sizes is not None else None
        if known is None:
            known = len(tool.name) + len(tool.description or "") + len(json.dumps(tool.parameters_json_schema))
            if tool_sizes is not None:
                tool_sizes[tool.name] = known
        size += known
    return size


def tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


Size = Callable[[ModelMessage], int]


def estimate(messages: Sequence[ModelMessage], fixed: int = 0, size: Size = message_chars) -> int:
    """Estimated input tokens of a request with these messages and `fixed` characters besides."""
    return tokens(fixed + sum(size(m) for m in messages))


class Fitter:
    """Each message's shortened form (`shorten_tool_results`) and size, worked out once per
    message object: a turn's requests carry the same history objects again and again."""

    def __init__(self, limit: int):
        self.limit = limit
        self._seen: dict[int, tuple[ModelMessage, ModelMessage, int]] = {}  # id -> (message, short, size)

    def shortened(self, messages: Sequence[ModelMessage]) -> list[ModelMessage]:
        return [self._entry(m)[1] for m in messages]

    def size(self, message: ModelMessage) -> int:
        """The size of a message (a shortened one, or any other: worked out then)."""
        hit = self._seen.get(id(message))
        if hit is not None and (hit[0] is message or hit[1] is message):
            return hit[2]
        return message_chars(message)

    def _entry(self, message: ModelMessage) -> tuple[ModelMessage, ModelMessage, int]:
        hit = self._seen.get(id(message))
        if hit is None or hit[0] is not message:
            short = shorten_tool_results([message], self.limit)[0]
            hit = (message, short, message_chars(short))
            self._seen[id(message)] = hit
            self._seen.setdefault(id(short), hit)
        return hit


def tool_result_limit(max_tokens: int) -> int:
    """Characters of one tool result the model sees: a tenth of the window, within 1,000-20,000."""
    return max(1000, min(TOOL_RESULT_MAX_CHARS, max_tokens * CHARS_PER_TOKEN // 10))


def shorten_tool_results(messages: Sequence[ModelMessage], limit: int) -> list[ModelMessage]:
    """The messages with each tool result longer than `limit` characters cut to its start and a note
    saying how much was cut and how to get it; new message objects only where something was cut."""
    out: list[ModelMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest) and any(_too_long(p, limit) for p in message.parts):
            message = dataclasses.replace(
                message,
                parts=[
                    _shortened(p, limit) if isinstance(p, ToolReturnPart) and _too_long(p, limit) else p
                    for p in message.parts
                ],
            )
        out.append(message)
    return out


def _too_long(part: object, limit: int) -> bool:
    return isinstance(part, ToolReturnPart) and len(part.model_response_str()) > limit


def _shortened(part: ToolReturnPart, limit: int) -> ToolReturnPart:
    text = part.model_response_str()
    note = (
        f"\n\n[DALS cut {len(text) - limit:,} of the {len(text):,} characters of this result to fit the "
        "model's context window. To see the rest, ask for less at a time: read_file with offset and "
        "limit, a narrower search, or a command whose output is shorter.]"
    )
    return dataclasses.replace(part, content=text[:limit] + note)


def _starts_turn(message: ModelMessage) -> bool:
    """A request the user wrote (a prompt, a follow-up, a steer), answering no tool call."""
    return (
        isinstance(message, ModelRequest)
        and any(isinstance(p, UserPromptPart) for p in message.parts)
        and not any(isinstance(p, (ToolReturnPart, RetryPromptPart)) for p in message.parts)
    )


def cut_point(messages: Sequence[ModelMessage], start: int, keep_chars: int, size: Size = message_chars) -> int | None:
    """Where the messages kept as they are begin, after `start` (what is summarised already): the
    earliest request the user wrote whose tail (it and all after it) fits `keep_chars`; else the
    earliest model response whose tail fits; else the latest place to cut at all. None: nothing
    between `start` and the last message can be cut off (the last message is always kept)."""
    tail, turn, response, latest = 0, None, None, None
    for i in range(len(messages) - 1, start, -1):
        tail += size(messages[i])
        cuttable = _starts_turn(messages[i]) or isinstance(messages[i], ModelResponse)
        if cuttable and latest is None:
            latest = i
        if tail > keep_chars and latest is not None:
            break
        if cuttable:
            if _starts_turn(messages[i]):
                turn = i
            else:
                response = i
    return turn or response or latest


def view(messages: Sequence[ModelMessage], up_to: int, summary: str | None) -> list[ModelMessage]:
    """What the model is sent: `summary` in place of the first `up_to` messages. It goes at the start
    of the first kept request's prompt (one user message: providers and the history stay in turn)
    or, where the kept part starts with a model response, as a request of its own before it."""
    if not up_to or summary is None or up_to >= len(messages):
        return list(messages)
    text = SUMMARY_LEAD + summary.strip() + SUMMARY_END
    head, rest = messages[up_to], list(messages[up_to + 1 :])
    if isinstance(head, ModelRequest):
        parts = list(head.parts)
        i, first = next((i, p) for i, p in enumerate(parts) if isinstance(p, UserPromptPart))
        prompt = first.content
        parts[i] = dataclasses.replace(first, content=text + prompt if isinstance(prompt, str) else [text, *prompt])
        return [dataclasses.replace(head, parts=parts), *rest]
    return [ModelRequest(parts=[UserPromptPart(text.rstrip())]), head, *rest]


def keep_chars(max_tokens: int, fixed: int) -> int:
    """Characters of the newest messages kept as they are by a compaction: what leaves the request at
    `AFTER` of the window with the instructions, the tool definitions and the longest summary."""
    return max(0, int(max_tokens * AFTER) * CHARS_PER_TOKEN - fixed - summary_limit(max_tokens))


def summary_limit(max_tokens: int) -> int:
    """Characters a summary may have."""
    return max(400, max_tokens * CHARS_PER_TOKEN // SUMMARY_SHARE)


def rendered(messages: Sequence[ModelMessage], clip: int = 1500) -> list[str]:
    """The messages as plain text blocks for a summarising request, each quoted (`> `): a line of
    the conversation is never read as an instruction to the summariser."""
    blocks: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                content = (
                    part.content
                    if isinstance(part.content, str)
                    else " ".join(c for c in part.content if isinstance(c, str))
                )
                blocks.append("User:\n" + _quoted(content, clip))
            elif isinstance(part, TextPart) and part.content.strip():
                blocks.append("Agent:\n" + _quoted(part.content, clip))
            elif isinstance(part, ToolCallPart):
                blocks.append(f"Agent called {part.tool_name}:\n" + _quoted(part.args_as_json_str(), clip // 3))
            elif isinstance(part, ToolReturnPart):
                blocks.append(f"Result of {part.tool_name}:\n" + _quoted(part.model_response_str(), clip))
            elif isinstance(part, RetryPromptPart):
                blocks.append("Tool error:\n" + _quoted(part.model_response(), clip // 3))
    return blocks


def _quoted(text: str, clip: int) -> str:
    if len(text) > clip:
        text = text[:clip] + f"… [{len(text) - clip:,} more characters]"
    return "\n".join("> " + line for line in text.splitlines() or [""])


def chunks(blocks: Sequence[str], limit: int) -> list[list[str]]:
    """`blocks` in order, in groups of at most `limit` characters (a bigger block alone, clipped)."""
    groups: list[list[str]] = [[]]
    size = 0
    for block in blocks:
        block = block[:limit]
        if groups[-1] and size + len(block) > limit:
            groups.append([])
            size = 0
        groups[-1].append(block)
        size += len(block) + 2
    return [g for g in groups if g]


def summary_prompt(previous: str | None, blocks: Sequence[str], max_chars: int) -> str:
    """The summarising request's prompt: the summary so far and the messages to fold into it."""
    words = max(50, max_chars // 7)
    lines = [
        "You are compacting the conversation of a coding agent so that it fits the model's context window.",
        "Write a summary the agent can continue the work from: what the user asked for and their constraints",
        "(verbatim where short), decisions taken, files read and changed (paths), commands run and what they",
        f"showed, problems still open and the next steps. Plain text, at most {words} words, nothing else.",
        "",
    ]
    if previous:
        lines += ["Summary so far:", _quoted(previous, max_chars), ""]
    lines += ["Conversation to add to it:", "", "\n\n".join(blocks)]
    return "\n".join(lines)


def fallback_summary(blocks: Sequence[str], max_chars: int) -> str:
    """A summary made without the model (it gave no text): the start of the quoted conversation."""
    return "\n\n".join(blocks)[:max_chars]
