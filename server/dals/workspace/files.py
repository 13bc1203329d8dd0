"""The file tools: read, hash-guarded write and edit, listing and search.

Owns the exactly-once edit rules (Guarantees 2 and 3): a write or edit states
the hash of the file the agent last saw; a file that changed since then is
never overwritten, and re-running an edit that already took effect is
recognised and reported as `already_applied` instead of being done twice.
Writes are atomic (temp file in the same directory, fsync, rename).
Listing (`listing.py`), search (`search.py`) and ranged reads (`line_ranges.py`) are
re-exported here.
"""

import difflib
import fcntl
import hashlib
import os
import posixpath
import secrets
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dals.workspace.confine import is_inside, resolve
from dals.workspace.errors import ConflictError, WorkspaceError
from dals.workspace.line_endings import adapt
from dals.workspace.line_ranges import DEFAULT_LIMIT, check_range, lines_of, read_range, regular_file_stat
from dals.workspace.listing import list_files
from dals.workspace.search import search
from dals.workspace.text_bytes import content_hash, decode_text
from dals.workspace.text_edits import TextEdit, apply_edits, parse_edits

__all__ = [
    "ReadResult",
    "WriteResult",
    "content_hash",
    "delete_file",
    "edit_file",
    "file_hash",
    "DEFAULT_LIMIT",
    "check_range",
    "lines_of",
    "list_files",
    "multi_edit",
    "read_file",
    "read_range",
    "search",
    "write_file",
]

MAX_DIFF_LINES = 200
# Bytes the already-applied check of `edit_file` may hash before giving up.
IDEMPOTENCY_HASH_BUDGET = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReadResult:
    path: str
    text: str
    sha: str


@dataclass(frozen=True)
class WriteResult:
    path: str
    sha: str
    created: bool
    already_applied: bool
    diff: str
    proposed: str | None = None  # a dry run's whole new text (what an approval shows next to the file)


