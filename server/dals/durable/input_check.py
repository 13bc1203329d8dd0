"""The worker's check of the inputs that act on a task: each must be signed by one of the user's
client keys for that very use (dals.trust). Loaded once per worker process, at start, so that a
misconfigured key stops the worker with a clear message instead of refusing every task later."""

from __future__ import annotations

from typing import Any

import restate

from ..config.settings import state_dir
from ..trust.client_keys import trusted_keys
from ..trust.signed_input import Refused, verify

log = restate.getLogger("dals.trust")
_trusted = None


def load() -> None:
    global _trusted
    _trusted = trusted_keys(state_dir())


def check(envelope: Any, purpose: str, target: str) -> Any:
    """The body of `envelope` if the user signed it for `purpose` on `target`; `Refused` otherwise
    (a line in the worker's log says so)."""
    if _trusted is None:
        load()
    try:
        return verify(envelope, _trusted, purpose, target)
    except Refused as e:
        log.warning("refused %s on %s: %s", purpose, target, e)
        raise


__all__ = ["Refused", "check", "load"]
