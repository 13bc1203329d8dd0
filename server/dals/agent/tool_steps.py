"""What every agent tool shares: path keys, short previews, and workspace errors turned into
results the model reads (never exceptions a durable runtime would retry)."""

from __future__ import annotations

import posixpath
from typing import Any

from ..config.settings import state_dir
from ..workspace.checkpoints import BlobStore, store_of
from ..workspace.errors import WorkspaceError
from .deps import TaskDeps, now_iso

PREVIEW = 300


def key_of(path: str) -> str:
    return posixpath.normpath(path.strip() or ".")


def short(text: str, n: int = PREVIEW) -> str:
    return text if len(text) <= n else text[:n] + f"… [{len(text) - n} more chars]"


async def guarded(fn) -> dict[str, Any]:
    try:
        out = await fn()
        out.setdefault("ok", True)
    except WorkspaceError as e:
        out = {"ok": False, "error": str(e)}
    except OSError as e:  # disk full, permissions, read-only workspace: the model should know
        out = {"ok": False, "error": f"{type(e).__name__}: {e.strerror or e}"}
    out["at"] = now_iso()
    return out


def blob_store() -> BlobStore:
    """Where the content before each change is kept (the checkpoint store; see docs/tasks.md)."""
    return store_of(state_dir())


def fail(deps: TaskDeps, kind: str, title: str, out: dict[str, Any]) -> str:
    deps.runner.event(kind, f"{title} failed", {"error": out["error"]}, out["at"])
    return f"error: {out['error']}"
