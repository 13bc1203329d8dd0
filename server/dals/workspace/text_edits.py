"""The text of a file after exact-match edits: the one rule of `edit_file` and `multi_edit`.

An edit is `{old, new, replace_all?}`. Edits apply in order, each to the text the previous one
left. Without `replace_all`, `old` must occur exactly once (an ambiguous edit is refused, never
guessed); with it, every occurrence is replaced. Any refused edit refuses them all. Used on disk
(`files.py`), on the editor's buffer (`agent/editor_route.py`) and in the editor (`lsp/`), so all
three agree to the character.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dals.workspace.errors import WorkspaceError
from dals.workspace.line_endings import adapt

MAX_EDITS = 100


@dataclass(frozen=True)
class TextEdit:
    old: str
    new: str
    replace_all: bool = False


def parse_edits(raw: Any) -> list[TextEdit]:
    """`[{old, new, replace_all?}]` from a tool call, checked; WorkspaceError names the bad item."""
    if not isinstance(raw, list) or not raw:
        raise WorkspaceError("edits must be a non-empty list of {old, new, replace_all?} objects")
    if len(raw) > MAX_EDITS:
        raise WorkspaceError(f"{len(raw)} edits in one call; at most {MAX_EDITS}")
    out = []
    for i, item in enumerate(raw, start=1):
        if isinstance(item, TextEdit):
            out.append(item)
            continue
        if not isinstance(item, dict) or not isinstance(item.get("old"), str) or not isinstance(item.get("new"), str):
            raise WorkspaceError(f"edit {i}: give an object with string fields 'old' and 'new'")
        extra = set(item) - {"old", "new", "replace_all"}
        if extra:
            raise WorkspaceError(f"edit {i}: unknown field(s) {', '.join(sorted(extra))}")
        out.append(TextEdit(item["old"], item["new"], bool(item.get("replace_all", False))))
    for i, e in enumerate(out, start=1):
        where = f"edit {i}: " if len(out) > 1 else ""
        if not e.old:
            raise WorkspaceError(f"{where}old text is empty; quote the exact text to replace")
        if e.old == e.new:
            raise WorkspaceError(f"{where}old and new text are the same; there is nothing to edit")
    return out


def edits_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The edits of an `edit_file` (`old`, `new`, `replace_all?`) or `multi_edit` (`edits`) call."""
    if "edits" in payload:
        return payload["edits"] if isinstance(payload["edits"], list) else []
    return [{"old": payload.get("old"), "new": payload.get("new"), "replace_all": bool(payload.get("replace_all"))}]


def count_occurrences(text: str, needle: str) -> int:
    """Occurrences of `needle`, overlapping ones included (so 'aa' in 'aaa' is ambiguous)."""
    count, start = 0, text.find(needle)
    while start != -1:
        count += 1
        start = text.find(needle, start + 1)
    return count


def apply_edits(text: str, edits: list[TextEdit], shown: str) -> str:
    """`text` after every edit, or WorkspaceError saying which edit failed and why. The quoted and
    the inserted text take `text`'s line breaks first (line_endings.adapt), so a CRLF file stays CRLF."""
    edits = [TextEdit(adapt(text, e.old), adapt(text, e.new), e.replace_all) for e in edits]
    several = len(edits) > 1
    for i, e in enumerate(edits, start=1):
        where = f"edit {i}: " if several else ""
        if not e.old:
            raise WorkspaceError(f"{where}old text is empty; quote the exact text to replace in {shown}")
        if e.old == e.new:
            raise WorkspaceError(f"{where}old and new text are the same; there is nothing to edit")
        if e.replace_all:
            if e.old not in text:
                raise WorkspaceError(
                    f"{where}old text not found in {shown}" + (" (after the edits before it)" if i > 1 else "")
                )
            text = text.replace(e.old, e.new)
            continue
        count = count_occurrences(text, e.old)
        if count == 0:
            raise WorkspaceError(
                f"{where}old text not found in {shown}"
                + (" (after the edits before it)" if i > 1 else "")
                + "; quote it exactly as read_file shows it"
            )
        if count > 1:
            raise WorkspaceError(
                f"{where}old text occurs {count} times in {shown}; include more context, "
                "or set replace_all to change every occurrence"
            )
        text = text.replace(e.old, e.new, 1)
    return text


def changed_span(before: str, after: str) -> tuple[int, int, str]:
    """A small `(start, end, replacement)` with `before[:start] + replacement + before[end:]
    == after`: one text edit that turns `before` into `after` (never splitting a CRLF)."""
    start = _common_length(before, after, lambda s, k: s[:k])
    limit = min(len(before), len(after)) - start
    tail = _common_length(before, after, lambda s, k: s[len(s) - k :], limit)
    end = len(before) - tail
    if start > 0 and before[start - 1] == "\r":
        start -= 1
    if 0 < end < len(before) and before[end - 1] == "\r" and before[end] == "\n":
        end += 1
    return start, end, after[start : len(after) - (len(before) - end)]


def _common_length(a: str, b: str, cut, limit: int | None = None) -> int:
    """The longest k with cut(a, k) == cut(b, k), by bisection (string compares run in C)."""
    lo, hi = 0, min(len(a), len(b)) if limit is None else limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cut(a, mid) == cut(b, mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
