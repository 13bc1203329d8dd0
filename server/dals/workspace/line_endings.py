"""Which line breaks a file uses, and text written into it made to use the same.

A file whose line breaks are all `\\r\\n` (or all `\\r`, or all `\\n`) keeps that style when a task
writes into it: the line breaks of the text it inserts (and of the text it quotes to replace) are
converted to the file's. A file with mixed line breaks, or none, is left to the text as given.
Shared by the disk path (`files.py`) and the editor path, so both give the same text.
"""

from __future__ import annotations

import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def style(text: str) -> str | None:
    """The one line break `text` uses ("\\r\\n", "\\r" or "\\n"), or None (none, or mixed)."""
    found = {m.group() for m in LINE_BREAK.finditer(text)}
    return found.pop() if len(found) == 1 else None


def adapt(file_text: str, text: str) -> str:
    """`text` with its line breaks in `file_text`'s style (unchanged when that has none or mixes)."""
    eol = style(file_text)
    if eol is None or not LINE_BREAK.search(text):
        return text
    return LINE_BREAK.sub(eol, text)
