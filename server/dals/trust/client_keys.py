"""The user's client key: an ed25519 key pair that only the user's clients hold.

Clients (`dals lsp`, `dals run`, `dals acp`, the CLI) sign every input that acts on a task with the
private key; workers accept inputs signed by one of the public keys they trust.

- Private key: `DALS_CLIENT_KEY_FILE`, else `<state dir>/client-key.pem`, made on first use (0600).
- Trusted public keys (workers): `DALS_CLIENT_PUBLIC_KEYS` (comma-separated `dalsclientv1_…`,
  several for rotation), else the public half of the private key above.
On one machine with one state dir both sides agree without configuration; a cluster's workers and
clients are configured explicitly (docs/security.md).
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..config import env_vars

KEY_FILE_VAR = "DALS_CLIENT_KEY_FILE"
PUBLIC_KEYS_VAR = "DALS_CLIENT_PUBLIC_KEYS"
KEY_FILE = "client-key.pem"
PREFIX = "dalsclientv1_"


class KeyProblem(RuntimeError):
    """A configured key cannot be used; the message says which and how to fix it."""


def key_file(state: Path) -> Path:
    explicit = env_vars.raw(KEY_FILE_VAR)
    return Path(explicit).expanduser() if explicit else state / KEY_FILE


def ensure_private_key(path: Path) -> Ed25519PrivateKey:
    """The private key in `path`, made (0600, atomically) if the file does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, path)  # never replaces a key another process made meanwhile
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise KeyProblem(f"cannot read the client key {path}: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{path} is not an ed25519 private key")
    return key


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_public(text: str) -> Ed25519PublicKey:
    text = text.strip()
    if not text.startswith(PREFIX):
        raise KeyProblem(f"{PUBLIC_KEYS_VAR}: {text[:20]!r}… is not a {PREFIX}… key")
    b64 = text[len(PREFIX) :]
    try:
        return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)))
    except ValueError as e:
        raise KeyProblem(f"{PUBLIC_KEYS_VAR}: {text[:20]!r}… is not a valid key: {e}") from e


@lru_cache(maxsize=4)
def signing_key(state: Path) -> Ed25519PrivateKey:
    """The private key this process's clients sign with (one read per process)."""
    return ensure_private_key(key_file(state))


def trusted_keys(state: Path) -> dict[str, Ed25519PublicKey]:
    """The public keys a worker accepts, by their text form."""
    listed = [k for k in env_vars.raw(PUBLIC_KEYS_VAR).split(",") if k.strip()]
    keys = [parse_public(k) for k in listed] or [signing_key(state).public_key()]
    return {public_text(k): k for k in keys}
