"""Listing the workspace the way the agent should see it (search, in `search.py`, sees the same).

Owns which files exist for the agent: regular files matching a pathlib-style
glob (`**` spans directories), never `.git`, never anything a `.gitignore`
(the root one or nested ones) ignores. Ignored directories are not entered,
symlinked directories are not followed (as git does), and a symlinked file
is listed only when it resolves to a regular file inside the workspace.
"""

import os
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import pathspec

from dals.workspace.confine import is_inside
from dals.workspace.errors import WorkspaceError

_MAGIC = re.compile(r"[*?\[]")


def list_files(root: Path, glob: str = "**/*", limit: int = 2000) -> tuple[list[str], bool]:
    """Sorted workspace-relative paths matching `glob`, and whether `limit` cut them."""
    paths: list[str] = []
    for rel in _walk(Path(os.path.realpath(root)), glob_segments(glob)):
        if len(paths) == limit:
            return paths, True
        paths.append(rel)
    return paths, False


def glob_segments(glob: str) -> tuple[str, ...]:
    if not isinstance(glob, str) or not glob:
        raise WorkspaceError("glob must be a non-empty pattern such as '**/*.py'")
    if "\x00" in glob:
        raise WorkspaceError("glob contains a NUL byte")
    if glob.startswith("/"):
        raise WorkspaceError(f"glob '{glob}' is absolute; give a pattern relative to the workspace")
    segments = tuple(s for s in glob.split("/") if s not in ("", "."))
    if ".." in segments:
        raise WorkspaceError(f"glob '{glob}' leaves the workspace; '..' is not allowed")
    return segments or ("**",)


def _glob_match(pattern: tuple[str, ...], parts: tuple[str, ...], partial: bool) -> bool:
    """Whether `parts` matches `pattern`; with `partial`, whether a path below it could."""
    if not pattern:
        return not parts
    if not parts:
        return partial or all(p == "**" for p in pattern)
    head = pattern[0]
    if head == "**":
        return _glob_match(pattern[1:], parts, partial) or _glob_match(pattern, parts[1:], partial)
    if _MAGIC.search(head) is None:
        return head == parts[0] and _glob_match(pattern[1:], parts[1:], partial)
    return fnmatchcase(parts[0], head) and _glob_match(pattern[1:], parts[1:], partial)


def is_ignored(root: Path, rel: str) -> bool:
    """Whether the workspace-relative path `rel` is ignored by .gitignore files (or is in .git)."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".git" in parts:
        return bool(parts)
    ignores = _Ignores()
    ignores.enter(root, ".")
    for i in range(len(parts)):
        here = "/".join(parts[: i + 1])
        last = i == len(parts) - 1
        if ignores.ignored(here, is_dir=not last):
            return True
        if not last:
            ignores.enter(root / here, here)
    return False


class _Ignores:
    """The .gitignore files met on the way down; the deepest one that decides wins."""

    def __init__(self) -> None:
        self._specs: list[tuple[str, pathspec.PathSpec]] = []

    def enter(self, directory: Path, rel_dir: str) -> int:
        """Load `directory`/.gitignore if any; returns how many specs to pop on leave."""
        try:
            with open(directory / ".gitignore", encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return 0
        prefix = "" if rel_dir == "." else rel_dir + "/"
        self._specs.append((prefix, pathspec.GitIgnoreSpec.from_lines(lines)))
        return 1

    def leave(self, count: int) -> None:
        del self._specs[len(self._specs) - count :]

    def ignored(self, rel: str, is_dir: bool) -> bool:
        for prefix, spec in reversed(self._specs):
            local = rel[len(prefix) :] + ("/" if is_dir else "")
            decision = spec.check_file(local).include
            if decision is not None:
                return decision
        return False


def _walk(root: Path, pattern: tuple[str, ...]) -> Iterator[str]:
    """Matching files in the sorted order of their relative path strings."""
    ignores = _Ignores()

    def visit(directory: Path, rel_dir: str) -> Iterator[str]:
        pushed = ignores.enter(directory, rel_dir)
        try:
            try:
                with os.scandir(directory) as it:
                    entries = list(it)
            except OSError:
                return
            # Sorting a directory by name + "/" makes depth-first order equal
            # the sorted order of the full paths, so a limit can stop early.
            keyed = []
            for entry in entries:
                if entry.name == ".git":
                    continue
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                keyed.append((entry.name + "/" if is_dir else entry.name, entry, is_dir))
            keyed.sort(key=lambda k: k[0])
            for _, entry, is_dir in keyed:
                rel = entry.name if rel_dir == "." else f"{rel_dir}/{entry.name}"
                parts = tuple(rel.split("/"))
                if is_dir:
                    if _glob_match(pattern, parts, partial=True) and not ignores.ignored(rel, True):
                        yield from visit(Path(entry.path), rel)
                elif (
                    _glob_match(pattern, parts, partial=False)
                    and _listable_file(root, entry)
                    and not ignores.ignored(rel, False)
                ):
                    yield rel
        finally:
            ignores.leave(pushed)

    yield from visit(root, ".")


def _listable_file(root: Path, entry: os.DirEntry) -> bool:
    try:
        if entry.is_symlink():
            return entry.is_file(follow_symlinks=True) and is_inside(root, Path(entry.path))
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False
