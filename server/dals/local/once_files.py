"""A file in the state dir that the first process to need it writes, and every other one reads."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def first_written(path: Path, data: bytes, mode: int = 0o644) -> bytes:
    """The content of `path`, written with `data` (and `mode`) if it did not exist: writers race
    through a hard link, the first one wins and everyone reads what it wrote."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()
