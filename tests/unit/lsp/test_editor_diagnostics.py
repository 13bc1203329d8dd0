"""What the editor's `dals/diagnostics` answer becomes for the task (the client side is e2e)."""

from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

from dals.lsp import editor_diagnostics as ed


def test_items_become_sorted_workspace_files_and_outside_ones_are_counted(tmp_path: Path):
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    answer = {
        "items": [
            {
                "uri": (ws / "src" / "b.py").as_uri(),
                "diagnostics": [
                    {
                        "range": {"start": {"line": 9, "character": 0}, "end": {"line": 9, "character": 3}},
                        "severity": 2,
                        "source": "ruff",
                        "code": "F401",
                        "message": "unused import\n",
                    },
                    {
                        "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 5}},
                        "message": "no severity",
                    },
                ],
            },
            {"uri": (ws / "a b.py").as_uri(), "diagnostics": []},
            {"uri": (tmp_path / "elsewhere.py").as_uri(), "diagnostics": [{"message": "x"}]},
            {"uri": 3},
            "junk",
        ]
    }
    got = ed.to_files(answer, ws)
    assert got["outside"] == 1
    assert got["files"] == [
        {"path": "a b.py", "diagnostics": []},
        {
            "path": "src/b.py",
            "diagnostics": [
                {"line": 1, "column": 5, "severity": "error", "source": "", "code": "", "message": "no severity"},
                {
                    "line": 10,
                    "column": 1,
                    "severity": "warning",
                    "source": "ruff",
                    "code": "F401",
                    "message": "unused import",
                },
            ],
        },
    ]


def test_only_clients_that_advertise_it_are_asked():
    Exp = namedtuple("Exp", ["dals"])
    assert ed.advertised(
        SimpleNamespace(client_capabilities=SimpleNamespace(experimental={"dals": {"diagnostics": True}}))
    )
    assert ed.advertised(SimpleNamespace(client_capabilities=SimpleNamespace(experimental=Exp({"diagnostics": True}))))
    assert not ed.advertised(SimpleNamespace(client_capabilities=SimpleNamespace(experimental=None)))
    assert not ed.advertised(SimpleNamespace(client_capabilities=None))
