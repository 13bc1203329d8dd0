"""Confinement of agent-supplied paths to the task's workspace root.

Every path a tool receives goes through `resolve` before anything is read,
written or executed. It refuses absolute paths, `..` escapes, NUL bytes,
over-long paths and symlinks (at any component, dangling or not) that lead
outside the root. `~` is a plain file name here, never expanded.
"""

import os
import posixpath
from pathlib import Path

from dals.workspace.errors import WorkspaceError

MAX_PATH_CHARS = 4096


def resolve(root: Path, rel: str) -> Path:
    """The absolute, symlink-free path of `rel` inside `root`, or WorkspaceError."""
    if not isinstance(rel, str):
        raise WorkspaceError("path must be a string")
    shown = _shown(rel)
    if "\x00" in rel:
        raise WorkspaceError(f"path '{shown}' contains a NUL byte")
    if len(rel) > MAX_PATH_CHARS:
        raise WorkspaceError(f"path is {len(rel)} characters long; the limit is {MAX_PATH_CHARS}")
    rel = rel or "."
    if posixpath.isabs(rel):
        raise WorkspaceError(f"path '{shown}' is absolute; give a path relative to the workspace")
    normal = posixpath.normpath(rel)
    if normal == ".." or normal.startswith("../"):
        raise WorkspaceError(f"path '{shown}' is outside the workspace")
    real_root = Path(os.path.realpath(root))
    try:
        # realpath follows every symlink, dangling ones included, the way the
        # kernel would when the path is opened.
        target = Path(os.path.realpath(real_root / rel))
    except (OSError, RuntimeError, ValueError) as exc:
        raise WorkspaceError(f"path '{shown}' cannot be resolved: {exc}") from None
    if target != real_root and real_root not in target.parents:
        raise WorkspaceError(f"path '{shown}' is outside the workspace")
    return target


def relative(root: Path, p: Path) -> str:
    """The posix-style workspace-relative form of `p` ("." for the root itself)."""
    real_root = Path(os.path.realpath(root))
    path = Path(p)
    if not path.is_absolute():
        path = real_root / path
    try:
        rel = path.relative_to(real_root)
    except ValueError:
        rel = Path(os.path.realpath(path)).relative_to(real_root)
    return rel.as_posix() or "."


def is_inside(root: Path, p: Path) -> bool:
    """Whether the fully resolved `p` lies inside the resolved `root`."""
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(p))
    return target == real_root or real_root in target.parents


def _shown(rel: str) -> str:
    """`rel` as it can be quoted in a message: printable and not too long."""
    text = rel.replace("\x00", "\\0")
    return text if len(text) <= 120 else text[:60] + "…" + text[-40:]


def workspace_key(root: Path) -> str:
    """A stable, URL-safe name for a workspace root (used as a Restate object key)."""
    import hashlib

    return hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:20]
