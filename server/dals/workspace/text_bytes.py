"""How the workspace tells text from binary and names file contents.

Shared by the file tools and the search: a file is text when its first 8 KiB
hold no NUL byte and the whole of it decodes as UTF-8. Contents are named by
`content_hash`, the token the hash guards of `write_file`/`edit_file` compare.
"""

import hashlib

SNIFF_BYTES = 8192


def content_hash(data: bytes) -> str:
    """The hash guard token of `data`: "sha256:" + hex digest."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str | None:
    """`data` as text, or None when it looks binary (NUL byte, not UTF-8)."""
    if b"\x00" in data[:SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
