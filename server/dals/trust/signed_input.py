"""Signed inputs: what a client sends to act on a task, and the worker's check of it.

An input is `{"signed": PAYLOAD, "sig": …, "key": …}`: PAYLOAD is a JSON text
`{"v": 1, "purpose", "target", "body", "nonce", "at"}` and `sig` an ed25519 signature of its bytes.
The signature is checked over the exact text received, so nothing has to be re-serialised alike on
both sides. `purpose` and `target` bind it to one use (starting task T, answering request R of task
T, …): a copy sent elsewhere is refused. The check is a pure function of the input and the trusted
keys, so a replayed handler decides the same way.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .client_keys import public_text

VERSION = 1


class Refused(ValueError):
    """The input is not signed by the user: unsigned, unknown key, bad signature, or meant for
    another purpose or target. The message says which (it names no secret)."""


def sign(key: Ed25519PrivateKey, purpose: str, target: str, body: Any) -> dict[str, str]:
    payload = json.dumps(
        {
            "v": VERSION,
            "purpose": purpose,
            "target": target,
            "body": body,
            "nonce": secrets.token_hex(8),
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    sig = key.sign(payload.encode("utf-8"))
    return {"signed": payload, "sig": base64.urlsafe_b64encode(sig).decode(), "key": public_text(key.public_key())}


def verify(envelope: Any, trusted: dict[str, Ed25519PublicKey], purpose: str, target: str) -> Any:
    """The body of a signed input for `purpose` on `target`; `Refused` otherwise."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("signed"), str):
        raise Refused("not signed (an input from outside the user's clients)")
    key = trusted.get(str(envelope.get("key")))
    if key is None:
        raise Refused("signed with a key this worker does not trust")
    try:
        key.verify(base64.urlsafe_b64decode(str(envelope.get("sig", ""))), envelope["signed"].encode("utf-8"))
    except (InvalidSignature, ValueError):
        raise Refused("bad signature") from None
    try:
        payload = json.loads(envelope["signed"])
    except ValueError:
        raise Refused("malformed signed payload") from None
    if payload.get("v") != VERSION or payload.get("purpose") != purpose or payload.get("target") != target:
        raise Refused(
            f"signed for {payload.get('purpose')!r} on {payload.get('target')!r}, "
            f"not {purpose!r} on {target!r} (replayed?)"
        )
    return payload.get("body")
