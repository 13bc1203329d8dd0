"""`dals undo TASK` and `dals rewind TASK SEQ` in a terminal: what will be reverted first (or only,
with `--dry-run`), then the outcome, as the editors' commands show it (client/checkpoints.py)."""

from __future__ import annotations

import sys

from ..client.checkpoints import UnknownSeq, rewind, undo
from ..client.restate_api import RestateUnavailable
from ..client.tasks import UnknownTask, WrongState
from ..runtime import control
from .follow import task_service


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _show(got: dict) -> None:
    if got.get("dryRun"):
        _out("would revert (each only if unchanged since the task): " + (", ".join(got["revert"]) or "nothing"))
    else:
        _out("reverted: " + (", ".join(got["reverted"]) or "nothing"))
        for s in got["skipped"]:
            _out(f"skipped {s['path']}: {s['reason']}")
    for c in got.get("commands") or []:
        _out(f"not undone (a command's effects): {c}")


async def checkpoint_command(what: str, task_id: str, seq: int | None, dry_run: bool) -> int:
    """`what`: "undo" or "rewind"."""
    try:
        async with task_service() as service:
            if what == "undo":
                got = await undo(service, task_id, dry_run)
            else:
                got = await rewind(service, task_id, seq, dry_run)
    except UnknownTask:
        _err(f"dals {what}: unknown task {task_id!r} (see `dals tasks`)")
        return 2
    except (UnknownSeq, WrongState) as e:
        _err(f"dals {what}: {e}")
        return 2
    except (control.RuntimeError_, RestateUnavailable) as e:
        _err(f"dals {what}: DALS runtime unavailable: {e}")
        return 1
    _show(got)
    if what == "rewind" and not dry_run:
        _out(f"task {task_id} is back at event {seq}: continue with `dals run --continue {task_id} PROMPT`")
    return 0
