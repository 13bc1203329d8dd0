"""Fitting a conversation into the context window: the estimate, long tool results, where the cut
goes, the view with the summary, and the summarising request's text."""

from __future__ import annotations

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

from dals.agent import context_fit as fit
from dals.agent.plan import parse_plan


def turn(i: int, result: str = "ok") -> list:
    call = ToolCallPart("read_file", {"path": f"f{i}.txt"}, tool_call_id=f"c{i}")
    return [
        ModelRequest(parts=[UserPromptPart(f'Turn {i}\n/read_file {{"path": "f{i}.txt"}}')]),
        ModelResponse(parts=[call]),
        ModelRequest(parts=[ToolReturnPart("read_file", result, tool_call_id=f"c{i}")]),
        ModelResponse(parts=[TextPart(f"Done {i}.")]),
    ]


def conversation(n: int) -> list:
    return [m for i in range(n) for m in turn(i)]


def test_the_estimate_is_characters_over_four_and_does_not_depend_on_times():
    a, b = conversation(3), conversation(3)
    assert fit.estimate(a) == fit.estimate(b) > 0  # fresh timestamps and ids: the same estimate
    assert fit.estimate(a, fixed=400) == fit.estimate(a) + 100
    longer = turn(0, "x" * 4000)
    assert fit.estimate(longer) - fit.estimate(turn(0)) == (4000 - 2) // 4 + 1


def test_a_long_tool_result_is_cut_with_a_note_and_the_rest_is_left_alone():
    messages = turn(0, "line\n" * 5000)
    short = fit.shorten_tool_results(messages, 1000)
    result = short[2].parts[0]
    assert result.content.startswith("line\n" * 200)
    assert (
        "cut 24,000 of the 25,000 characters" in result.content and "read_file with offset and limit" in result.content
    )
    assert short[0] is messages[0] and short[1] is messages[1]  # untouched messages are the same objects
    assert messages[2].parts[0].content == "line\n" * 5000  # the history keeps everything
    assert fit.tool_result_limit(4000) == 1600 and fit.tool_result_limit(1_000_000) == 20_000


def test_the_cut_prefers_a_turn_start_and_keeps_what_fits():
    messages = conversation(10)
    per_turn = sum(fit.message_chars(m) for m in turn(0))
    cut = fit.cut_point(messages, 0, per_turn * 3 + 10)
    assert cut == len(messages) - 12 and isinstance(messages[cut].parts[0], UserPromptPart)
    # nothing fits: the latest place to cut (the last model response before the tool result)
    assert fit.cut_point(messages[:-1], 0, 0) == len(messages) - 3
    # everything after `start` is summarised already
    assert fit.cut_point(messages, len(messages) - 1, 10_000) is None


def test_the_view_puts_the_summary_in_the_first_kept_prompt_and_keeps_turns_alternating():
    messages = conversation(4)
    seen = fit.view(messages, 8, "Files f0-f1 read.")
    assert len(seen) == 8 and seen[1:] == messages[9:]
    prompt = seen[0].parts[0].content
    assert prompt.startswith(fit.SUMMARY_LEAD) and "Files f0-f1 read." in prompt
    assert prompt.endswith('Turn 2\n/read_file {"path": "f2.txt"}')
    assert [step.args["path"] for step in parse_plan(prompt)] == ["f2.txt"]  # the double still reads its plan
    assert messages[8].parts[0].content.startswith("Turn 2")  # the history is untouched
    # cut at a model response: the summary is a request of its own before it
    seen = fit.view(messages, 9, "S")
    assert isinstance(seen[0], ModelRequest) and seen[1] is messages[9]
    assert fit.view(messages, 0, None) == messages


def test_the_summarising_prompt_quotes_the_conversation_so_no_line_reads_as_a_plan():
    blocks = fit.rendered(conversation(2))
    prompt = fit.summary_prompt("Earlier: f9 read.", blocks, 800)
    assert parse_plan(prompt) == []
    assert "Summary so far:\n> Earlier: f9 read." in prompt and "Result of read_file:\n> ok" in prompt
    groups = fit.chunks(blocks, 60)
    assert [b for g in groups for b in g] == [b[:60] for b in blocks]
    assert all(sum(len(b) for b in g) <= 60 + 2 * len(g) for g in groups)


def test_the_fitter_shortens_and_sizes_each_message_once_and_alike():
    messages = conversation(3) + turn(3, "y" * 5000)
    fitter = fit.Fitter(1000)
    short = fitter.shortened(messages)
    assert short == fit.shorten_tool_results(messages, 1000)
    assert fitter.shortened(messages)[-2] is short[-2]  # the same object on the next request
    assert [fitter.size(m) for m in short] == [fit.message_chars(m) for m in short]
    assert fit.estimate(short, 100, fitter.size) == fit.estimate(short, 100)
