"""Checkpoints of file changes: the content before a task's change, kept by hash, and the
hash-guarded revert that puts it back (Guarantee 8).

Contents live in a content-addressed store on disk (`<state dir>/checkpoints/blobs/ab/cdef…`),
not in Restate state: a file of any size or kind (binary, 10 MB, more) is kept as its bytes,
once however many tasks saw it, and the journal only holds its hash. A revert puts the bytes
back only when the file is still exactly as the task left it (its hash after the change):
anything else means someone changed it since, and it is left alone.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dals.workspace.confine import resolve
from dals.workspace.errors import WorkspaceError
from dals.workspace.files import _atomic_write, _bytes_or_none, _fsync_dir, _workspace_lock
from dals.workspace.text_bytes import content_hash


class BlobStore:
    """Bytes by their `content_hash`, written atomically, each content once."""

    def __init__(self, directory: Path):
        self.dir = directory

    def _path(self, sha: str) -> Path:
        digest = sha.removeprefix("sha256:")
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise WorkspaceError(f"not a content hash: {sha!r}")
        return self.dir / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        sha = content_hash(data)
        target = self._path(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{secrets.token_hex(6)}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return sha

    def get(self, sha: str) -> bytes | None:
        try:
            return self._path(sha).read_bytes()
        except FileNotFoundError:
            return None

    def has(self, sha: str) -> bool:
        return self._path(sha).exists()


def store_of(state_dir: Path) -> BlobStore:
    """The checkpoint store of a state dir (the worker's and `dals lsp`'s, on one machine)."""
    return BlobStore(state_dir / "checkpoints" / "blobs")


def capture(root: Path, path: str, expected: str | None, store: BlobStore) -> str | None:
    """Keep the file's content before a change the task is about to make on the state it saw
    (`expected`, None: it believes the file absent); the hash kept, or None when there was no
    file. A file no longer at `expected` is not kept (the change will be refused, or was made by a
    run of this step before a crash, which kept it then)."""
    if expected is None:
        return None
    data = _bytes_or_none(resolve(root, path))
    if data is not None and content_hash(data) == expected:
        store.put(data)
    return expected


def revert(root: Path, path: str, now: str | None, back_to: str | None, store: BlobStore) -> str | None:
    """Put `path` back to the content `back_to` (None: no file) if it is still `now` (the hash the
    task left; None: it left no file). None when done (or already so), else why it was skipped."""
    target = resolve(root, path)
    with _workspace_lock(root):
        data = _bytes_or_none(target)
        current = None if data is None else content_hash(data)
        if current == back_to:
            return None  # already back (an interrupted revert that got this far, or undone before)
        if current != now:
            return (
                "deleted since the task changed it"
                if current is None
                else "changed since the task changed it (by you or another task); left as it is"
            )
        if back_to is None:
            target.unlink()
            _fsync_dir(target.parent)
            return None
        before = store.get(back_to)
        if before is None:
            return "its content before the task was not kept (a change made in the editor's buffer, or purged)"
        _atomic_write(root, target, path, before)
        return None
