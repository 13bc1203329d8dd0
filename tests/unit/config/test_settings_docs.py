"""The declared settings (env_vars.VARS, the LSP Config keys) and docs/configuration.md agree, every
`DALS_*` name in the server is declared, and the one rule for on/off and bad values holds."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from dals.config import env_vars
from dals.lsp.config import KEYS

REPO = Path(__file__).resolve().parents[3]
DOC = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
SERVER = REPO / "server" / "dals"


def test_every_user_variable_is_documented_and_every_documented_one_declared():
    documented = set(re.findall(r"`(DALS_[A-Z0-9_]+)`", DOC))
    users = {v.name for v in env_vars.VARS if not v.internal}
    internal = {v.name for v in env_vars.VARS if v.internal}
    assert users - documented == set(), "declared in env_vars.py but missing from docs/configuration.md"
    assert documented - users - internal == set(), "in docs/configuration.md but not declared in env_vars.py"
    assert all(v.doc and v.kind for v in env_vars.VARS)


def test_every_lsp_setting_is_documented():
    missing = [k for k in KEYS if f"`{k}`" not in DOC]
    assert missing == [], f"LSP settings missing from docs/configuration.md: {missing}"


def test_the_server_names_only_declared_variables_and_reads_them_through_env_vars():
    named: set[str] = set()
    ad_hoc: list[str] = []
    for path in SERVER.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"[\"'](DALS_[A-Z0-9_]+)[\"']", text))
        if path.name != "env_vars.py":
            ad_hoc += [f"{path.relative_to(SERVER)}: {m}" for m in re.findall(r"environ\.get\([\"']DALS_\w+", text)]
    named -= {"DALS_PLACEHOLDER"}  # an attribute name (runtime/worker_main.py), not a variable
    assert named - set(env_vars.BY_NAME) == set(), "DALS_* names used in server/ but not declared"
    assert ad_hoc == [], "read DALS_* variables through dals.config.env_vars"


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                                 ("0", False), ("false", False), ("No", False), ("off", False)])
def test_one_rule_for_on_and_off(value, expected):
    assert env_vars.parse_flag("DALS_EAGER_STEPS", {"DALS_EAGER_STEPS": value}) == (expected, None)


def test_unset_is_the_default_and_a_bad_value_is_said_with_the_default(capsys):
    assert env_vars.parse_flag("DALS_EAGER_STEPS", {}) == (True, None)
    assert env_vars.parse_flag("DALS_FORCE_REPLAY", {"DALS_FORCE_REPLAY": ""}) == (False, None)
    assert env_vars.flag("DALS_EAGER_STEPS", {"DALS_EAGER_STEPS": "maybe"}) is True
    assert "dals: DALS_EAGER_STEPS='maybe' is neither on" in capsys.readouterr().err
    assert env_vars.number("DALS_MODEL_TIMEOUT_S", {"DALS_MODEL_TIMEOUT_S": "soon"}, minimum=0) == 600.0
    assert "DALS_MODEL_TIMEOUT_S='soon' is not a number >= 0; using 600" in capsys.readouterr().err
    assert env_vars.whole("DALS_TASK_MAX_ATTEMPTS", {"DALS_TASK_MAX_ATTEMPTS": "3"}) == 3
    assert env_vars.whole("DALS_TASK_MAX_ATTEMPTS", {"DALS_TASK_MAX_ATTEMPTS": "2.5"}) == 12
    with pytest.raises(KeyError):
        env_vars.raw("DALS_NOT_DECLARED")


def test_a_bad_mcp_workspace_servers_value_is_a_config_problem(monkeypatch):
    from dals.lsp.config import Config

    monkeypatch.setenv("DALS_MCP_WORKSPACE_SERVERS", "sure")
    cfg = Config.from_env()
    assert cfg.mcp_workspace_servers is False
    assert any("DALS_MCP_WORKSPACE_SERVERS='sure'" in p for p in cfg.problems)
    monkeypatch.setenv("DALS_MCP_WORKSPACE_SERVERS", "on")
    assert Config.from_env().mcp_workspace_servers is True
