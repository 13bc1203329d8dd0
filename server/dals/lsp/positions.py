"""Offsets in a document's text <-> LSP positions in the encoding negotiated at `initialize`.

Columns are counted by pygls's own `PositionCodec` (`ls.workspace.position_codec`: UTF-8, UTF-16
or UTF-32 code units), never by hand. Lines are split where LSP splits them: at `\\r\\n`, `\\n` and
`\\r`, and nowhere else (Python's `str.splitlines`, which pygls's `TextDocument.lines` uses, also
splits at form feeds, U+0085, U+2028 and more, and would shift every line after one).

A position LSP cannot express, inside a `\\r\\n` pair, is never produced: `edit_span` widens an
edit by that one character and carries it in the new text, so the result is the same.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from lsprotocol import types
from pygls.workspace import PositionCodec
from pygls.workspace.position_codec import ServerTextPosition

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def lsp_lines(text: str) -> list[str]:
    """The document's lines as LSP counts them, each with its line break; the last one (possibly
    empty) has none, so a text ending in a line break has an empty last line, as in LSP."""
    lines, start = [], 0
    for m in LINE_BREAK.finditer(text):
        lines.append(text[start : m.end()])
        start = m.end()
    lines.append(text[start:])
    return lines


def _starts(lines: Sequence[str]) -> list[int]:
    starts, at = [], 0
    for line in lines:
        starts.append(at)
        at += len(line)
    return starts


def _content(line: str) -> str:
    return line.rstrip("\r\n")


def position_at(codec: PositionCodec, text: str, offset: int) -> types.Position:
    """The LSP position of `text[offset]` (an index in code points) in `codec`'s encoding."""
    offset = max(0, min(offset, len(text)))
    lines = lsp_lines(text)
    starts = _starts(lines)
    line = bisect.bisect_right(starts, offset) - 1
    column = offset - starts[line]
    if column > len(_content(lines[line])):
        raise ValueError(f"offset {offset} is inside the line break of line {line}")
    return codec.position_to_client_units(lines, ServerTextPosition(line, column))


def offset_at(codec: PositionCodec, text: str, position: types.Position) -> int:
    """The index in `text` (code points) of an LSP position in `codec`'s encoding. As LSP says, a
    column past the end of its line means the end of the line, and a line past the end of the
    document means the end of the document; a column inside a character means after it."""
    lines = lsp_lines(text)
    if position.line >= len(lines):
        return len(text)
    content = _content(lines[position.line])
    width = codec.client_num_units(content)
    column = min(position.character, width)
    if column == width:
        server = len(content)
    else:  # the codec clamps (and rewrites) a column past the end: give it one inside the line
        server = codec.position_from_client_units([content], types.Position(line=0, character=column)).character
    return _starts(lines)[position.line] + server


def text_in_range(codec: PositionCodec, text: str, rng: types.Range) -> str:
    """The text an LSP range selects."""
    start, end = offset_at(codec, text, rng.start), offset_at(codec, text, rng.end)
    return text[start : max(start, end)]


def edit_span(text: str, start: int, end: int, new_text: str) -> tuple[int, int, str]:
    """Replacing `text[start:end]` by `new_text`, widened so that neither end falls between the
    `\\r` and the `\\n` of a line break (a place LSP has no position for). Same resulting text."""
    if 0 < start < len(text) and text[start - 1] == "\r" and text[start] == "\n":
        start, new_text = start - 1, "\r" + new_text
    if 0 < end < len(text) and text[end - 1] == "\r" and text[end] == "\n":
        end, new_text = end + 1, new_text + "\n"
    return start, end, new_text


def range_of(codec: PositionCodec, text: str, start: int, end: int) -> types.Range:
    """The LSP range of `text[start:end]` in `codec`'s encoding."""
    return types.Range(start=position_at(codec, text, start), end=position_at(codec, text, end))
