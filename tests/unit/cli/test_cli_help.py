"""`dals --help`: the commands a user runs, each with a real help line; internal ones unlisted."""

from __future__ import annotations

import pytest

from dals.cli.main import parser


def test_help_lists_user_commands_and_hides_supervise(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "SUPPRESS" not in out
    assert "supervise" not in out
    assert "worker    run one worker alone" in out
    assert "usage: dals [-h] COMMAND ..." in out


def test_hidden_supervise_still_parses_and_worker_documents_its_options(capsys):
    assert parser().parse_args(["supervise"]).cmd == "supervise"
    with pytest.raises(SystemExit):
        parser().parse_args(["worker", "--help"])
    out = capsys.readouterr().out
    assert "SUPPRESS" not in out and "--port PORT" in out and "--shared" in out
