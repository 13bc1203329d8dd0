"""A cancel's mark in the state dir, for a task attempt that cannot hear the cancel from Restate.

Restate tells a running attempt of a cancel over the attempt's stream. Once Restate has closed that
stream (its inactivity timeout: at once under `DALS_FORCE_REPLAY`, after 15 minutes otherwise),
the attempt hears nothing until the step in flight ends, which for a command that waits may be
never. So `dals.cancelTask`, once Restate has the cancel, also leaves a mark named for the
invocation in the state dir (workers on this machine only), and a step that has run for a while
looks for it (a `stat` every quarter of a second) and stops as the signal would stop it
(`durable/eager_steps.py`): its failure is journaled, after the signal, so replays agree.
"""

from __future__ import annotations

import re
from pathlib import Path

DIR = "cancels"
_ID = re.compile(r"^inv_[A-Za-z0-9]{1,100}$")


def _path(state: Path, invocation_id: str) -> Path | None:
    return state / DIR / invocation_id if _ID.match(invocation_id or "") else None


def mark(state: Path, invocation_id: str) -> None:
    """Leave the mark (only in a state dir that exists: one a runtime has used)."""
    path = _path(state, invocation_id)
    if path is not None and state.is_dir():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch()


def marked(state: Path, invocation_id: str) -> bool:
    path = _path(state, invocation_id)
    return path is not None and path.exists()


def clear(state: Path, invocation_id: str) -> None:
    path = _path(state, invocation_id)
    if path is not None:
        path.unlink(missing_ok=True)
