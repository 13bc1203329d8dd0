"""Request signing between the embedded Restate server and the worker.

One ed25519 key pair per state dir, made on first start: the private key (PEM, mode 0600) is
given to `restate-server` (`[worker.invoker] request-identity-private-key-pem-file`), which signs
every request it sends to the worker; the public key, in Restate's `publickeyv1_<base58>` form,
reaches the worker through `DALS_IDENTITY_KEYS`, and the worker refuses (401) any request not
signed by it. So a local process that finds the worker's port cannot run a task step by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ENV_VAR = "DALS_IDENTITY_KEYS"
KEY_FILE = "request-identity.pem"
_PREFIX = "publickeyv1_"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(data: bytes) -> str:
    """Bitcoin-alphabet base58 (what Restate uses for identity keys)."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def ensure_key(root: Path) -> Path:
    """The private key file of the state dir `root`, created (0600) if missing."""
    path = root / KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.replace(tmp, path)
    os.chmod(path, 0o600)
    return path


def public_key(key_file: Path) -> str:
    """`publickeyv1_` + base58 of the raw 32-byte public key of the PEM in `key_file`."""
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{key_file} is not an ed25519 private key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _PREFIX + base58(raw)


def worker_env(root: Path) -> dict[str, str]:
    """What the worker of the embedded runtime needs to check signatures: `DALS_IDENTITY_KEYS`."""
    return {ENV_VAR: public_key(ensure_key(root))}
