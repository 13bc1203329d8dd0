"""The editor path leaves the buffer exactly as the disk path leaves the file (Guarantee 7).

Random documents (ASCII, Latin-1, CJK, emoji, combining marks, tabs, a BOM, characters Python
splits lines at but LSP does not; LF, CRLF, CR and mixed line breaks, with or without a final one)
and random `edit_file` / `write_file` requests. The `WorkspaceEdit` that `EditorBridge.handle`
sends, applied by the reference applier below, must give exactly the text that
`dals.workspace.files` writes on disk, for each of the three position encodings.

The reference applier is written from the LSP specification alone, not from pygls or DALS:
lines end at "\\r\\n", "\\n" or "\\r"; a column counts code units of the line encoded in the
negotiated encoding (UTF-8 bytes, UTF-16 units, UTF-32 units).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st
from lsprotocol import types
from pygls.workspace import Workspace

from dals.lsp.editor_bridge import EditorBridge
from dals.workspace import files
from dals.workspace.errors import WorkspaceError
from dals.workspace.text_bytes import content_hash

ENCODINGS = ["utf-8", "utf-16", "utf-32"]
UNIT_BYTES = {"utf-8": 1, "utf-16": 2, "utf-32": 4}
CODECS = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}

WORDS = [
    "a",
    "b",
    "x = 1",
    " ",
    "\t",
    "héllo",
    "wörld",
    "café",
    "ß",
    "ñ",
    "日本語",
    "中文",
    "한",
    "😀",
    "🎉",
    "👍🏽",
    "e\u0301",
    "a\u0308\u0323",
    "\ufeff",
    "\x0c",
    "\x85",
    "\u2028",
    "\x0b",
    "\x1e",
]
BREAKS = ["\n", "\r\n", "\r"]
pieces = st.sampled_from(WORDS) | st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=3
)


def documents(breaks: list[str]):
    line = st.lists(pieces, max_size=5).map("".join)
    return st.builds(
        lambda lines, ends, final: (
            "".join(text + ends[i % len(ends)] for i, text in enumerate(lines))[: None if final else -1]
            if lines
            else ""
        ),
        st.lists(line, min_size=1, max_size=6),
        st.lists(st.sampled_from(breaks), min_size=1, max_size=3),
        st.booleans(),
    )


docs = documents(["\n"]) | documents(["\r\n"]) | documents(["\r"]) | documents(BREAKS)
inserted = st.lists(pieces | st.sampled_from(BREAKS), max_size=6).map("".join)


# --- the reference applier (LSP specification) ---------------------------------------------------


def _ref_lines(text: str) -> list[tuple[int, str]]:
    """(offset of the line, its content without the line break) for every LSP line."""
    out, start, i = [], 0, 0
    while i < len(text):
        if text[i] in "\r\n":
            out.append((start, text[start:i]))
            i += 2 if text[i] == "\r" and text[i + 1 : i + 2] == "\n" else 1
            start = i
        else:
            i += 1
    out.append((start, text[start:]))
    return out


def _ref_offset(text: str, pos: types.Position, encoding: str) -> int:
    lines = _ref_lines(text)
    assert pos.line < len(lines), f"line {pos.line} is past the end of the document"
    start, content = lines[pos.line]
    data = content.encode(CODECS[encoding])
    cut = pos.character * UNIT_BYTES[encoding]
    assert cut <= len(data), f"column {pos.character} is past the end of line {pos.line}"
    prefix = data[:cut].decode(CODECS[encoding])  # raises inside a character: a wrong position
    return start + len(prefix)


def reference_apply(text: str, edit: types.WorkspaceEdit, encoding: str) -> str:
    (doc_edit,) = edit.document_changes
    spans = sorted(
        (
            (_ref_offset(text, e.range.start, encoding), _ref_offset(text, e.range.end, encoding), e.new_text)
            for e in doc_edit.edits
        ),
        reverse=True,
    )
    for start, end, new in spans:
        assert start <= end
        text = text[:start] + new + text[end:]
    return text


# --- the two paths -----------------------------------------------------------------------------


class FakeServer:
    """What the bridge uses of the language server: a real pygls workspace, a recorded applyEdit."""

    def __init__(self, root: Path, encoding: str, text: str):
        self.workspace = Workspace(root.as_uri(), position_encoding=encoding)
        self.workspace.put_text_document(
            types.TextDocumentItem(uri=(root / "f.txt").as_uri(), language_id="text", version=7, text=text)
        )
        self.client_capabilities = None
        self.sent: list[types.ApplyWorkspaceEditParams] = []

    async def workspace_apply_edit_async(self, params):
        """Applies the edit and syncs it back, as an editor does (didChange, whole text)."""
        self.sent.append(params)
        (doc_edit,) = params.edit.document_changes
        doc = self.workspace.get_text_document(doc_edit.text_document.uri)
        doc.apply_change(
            types.TextDocumentContentChangeWholeDocument(
                text=reference_apply(doc.source, params.edit, self.workspace.position_encoding)
            )
        )
        return types.ApplyWorkspaceEditResult(applied=True)


def both_paths(text: str, request: dict, encoding: str) -> tuple[str | None, FakeServer, dict]:
    """(what the disk path wrote, or None if it refused; the bridge's server; its answer)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = text.encode("utf-8")
        (root / "f.txt").write_bytes(data)
        try:
            if request["tool"] == "edit_file":
                files.edit_file(root, "f.txt", request["old"], request["new"], content_hash(data))
            else:
                files.write_file(root, "f.txt", request["content"], content_hash(data))
            disk = (root / "f.txt").read_bytes().decode("utf-8")
        except WorkspaceError:
            disk = None
        server = FakeServer(root, encoding, text)
        bridge = EditorBridge.__new__(EditorBridge)  # no heartbeat, registry or Restate needed here
        bridge.server = server
        answer = asyncio.run(
            bridge.handle({"op": "edit", "path": "f.txt", "expected": content_hash(data), **request}, root)
        )
    return disk, server, answer


def check(text: str, request: dict, encoding: str) -> None:
    disk, server, answer = both_paths(text, request, encoding)
    if disk is None or disk == text:  # refused on disk (not found, ambiguous, nothing to edit)
        assert all(reference_apply(text, p.edit, encoding) == text for p in server.sent), answer
        return
    assert answer["applied"], answer
    (params,) = server.sent
    buffer = reference_apply(text, params.edit, encoding)
    assert buffer == disk, (repr(text), request, encoding, params.edit)
    assert answer["sha"] == content_hash(disk.encode("utf-8"))


@st.composite
def edit_requests(draw):
    text = draw(docs)
    assume(text)
    start = draw(st.integers(0, len(text) - 1))
    end = draw(st.integers(start + 1, min(len(text), start + 12)))
    old = text[start:end]
    assume(text.count(old) == 1)
    return text, {"tool": "edit_file", "old": old, "new": draw(inserted)}


@st.composite
def write_requests(draw):
    text = draw(docs)
    content = draw(
        st.lists(st.sampled_from(_ref_lines(text)).map(lambda x: x[1]) | inserted, max_size=5).map("\n".join)
    )
    return text, {"tool": "write_file", "content": content}


@pytest.mark.parametrize("encoding", ENCODINGS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(case=edit_requests())
@example(case=('s = "héllo wörld 😀 café"\n', {"tool": "edit_file", "old": "café", "new": "cafe"}))
@example(case=("a\r\nb\r\nc", {"tool": "edit_file", "old": "b", "new": "x\ny"}))
@example(case=("a\rb\rc", {"tool": "edit_file", "old": "c", "new": "z"}))
@example(case=("a\x0cb\nc", {"tool": "edit_file", "old": "c", "new": "z"}))
@example(case=("a\r\nb", {"tool": "edit_file", "old": "\nb", "new": "\nc"}))
def test_edit_file_in_the_editor_equals_the_disk(encoding, case):
    check(*case, encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=write_requests())
@example(case=("x 😀 y\r\nz\r\n", {"tool": "write_file", "content": "x 😀 Y\nz\n"}))
def test_write_file_in_the_editor_equals_the_disk(encoding, case):
    check(*case, encoding)


def test_crlf_document_gets_crlf_line_breaks_without_a_final_one():
    disk, server, _ = both_paths("one\r\ntwo", {"tool": "edit_file", "old": "two", "new": "2\nthree"}, "utf-8")
    assert disk == "one\r\n2\r\nthree"
    assert reference_apply("one\r\ntwo", server.sent[0].edit, "utf-8") == disk


def test_range_is_counted_in_the_negotiated_encoding():
    text = 's = "héllo wörld 😀 café"\n'
    columns = {}
    for encoding in ENCODINGS:
        _, server, _ = both_paths(text, {"tool": "edit_file", "old": "café", "new": "cafe"}, encoding)
        (edit,) = server.sent[0].edit.document_changes[0].edits
        columns[encoding] = (edit.range.start.character, edit.range.end.character)
    assert columns == {"utf-8": (24, 29), "utf-16": (20, 24), "utf-32": (19, 23)}
