"""A task's statuses, as its summary carries them: the one definition the worker and the
clients (`dals lsp`, the CLI, retention) share."""

from __future__ import annotations

STATUSES = ("queued", "running", "waiting", "retrying", "paused", "succeeded", "failed", "cancelled")
TERMINAL = ("succeeded", "failed", "cancelled")  # a turn that ended, however it ended
