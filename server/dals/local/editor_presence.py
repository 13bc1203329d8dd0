"""Which live editor has a file open: the rule that picks one, and the registry on this machine.

`dals lsp` publishes its open files per workspace in two places: the `EditorSessions` object in
Restate (read by a task with a journaled call, wherever its worker runs) and a file in the state
dir, `editors/<sessionId>.json`, which a worker on the same machine reads inside a journaled step
instead (`TaskSpec.editorLookup = "local"`): the same answer, without a Restate invocation for
every file a task reads or edits. Either way the answer is journaled, so a replay gets it again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FRESH_S = 30.0  # an editor silent for longer is gone (killed without saying goodbye)
REGISTRY = "editors"


def freshest(sessions: dict[str, dict[str, Any]], path: str | None, now: float) -> str | None:
    """The id of the most recently seen live session that has `path` open (any live session when
    `path` is None), or None."""
    live = [
        (s["seenAt"], sid)
        for sid, s in sessions.items()
        if (path is None or path in s.get("open", ())) and now - s.get("seenAt", 0) < FRESH_S
    ]
    return max(live)[1] if live else None


def registry_dir(state: Path) -> Path:
    return state / REGISTRY


def publish(directory: Path, session_id: str, workspaces: dict[str, list[str]], seen_at: float) -> None:
    """This session's open files, per workspace key (atomically replaced)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / f"{session_id}.json"
    tmp = directory / f".{session_id}.tmp"
    tmp.write_text(json.dumps({"workspaces": workspaces, "seenAt": seen_at}))
    os.replace(tmp, target)


def withdraw(directory: Path, session_id: str) -> None:
    """The session ends: tasks stop routing to it at once instead of after FRESH_S."""
    (directory / f"{session_id}.json").unlink(missing_ok=True)


def lookup(directory: Path, workspace: str, path: str | None, now: float) -> str | None:
    """The freshest live session on this machine with `path` open in `workspace` (with
    `workspace` open at all when `path` is None), or None."""
    sessions: dict[str, dict[str, Any]] = {}
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            entry = json.loads((directory / name).read_text())
            if workspace in entry["workspaces"]:
                sessions[name[:-5]] = {"open": entry["workspaces"][workspace], "seenAt": float(entry["seenAt"])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # withdrawn meanwhile, or not ours to read
    return freshest(sessions, path, now)
