"""The version is written once (`dals.__version__`): the package metadata, `dals lsp`'s
serverInfo and the editor clients' manifests agree with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dals
from dals.lsp.server import VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_one_version_everywhere():
    assert re.fullmatch(r"\d+\.\d+\.\d+", dals.__version__)
    assert VERSION == dals.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'attr = "dals.__version__"' in pyproject
    assert not re.search(r'(?m)^version = "', pyproject)  # no second copy
    for manifest in ("editor-clients/vscode/package.json", "editor-clients/vscode-e2e/package.json"):
        assert json.loads((ROOT / manifest).read_text())["version"] == dals.__version__, manifest
    header = re.search(r"(?m)^;; Version: (\S+)$", (ROOT / "editor-clients/emacs/dals.el").read_text())
    assert header and header[1] == dals.__version__
