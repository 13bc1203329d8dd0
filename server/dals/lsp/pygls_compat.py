"""The one place DALS reaches into pygls's internals: documents split into lines as LSP does.

pygls 2.1's `TextDocument.lines` is `str.splitlines()`, which also ends a line at \\x0b, \\x0c,
\\x1c-\\x1e, U+0085, U+2028 and U+2029. LSP ends lines at \\r\\n, \\n and \\r only, and so do
editors: an incremental didChange on a document holding a form feed (common in C, Python and
Emacs Lisp sources) was applied on the wrong line, and DALS's copy of the buffer no longer matched
the editor's. `install` makes the workspace's documents split lines as LSP does; everything else
(the position codec, the change logic) stays pygls's own.

Written for pygls 2.1 (`Workspace._create_text_document`, `TextDocument.lines`); on another
version it changes nothing and logs why. tests/unit/lsp/test_pygls_compat.py fails when pygls's
behaviour changes (then drop or adapt this module).
"""
from __future__ import annotations

import importlib.metadata
import logging

from pygls.workspace import TextDocument, Workspace

from .positions import lsp_lines

log = logging.getLogger("dals.lsp.pygls_compat")
WRITTEN_FOR = "2.1."


class LspLinesTextDocument(TextDocument):
    """A pygls document whose lines end where LSP's do."""

    @property
    def lines(self):
        lines = lsp_lines(self.source)
        if lines[-1] == "":  # pygls has no empty last line after a final line break
            lines.pop()
        return tuple(lines)


def supported() -> bool:
    return importlib.metadata.version("pygls").startswith(WRITTEN_FOR)


def install(workspace: Workspace) -> bool:
    """Make the documents `workspace` creates from now on split lines as LSP does."""
    if not supported() or not callable(getattr(workspace, "_create_text_document", None)):
        log.warning("pygls %s is not the %sx this was written for: documents keep pygls's own line "
                    "splitting (form feeds, U+2028 and the like count as line breaks)",
                    importlib.metadata.version("pygls"), WRITTEN_FOR)
        return False
    create = workspace._create_text_document

    def create_lsp_lines(*args, **kwargs) -> TextDocument:
        document = create(*args, **kwargs)
        document.__class__ = LspLinesTextDocument
        return document

    workspace._create_text_document = create_lsp_lines
    return True
