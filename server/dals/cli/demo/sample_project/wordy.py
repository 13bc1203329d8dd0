"""Tiny text helpers: the sample project that `dals demo` lets an agent fix."""


def word_count(text: str) -> int:
    """The number of words in `text`."""
    return len(text.split(" "))


def shout(text: str) -> str:
    """`text` in capitals, with an exclamation mark."""
    return text.upper() + "!"


def initials(name: str) -> str:
    """The initials of a full name: "Ada Lovelace" -> "AL"."""
    return "".join(part[0] for part in name.split()).upper()
