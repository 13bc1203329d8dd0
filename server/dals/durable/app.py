"""The worker's ASGI app: the Restate endpoint hosting the durable task objects."""
from __future__ import annotations

import restate

from . import serde_cache
from .task_notes import task_notes
from .task_object import agent_task, task_ledger

serde_cache.install()

app = restate.app([agent_task, task_ledger, task_notes])
