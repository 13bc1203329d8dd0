"""The `dals` command line: the parser and each command's terminal front end (`main.py`), the
task commands (`terminal.py`, `follow.py`, `checkpoints.py`), `dals doctor`, and the demo."""

from .main import main

__all__ = ["main"]
