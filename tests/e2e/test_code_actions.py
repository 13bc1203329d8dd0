"""Code actions: a quick fix per diagnostic and refactor actions on a selection; resolve attaches
the `dals.startTask` command with its context; running it edits the file end to end."""

from __future__ import annotations

from typing import Union

import pytest
from lsprotocol import types

from tests.support.lsp_client import DalsClient

SOURCE = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"


def rng(l1, c1, l2, c2) -> types.Range:
    return types.Range(start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2))


async def test_code_actions_resolve_and_run(runtime, tmp_path):
    path = tmp_path / "calc.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    client = DalsClient(runtime.env, tmp_path)
    await client.start()
    try:
        client.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=SOURCE)
            )
        )
        diag = types.Diagnostic(range=rng(1, 11, 1, 16), message="add() subtracts", source="mylint", code="E1")
        fixes = await client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng(1, 11, 1, 11),
                context=types.CodeActionContext(diagnostics=[diag]),
            )
        )
        assert [a.title for a in fixes] == ["Fix with DALS: add() subtracts"]
        assert fixes[0].kind == types.CodeActionKind.QuickFix and fixes[0].command is None  # cheap list

        fix = await client.client.code_action_resolve_async(fixes[0])
        assert fix.command.command == "dals.startTask"
        arg = fix.command.arguments[0]
        assert arg["uri"] == uri and "add() subtracts" in arg["prompt"] and "mylint E1" in arg["prompt"]
        assert "return a - b" in arg["prompt"] and "python" in arg["prompt"]

        selection = await client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng(4, 0, 5, 16),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        titles = [a.title for a in selection]
        assert titles == ["Refactor with DALS", "Add tests with DALS", "Explain with DALS", "Add docstrings with DALS"]
        only_fix = await client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng(4, 0, 5, 16),
                context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.QuickFix]),
            )
        )
        assert not only_fix

        explain = await client.client.code_action_resolve_async(selection[2])
        arg = explain.command.arguments[0]
        assert "def mul(a, b):" in arg["prompt"] and "return a - b" not in arg["prompt"]
        assert arg["range"]["start"]["line"] == 4

        # run it, as the editor would: executeCommand with the resolved command (file closed
        # first, so the edit lands on disk; edits to open files are tests/e2e/test_editor_edits.py)
        client.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        started = await client.command(explain.command.command, *explain.command.arguments)
        events = await client.wait_finished(started["taskId"])
        assert events[-1]["status"] == "succeeded"
        first = path.read_text().splitlines()[0]
        assert first.startswith("# DALS: Explain the selected code")
    finally:
        await client.stop()


LINE = 's = "héllo wörld 😀 café"\n'
UNITS = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}


def column(text: str, encoding: str) -> int:
    """The LSP column of the end of `text` (one line) in `encoding`, counted here independently."""
    codec, width = UNITS[encoding]
    return len(text.encode(codec)) // width


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
async def test_code_action_on_a_non_ascii_line_selects_exactly_the_text(runtime, tmp_path, encoding):
    """The selection `café` after `é`, `ö` and `😀`, in each encoding the client may negotiate: the
    prompt quotes exactly that text and `dals.startTask` gets the client's own range."""
    path = tmp_path / "greet.py"
    source = "# header\n" + LINE
    path.write_text(source)
    uri = path.as_uri()
    client = DalsClient(runtime.env, tmp_path)
    result = await client.start(position_encodings=[encoding])
    assert result.capabilities.position_encoding == encoding
    try:
        client.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=source)
            )
        )
        start = column(LINE[: LINE.index("café")], encoding)
        selection = rng(1, start, 1, start + column("café", encoding))
        actions = await client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=selection,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        explain = await client.client.code_action_resolve_async(
            next(a for a in actions if a.title == "Explain with DALS")
        )
        arg = explain.command.arguments[0]
        assert "```\ncafé\n```" in arg["prompt"], arg["prompt"]
        assert arg["range"] == {
            "start": {"line": 1, "character": start},
            "end": {"line": 1, "character": start + column("café", encoding)},
        }

        diag = types.Diagnostic(
            range=rng(1, column(LINE[: LINE.index("wörld")], encoding), 1, column(LINE[: LINE.index(" 😀")], encoding)),
            message="typo",
        )
        fixes = await client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diag.range,
                context=types.CodeActionContext(diagnostics=[diag], only=[types.CodeActionKind.QuickFix]),
            )
        )
        fix = await client.client.code_action_resolve_async(fixes[0])
        assert "The text it flags: `wörld`" in fix.command.arguments[0]["prompt"]

        client.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        started = await client.command(explain.command.command, *explain.command.arguments)
        events = await client.wait_finished(started["taskId"])
        assert events[-1]["status"] == "succeeded"
        assert path.read_text().splitlines()[2] == LINE.rstrip("\n")  # the task's comment went on top
    finally:
        await client.stop()


async def test_client_without_resolve_gets_the_command_inline(runtime, tmp_path):
    """eglot 1.9 and other clients that don't resolve code actions get the command attached."""
    path = tmp_path / "calc.py"
    path.write_text(SOURCE)
    client = DalsClient(runtime.env, tmp_path)
    conv = client.client.protocol._converter

    def command_or_action(obj, _):  # lsprotocol's own union hook mis-parses an action with a command
        if isinstance(obj.get("command"), str):
            return conv.structure(obj, types.Command)
        return conv.structure(obj, types.CodeAction)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], command_or_action)  # noqa: UP007  (cattrs dispatches on typing.Union)
    await client.client.start_io(client_cmd(), "lsp", env=runtime.env)
    try:
        await client.client.initialize_session(
            types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=tmp_path.as_uri())
        )
        actions = await client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
                range=rng(4, 0, 5, 16),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert all(isinstance(a, types.CodeAction) for a in actions)
        commands = [a.command for a in actions]
        assert len(commands) == 4 and all(c.command == "dals.startTask" for c in commands)
        assert "def mul(a, b):" in commands[0].arguments[0]["prompt"]
    finally:
        await client.stop()


def client_cmd() -> str:
    from tests.support.runtime import DALS

    return DALS
