"""The worker's ASGI app: the Restate endpoint hosting the durable task objects."""

from __future__ import annotations

import restate

from ..config import env_vars
from . import input_check, restate_compat, task_checkpoints, task_retention, task_turns  # noqa: F401  (register handlers on the objects above)
from .editor_sessions import editor_sessions
from .task_feed import task_feed
from .task_inbox import task_inbox
from .task_notes import task_notes
from .task_object import agent_task, task_ledger

restate_compat.install_serde_cache()
input_check.load()  # a client key that cannot be used stops the worker here, with its reason

# Public keys of the Restate server(s) allowed to call us (set by the supervisor for the embedded
# runtime); unset = unsigned requests accepted (an external Restate without signing).
identity_keys = [k.strip() for k in env_vars.raw("DALS_IDENTITY_KEYS").split(",") if k.strip()]

app = restate.app(
    [agent_task, task_ledger, task_notes, editor_sessions, task_feed, task_inbox], identity_keys=identity_keys or None
)
