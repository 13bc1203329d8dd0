"""Reading lines `offset`… of a file of any size, streamed, numbered, with the file's line count.

The file is read once in chunks: the wanted lines are kept, the others only counted, and the
whole of it hashed (so a ranged read guards later edits like a whole one). Output lines are
`{number:>6}\t{text}`; a line over `MAX_LINE_CHARS` or an output over `MAX_OUTPUT_CHARS` is cut,
and the footer says what was cut and which `offset` reads on.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dals.workspace.confine import resolve
from dals.workspace.errors import WorkspaceError
from dals.workspace.text_bytes import SNIFF_BYTES

DEFAULT_LIMIT = 2000
MAX_LIMIT = 20_000
MAX_LINE_CHARS = 2000
MAX_OUTPUT_CHARS = 100_000
CHUNK = 1 << 20
_KEEP_BYTES = MAX_LINE_CHARS * 4 + 4  # enough bytes for MAX_LINE_CHARS characters of UTF-8


@dataclass(frozen=True)
class RangeResult:
    path: str
    text: str  # numbered lines and, when anything was left out, a footer saying how to get it
    sha: str  # of the whole file
    total_lines: int
    first: int
    last: int  # 0 when no line was shown


def check_range(offset, limit) -> tuple[int, int]:
    """`offset` (1-based first line, default 1) and `limit` (lines, default 2000), checked."""
    offset = 1 if offset is None else offset
    limit = DEFAULT_LIMIT if limit is None else limit
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
        raise WorkspaceError(f"offset must be a line number >= 1 (got {offset!r})")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise WorkspaceError(f"limit must be a number of lines from 1 to {MAX_LIMIT} (got {limit!r})")
    return offset, limit


def regular_file_stat(target: Path, shown: str) -> os.stat_result:
    """`target`'s stat, or WorkspaceError when it is missing, a directory or not a regular file."""
    try:
        info = target.stat()
    except FileNotFoundError:
        raise WorkspaceError(f"file '{shown}' does not exist") from None
    if stat.S_ISDIR(info.st_mode):
        raise WorkspaceError(f"'{shown}' is a directory; use list_files to see its files")
    if not stat.S_ISREG(info.st_mode):
        raise WorkspaceError(f"'{shown}' is not a regular file")
    return info


def read_range(root: Path, path: str, offset: int | None = None, limit: int | None = None) -> RangeResult:
    """Lines `offset`..`offset+limit-1` of a workspace file, streamed from disk."""
    offset, limit = check_range(offset, limit)
    target = resolve(root, path)
    shown = posixpath.normpath(path or ".")
    regular_file_stat(target, shown)
    with open(target, "rb") as f:
        return lines_of(shown, iter(lambda: f.read(CHUNK), b""), offset, limit)


def lines_of(shown: str, chunks: Iterable[bytes], offset: int, limit: int) -> RangeResult:
    """The numbered range of the bytes `chunks` (a file read in pieces, or an editor's buffer)."""
    digest, newlines, last_byte = hashlib.sha256(), 0, b""
    want_end = offset + limit - 1
    cur, buf, kept = 1, b"", []  # cur: number of the line starting at buf[0]
    over = 0  # bytes dropped from the long line being read
    first = True
    for chunk in chunks:
        if first and b"\x00" in chunk[:SNIFF_BYTES]:
            raise WorkspaceError(f"'{shown}' is a binary file (NUL bytes); read_file only reads text")
        first = False
        digest.update(chunk)
        newlines += chunk.count(b"\n")
        last_byte = chunk[-1:]
        if cur > want_end:
            continue
        buf += chunk
        if cur < offset:  # skip whole lines before the range without decoding them
            skip = min(offset - cur, buf.count(b"\n"))
            if skip:
                buf = buf.split(b"\n", skip)[-1]
                cur += skip
            if cur < offset:
                buf = b""  # part of a line before the range
                continue
        *done, buf = buf.split(b"\n")
        for raw in done:
            if cur > want_end:
                break
            kept.append((cur, raw, over))
            over = 0
            cur += 1
        if len(buf) > _KEEP_BYTES:
            over += len(buf) - _KEEP_BYTES
            buf = buf[:_KEEP_BYTES]
    total = newlines + (1 if last_byte not in (b"", b"\n") else 0)
    if buf and offset <= cur <= want_end:
        kept.append((cur, buf, over))
    sha = "sha256:" + digest.hexdigest()
    if total and offset > total:
        raise WorkspaceError(f"offset {offset} is past the end of '{shown}' ({total} lines)")
    return _render(shown, kept, sha, total, offset)


def _render(shown: str, kept: list[tuple[int, bytes, int]], sha: str, total: int, offset: int) -> RangeResult:
    out: list[str] = []
    size, cut_lines, stopped = 0, 0, None
    for number, raw, over in kept:
        text = raw.rstrip(b"\r").decode("utf-8", errors="replace")
        if len(text) > MAX_LINE_CHARS or over:
            rest = len(text) - MAX_LINE_CHARS + over  # chars and, past what was kept, bytes
            text = text[:MAX_LINE_CHARS] + f"… [line cut: {rest} more characters]"
            cut_lines += 1
        line = f"{number:>6}\t{text}"
        if size + len(line) > MAX_OUTPUT_CHARS and out:
            stopped = number
            break
        out.append(line)
        size += len(line) + 1
    last = kept[len(out) - 1][0] if out else 0
    notes = []
    if stopped:
        notes.append(
            f"output limit of {MAX_OUTPUT_CHARS} characters reached at line {stopped}; read on with offset={stopped}"
        )
    elif last and last < total:
        notes.append(f"lines {offset}-{last} of {total}; read on with offset={last + 1}")
    if cut_lines:
        notes.append(f"{cut_lines} long line(s) cut at {MAX_LINE_CHARS} characters; use search to find text in them")
    if not out:
        notes.append(f"'{shown}' is empty" if total == 0 else "no lines in that range")
    body = "\n".join(out)
    footer = f"[{shown}: {total} lines; " + "; ".join(notes) + "]" if notes else f"[{shown}: {total} lines]"
    return RangeResult(shown, body + ("\n" if body else "") + footer, sha, total, offset if out else 0, last)
