"""Inline code actions: "Fix with DALS" per diagnostic, and refactor actions on a selection.

The list is built from the request alone (no Restate round trip, no prompt text); the prompt with
its context (diagnostic, selected code, language) is attached on `codeAction/resolve`. Ranges stay
in the client's negotiated position encoding (the `range` of `dals.startTask` is the client's own);
the text they select is read through `positions` (pygls's codec, LSP's lines).
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from . import positions
from .protocol import START_TASK

MAX_CONTEXT = 20_000

SELECTION_ACTIONS = {
    "refactor": ("Refactor with DALS", "Refactor the selected code: make it clearer and simpler, same behaviour."),
    "tests": ("Add tests with DALS", "Add tests for the selected code, next to the project's existing tests."),
    "explain": ("Explain with DALS", "Explain the selected code in a comment above it: what it does and why."),
    "docstrings": ("Add docstrings with DALS", "Add docstrings to the functions and classes in the selected code."),
}


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return not (
        (a.end.line, a.end.character) < (b.start.line, b.start.character)
        or (b.end.line, b.end.character) < (a.start.line, a.start.character)
    )


def _range_dict(r: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def code_actions(params: types.CodeActionParams) -> list[types.CodeAction]:
    only = params.context.only
    only_kinds = [str(getattr(k, "value", k)) for k in only or []]

    def wants(kind: types.CodeActionKind) -> bool:
        return not only_kinds or any(kind.value.startswith(k) for k in only_kinds)

    uri, rng = params.text_document.uri, params.range
    actions: list[types.CodeAction] = []
    if wants(types.CodeActionKind.QuickFix):
        for d in params.context.diagnostics:
            if not _overlaps(d.range, rng):
                continue
            message = d.message.splitlines()[0] if d.message else "problem"
            actions.append(
                types.CodeAction(
                    title=f"Fix with DALS: {message[:80]}",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[d],
                    data={
                        "dals": "fix",
                        "uri": uri,
                        "range": _range_dict(d.range),
                        "message": d.message,
                        "source": d.source,
                        "code": d.code if isinstance(d.code, (str, int)) else None,
                    },
                )
            )
    selected = (rng.start.line, rng.start.character) != (rng.end.line, rng.end.character)
    if selected and wants(types.CodeActionKind.RefactorRewrite):
        for key, (title, _) in SELECTION_ACTIONS.items():
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.RefactorRewrite,
                    data={"dals": key, "uri": uri, "range": _range_dict(rng)},
                )
            )
    return actions


def _cut(chunk: str) -> str:
    return chunk if len(chunk) <= MAX_CONTEXT else chunk[:MAX_CONTEXT] + "\n[… cut]"


def _excerpt(text: str, r: dict[str, Any], around: int = 0) -> str:
    lines = [line.rstrip("\r\n") for line in positions.lsp_lines(text)]
    start = max(0, r["start"]["line"] - around)
    end = min(len(lines), r["end"]["line"] + 1 + around)
    return _cut("\n".join(lines[start:end]))


def _selected(text: str, r: dict[str, Any], codec) -> str:
    return positions.text_in_range(
        codec,
        text,
        types.Range(
            start=types.Position(line=r["start"]["line"], character=r["start"]["character"]),
            end=types.Position(line=r["end"]["line"], character=r["end"]["character"]),
        ),
    )


def resolve(action: types.CodeAction, document, codec) -> types.CodeAction:
    """Attach the `dals.startTask` command with the prompt and its context; `codec` is the
    workspace's position codec (the encoding negotiated at `initialize`)."""
    data = action.data if isinstance(action.data, dict) else {}
    kind = data.get("dals")
    if not kind or "uri" not in data:
        return action
    text = document.source if document is not None else ""
    language = getattr(document, "language_id", None) or "text"
    r = data["range"]
    if kind == "fix":
        where = f"line {r['start']['line'] + 1}"
        source = (
            f" ({data['source']}{' ' + str(data['code']) if data.get('code') is not None else ''})"
            if data.get("source")
            else ""
        )
        flagged = _selected(text, r, codec)
        at = f"\nThe text it flags: `{flagged}`" if flagged and len(flagged) <= 200 and "`" not in flagged else ""
        prompt = (
            f"Fix this problem reported at {where}{source}: {data['message']}{at}\n\n"
            f"Code around it ({language}):\n```\n{_excerpt(text, r, around=5)}\n```\n"
            "Make the smallest change that fixes it, then run the relevant checks if there are any."
        )
    else:
        prompt = (
            f"{SELECTION_ACTIONS[kind][1]}\n\nSelected code ({language}):\n```\n{_cut(_selected(text, r, codec))}\n```"
        )
    action.command = types.Command(
        title=action.title, command=START_TASK, arguments=[{"prompt": prompt, "uri": data["uri"], "range": r}]
    )
    return action


def setup(server) -> None:
    options = types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite], resolve_provider=True
    )

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    def on_code_action(ls, params: types.CodeActionParams):
        actions = code_actions(params)
        if actions and not _client_resolves(ls):  # e.g. eglot 1.9: attach the command right away
            document = _document(ls, params.text_document.uri)
            actions = [resolve(a, document, ls.workspace.position_codec) for a in actions]
        return actions or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    def on_resolve(ls, action: types.CodeAction):
        data = action.data if isinstance(action.data, dict) else {}
        return resolve(action, _document(ls, data["uri"]) if data.get("uri") else None, ls.workspace.position_codec)


def _document(ls, uri: str):
    try:
        return ls.workspace.get_text_document(uri)
    except Exception:  # noqa: BLE001 - a closed or unknown document still gets a prompt
        return None


def _client_resolves(ls) -> bool:
    """Whether the client resolves a code action's `command` lazily (codeAction/resolve)."""
    caps = ls.client_capabilities
    ca = caps.text_document.code_action if caps and caps.text_document else None
    support = ca.resolve_support if ca else None
    return bool(support and "command" in (support.properties or []))
