"""The worker's check of the inputs that act on a task: each must be signed by one of the user's
client keys for that very use (dals.trust). Loaded once per worker process, at start, so that a
misconfigured key stops the worker with a clear message instead of refusing every task later."""

from __future__ import annotations

from typing import Any

import restate
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..config.settings import state_dir
from ..trust.client_keys import trusted_keys
from ..trust.signed_input import Refused, verify

log = restate.getLogger("dals.trust")
_trusted: dict[str, Ed25519PublicKey] | None = None


def load() -> dict[str, Ed25519PublicKey]:
    """Read the trusted client keys (keeping them for `check`)."""
    global _trusted
    _trusted = trusted_keys(state_dir())
    return _trusted


def check(envelope: Any, purpose: str, target: str) -> Any:
    """The body of `envelope` if the user signed it for `purpose` on `target`; `Refused` otherwise
    (a line in the worker's log says so)."""
    trusted = load() if _trusted is None else _trusted
    try:
        return verify(envelope, trusted, purpose, target)
    except Refused as e:
        log.warning("refused %s on %s: %s", purpose, target, e)
        raise


__all__ = ["Refused", "check", "load"]
