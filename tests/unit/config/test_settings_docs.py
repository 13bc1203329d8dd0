"""The declared settings (env_vars.VARS, the LSP Config keys) and docs/configuration.md agree, every
`DALS_*` name in the server is declared, and the one rule for on/off and bad values holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dals.config import env_vars
from dals.config.env_vars import SettingError
from dals.config.settings import Settings, current
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ],
)
def test_one_rule_for_on_and_off(value, expected):
    for name in ("DALS_EAGER_STEPS", "DALS_FORCE_REPLAY", "DALS_MCP_WORKSPACE_SERVERS"):
        assert env_vars.parse(name, {name: value}) is expected


def test_unset_is_the_default_and_a_bad_value_is_one_error_naming_what_is_accepted():
    assert env_vars.parse("DALS_EAGER_STEPS", {}) is True
    assert env_vars.parse("DALS_FORCE_REPLAY", {"DALS_FORCE_REPLAY": ""}) is False
    with pytest.raises(
        SettingError,
        match=r"DALS_EAGER_STEPS='maybe' is not on \(1, true, yes, on\) or off "
        r"\(0, false, no, off\); using 1",
    ):
        env_vars.parse("DALS_EAGER_STEPS", {"DALS_EAGER_STEPS": "maybe"})
    with pytest.raises(SettingError, match=r"DALS_MODEL_TIMEOUT_S='soon' is not a number >= 0; using 600"):
        env_vars.parse("DALS_MODEL_TIMEOUT_S", {"DALS_MODEL_TIMEOUT_S": "soon"})
    assert env_vars.parse("DALS_TASK_MAX_ATTEMPTS", {"DALS_TASK_MAX_ATTEMPTS": "3"}) == 3
    with pytest.raises(SettingError, match="not one of uvloop, asyncio"):
        env_vars.parse("DALS_WORKER_LOOP", {"DALS_WORKER_LOOP": "trio"})
    assert env_vars.parse("DALS_RETENTION_DAYS", {"DALS_RETENTION_DAYS": "Never"}) is None
    with pytest.raises(KeyError):
        env_vars.raw("DALS_NOT_DECLARED")


def test_the_settings_object_reads_everything_once_and_says_each_problem(monkeypatch, capsys):
    monkeypatch.setenv("DALS_TASK_MAX_ATTEMPTS", "2.5")
    monkeypatch.setenv("DALS_WORKER_LOOP", "AsyncIO")
    first = current()
    assert current() is first  # the same environment: not read again
    assert (first.task_max_attempts, first.worker_loop) == (12, "asyncio")
    assert [p.name for p in first.problems] == ["DALS_TASK_MAX_ATTEMPTS"]
    assert "dals: DALS_TASK_MAX_ATTEMPTS='2.5' is not a whole number; using 12" in capsys.readouterr().err
    monkeypatch.setenv("DALS_TASK_MAX_ATTEMPTS", "4")
    assert current() is not first and current().task_max_attempts == 4 and current().problems == ()
    loaded = Settings.load({"DALS_RESTATE_INGRESS_URL": "http://r:8080/"})
    assert loaded.external_restate is None and "set both" in str(loaded.half_external)


def test_a_bad_mcp_workspace_servers_value_is_a_config_problem(monkeypatch):
    from dals.lsp.config import Config

    monkeypatch.setenv("DALS_MCP_WORKSPACE_SERVERS", "sure")
    cfg = Config.from_env()
    assert cfg.mcp_workspace_servers is False
    assert any("DALS_MCP_WORKSPACE_SERVERS='sure'" in p for p in cfg.problems)
    monkeypatch.setenv("DALS_MCP_WORKSPACE_SERVERS", "on")
    assert Config.from_env().mcp_workspace_servers is True
