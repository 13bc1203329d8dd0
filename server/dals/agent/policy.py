"""What needs the user's approval: every edit in review mode, and any command not allowed by
`commands.allow`. Pure functions; the policy holds whatever the model says.

A command runs without asking only if it is one simple command (no `;`, `&&`, `||`, `|`, `&`,
redirections, command substitution, newlines, subshells) whose words start with an allowed prefix
(word-wise: `pytest` allows `pytest -q tests/`, not `pytest-evil`). `*` in the list allows everything.
"""

from __future__ import annotations

import re
import shlex

# Test runners, linters, formatters, read-only git: what a coding agent runs all the time.

_CONTROL = re.compile(r"[;&|<>`\n\r()]|\$\(|\$\{[^}]*[`$(]")


def is_simple(command: str) -> bool:
    return not _CONTROL.search(command)


def command_allowed(command: str, allow: list[str] | None) -> bool:
    if allow is None or "*" in allow:
        return True
    command = command.strip()
    if not command or not is_simple(command):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if words and "=" in words[0]:  # `VAR=x cmd`: environment tricks always ask
        return False
    for prefix in allow:
        try:
            want = shlex.split(prefix)
        except ValueError:
            continue
        if want and words[: len(want)] == want:
            return True
    return False


def edit_needs_approval(mode: str) -> bool:
    return mode == "review"