def read_file(root: Path, path: str, max_bytes: int = 1_000_000) -> ReadResult:
    """The text of a UTF-8 file in the workspace and the hash of its bytes."""
    target, shown = _target(root, path)
    info = regular_file_stat(target, shown)
    if info.st_size > max_bytes:
        raise WorkspaceError(
            f"'{shown}' is {info.st_size} bytes, over the {max_bytes}-byte limit of a whole read; "
            f"read it in ranges: read_file(path='{shown}', offset=1, limit=2000), then offset=2001, "
            "...; or search it for what you need"
        )
    with open(target, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise WorkspaceError(
            f"'{shown}' grew over the {max_bytes}-byte limit while being read; read it in ranges (offset, limit)"
        )
    text = decode_text(data)
    if text is None:
        raise WorkspaceError(f"'{shown}' is a binary file (not UTF-8 text); read_file only reads text")
    return ReadResult(shown, text, content_hash(data))


def file_hash(root: Path, path: str) -> str | None:
    """The hash of the file's current bytes, or None if it does not exist."""
    target, shown = _target(root, path)
    if target.is_dir():
        raise WorkspaceError(f"'{shown}' is a directory, not a file")
    data = _bytes_or_none(target)
    return None if data is None else content_hash(data)


@contextmanager
def _workspace_lock(root: Path):
    """Check-then-write is one critical section per workspace, across processes (flock on the
    root directory): two tasks never interleave writes, the second sees the first's result."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_file(root: Path, path: str, content: str, expected_sha: str | None, dry_run: bool = False) -> WriteResult:
    with _workspace_lock(root):
        return _write_file(root, path, content, expected_sha, dry_run)


def delete_file(root: Path, path: str, expected_sha: str) -> str:
    """Delete the file if it is still the one the agent last saw (`expected_sha`); the hash of
    what was deleted. A file already gone is a re-run of this delete (the caller knows)."""
    with _workspace_lock(root):
        target, shown = _target(root, path)
        if target.is_dir():
            raise WorkspaceError(f"'{shown}' is a directory; delete_file deletes files")
        data = _bytes_or_none(target)
        if data is None:
            return expected_sha  # deleted already (by a run of this step before a crash, or since)
        if content_hash(data) != expected_sha:
            raise ConflictError(f"'{shown}' changed since read; read it again")
        target.unlink()
        _fsync_dir(target.parent)
        return expected_sha


def edit_file(
    root: Path,
    path: str,
    old: str,
    new: str,
    expected_sha: str,
    dry_run: bool = False,
    replace_all: bool = False,
    target_sha: str | None = None,
) -> WriteResult:
    return multi_edit(root, path, [TextEdit(old, new, replace_all)], expected_sha, dry_run, target_sha)


def multi_edit(
    root: Path, path: str, edits: list, expected_sha: str, dry_run: bool = False, target_sha: str | None = None
) -> WriteResult:
    """Apply `edits` (see `text_edits`) all or none, guarded by `expected_sha`. `target_sha`, the
    hash a dry run of the same edits gave, lets a re-run recognise its own finished edit."""
    with _workspace_lock(root):
        return _edit_file(root, path, parse_edits(edits), expected_sha, dry_run, target_sha)


def _write_file(root: Path, path: str, content: str, expected_sha: str | None, dry_run: bool) -> WriteResult:
    """Write `content`, unless the file is not the one the agent last saw.

    `expected_sha` is the hash the agent last read, None when it believes
    the file does not exist.
    """
    target, shown = _target(root, path)
    if target.is_dir():
        raise WorkspaceError(f"'{shown}' is a directory; give the path of a file")
    _encode(content, "content")
    old = _bytes_or_none(target)
    old_text = None if old is None else decode_text(old)
    if old_text is not None:
        content = adapt(old_text, content)  # the file's line breaks, not a mix
    new = _encode(content, "content")
    if old is not None and old == new:
        return WriteResult(shown, content_hash(new), False, True, "")
    if expected_sha is None and old is not None:
        raise ConflictError(f"'{shown}' was created since the task looked; read it first")
    if expected_sha is not None and old is None:
        raise ConflictError(f"'{shown}' changed since read; read it again (it no longer exists)")
    if expected_sha is not None and old is not None and content_hash(old) != expected_sha:
        raise ConflictError(f"'{shown}' changed since read; read it again")
    if not dry_run:
        _atomic_write(root, target, shown, new)
    old_text = "" if old is None else old.decode("utf-8", errors="replace")
    diff = _diff(shown, old_text, content, created=old is None)
    return WriteResult(shown, content_hash(new), old is None, False, diff, content if dry_run else None)


def _edit_file(
    root: Path, path: str, edits: list[TextEdit], expected_sha: str, dry_run: bool, target_sha: str | None
) -> WriteResult:
    target, shown = _target(root, path)
    for e in edits:
        _encode(e.old, "old text"), _encode(e.new, "new text")
    if target.is_dir():
        raise WorkspaceError(f"'{shown}' is a directory; give the path of a file")
    data = _bytes_or_none(target)
    if data is None:
        raise WorkspaceError(f"file '{shown}' does not exist; use write_file to create it")
    text = decode_text(data)
    if text is None:
        raise WorkspaceError(f"'{shown}' is a binary file; edit_file only edits UTF-8 text")
    current = content_hash(data)
    if current != expected_sha:
        if target_sha is not None and current == target_sha:
            return WriteResult(shown, current, False, True, "")
        one = edits[0] if len(edits) == 1 and not edits[0].replace_all else None
        if one and _edit_already_applied(
            data, adapt(text, one.old).encode("utf-8"), adapt(text, one.new).encode("utf-8"), expected_sha
        ):
            return WriteResult(shown, current, False, True, "")
        raise ConflictError(f"'{shown}' changed since read; read it again")
    new_text = apply_edits(text, edits, shown)
    new_data = new_text.encode("utf-8")
    if not dry_run:
        _atomic_write(root, target, shown, new_data)
    return WriteResult(
        shown, content_hash(new_data), False, False, _diff(shown, text, new_text), new_text if dry_run else None
    )


def _target(root: Path, path: str) -> tuple[Path, str]:
    target = resolve(root, path)
    return target, posixpath.normpath(path or ".")


def _encode(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise WorkspaceError(f"{what} must be a string")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WorkspaceError(f"{what} is not valid text: {exc.reason}") from None


def _bytes_or_none(target: Path) -> bytes | None:
    try:
        with open(target, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise WorkspaceError(f"'{target.name}' is a directory, not a file") from None


def _edit_already_applied(data: bytes, old: bytes, new: bytes, expected_sha: str) -> bool:
    """Whether undoing `old`→`new` at some occurrence of `new` gives `expected_sha`.

    Hashes candidates incrementally (shared prefix state) within a budget, so
    a pure deletion (`new` empty, every position a candidate) stays bounded.
    """
    prefix, hashed_to, budget = hashlib.sha256(), 0, IDEMPOTENCY_HASH_BUDGET
    pos = data.find(new)
    while pos != -1 and budget > 0:
        prefix.update(data[hashed_to:pos])
        hashed_to = pos
        candidate = prefix.copy()
        candidate.update(old)
        candidate.update(data[pos + len(new) :])
        budget -= len(data) - pos + len(old)
        if "sha256:" + candidate.hexdigest() == expected_sha:
            return True
        pos = data.find(new, pos + 1) if pos < len(data) else -1
    return False


def _atomic_write(root: Path, target: Path, shown: str, data: bytes) -> None:
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise WorkspaceError(f"cannot create '{shown}': a parent of it is a file") from None
    if not is_inside(root, parent):
        raise WorkspaceError(f"path '{shown}' is outside the workspace")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = parent / f".dals-{secrets.token_hex(6)}.tmp"
    # 0o666 lets the umask decide the mode of new files, as open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _diff(shown: str, old_text: str, new_text: str, created: bool = False) -> str:
    lines = list(
        difflib.unified_diff(
            old_text.splitlines(),
            new_text.splitlines(),
            "/dev/null" if created else f"a/{shown}",
            f"b/{shown}",
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        cut = len(lines) - MAX_DIFF_LINES
        lines = lines[:MAX_DIFF_LINES] + [f"[… {cut} more diff lines …]"]
    return "\n".join(lines)


def edit_already_applied(text: str, old: str, new: str, expected_sha: str) -> bool:
    """Whether `text` is what replacing `old` by `new` once in the content of `expected_sha` gives."""
    return _edit_already_applied(text.encode("utf-8"), old.encode("utf-8"), new.encode("utf-8"), expected_sha)
