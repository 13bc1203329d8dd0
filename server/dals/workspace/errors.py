"""Errors of the workspace layer.

A `WorkspaceError` is a tool error: its message is shown to the model as is,
so it must be short, actionable English that names the path involved.
"""


class WorkspaceError(Exception):
    """A tool call was refused or failed; the message tells the model why."""


class ConflictError(WorkspaceError):
    """A hash guard failed: the file is not what the agent last saw."""
