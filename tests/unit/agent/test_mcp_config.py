"""MCP configuration: parsing and merging its sources, `${VAR}` expansion, tool names and
`mcp.allow`, the stdio environment, and the hand-off that keeps env/headers values out of the spec."""

from __future__ import annotations

import json
import stat

import pytest

from dals.agent import mcp_handoff
from dals.agent.mcp_config import (
    McpConfigError,
    expand,
    merged_servers,
    parse_servers,
    split_tool_name,
    stdio_env,
    tool_allowed,
    tool_name,
)
from dals.agent.plan import parse_plan
from dals.lsp.config import Config

SECRET = "s3cr3t-value-never-quoted"


def test_parse_normalises_and_names_bad_servers_without_quoting_values():
    servers, problems = parse_servers(
        {
            "fs": {"command": "npx", "args": ["-y", "x"], "env": {"TOKEN": SECRET}},
            "docs": {"type": "http", "url": "https://docs.example/mcp", "headers": {"Authorization": SECRET}},
            "off": {"command": "x", "disabled": True},
            "bad env": {"command": "x"},
            "noenv": {"command": "x", "env": {"A": 1, "B": SECRET}},
            "nourl": {"type": "http", "url": "ftp://x"},
            "a__b": {"command": "x"},
        },
        "dals.mcpServers",
    )
    assert servers["fs"] == {
        "type": "stdio",
        "command": "npx",
        "args": ["-y", "x"],
        "env": {"TOKEN": SECRET},
        "cwd": None,
    }
    assert servers["docs"]["type"] == "http" and set(servers) == {"fs", "docs"}
    assert len(problems) == 4 and all("dals.mcpServers" in p for p in problems)
    assert any("'noenv'" in p and "'env' must be an object of strings" in p for p in problems)
    assert not any(SECRET in p for p in problems)


def test_sources_merge_first_wins_and_workspace_only_when_allowed(tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"mcpServers": {"a": {"command": "from-env"}, "b": {"command": "b"}}}))
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"b": {"command": "ws"}, "w": {"command": "w"}}}))
    setting, _ = parse_servers({"a": {"command": "from-setting"}}, "s")
    environ = {"DALS_MCP_CONFIG": str(env_file)}
    servers, problems = merged_servers(setting, tmp_path, False, environ)
    assert {n: c["command"] for n, c in servers.items()} == {"a": "from-setting", "b": "b"} and not problems
    servers, _ = merged_servers(setting, tmp_path, True, environ)
    assert {n: c["command"] for n, c in servers.items()} == {"a": "from-setting", "b": "b", "w": "w"}
    env_file.write_text("{nope")
    _, problems = merged_servers({}, None, False, environ)
    assert problems and "DALS_MCP_CONFIG" in problems[0] and "not valid JSON" in problems[0]


def test_expansion_and_the_stdio_environment():
    environ = {"TOKEN": SECRET, "PATH": "/bin", "HOME": "/h", "OPENAI_API_KEY": "sk-x", "DALS_STATE_DIR": "/s"}
    assert expand("Bearer ${TOKEN}", environ, "w") == f"Bearer {SECRET}"
    assert expand("${UNSET:-dflt}", environ, "w") == "dflt"
    with pytest.raises(McpConfigError) as e:
        expand("${UNSET}", environ, "MCP server 'x' env 'A'")
    assert "UNSET" in str(e.value) and "'x'" in str(e.value)
    env = stdio_env({"env": {"A": "${TOKEN}"}}, environ, "x")
    assert env == {"PATH": "/bin", "HOME": "/h", "A": SECRET}


def test_tool_names_allow_globs_and_plans():
    assert tool_name("docs", "search") == "mcp__docs__search"
    assert split_tool_name("mcp__my-docs__get-sum") == ("my-docs", "get-sum")
    assert split_tool_name("read_file") is None
    assert tool_allowed("mcp__docs__search", ["mcp__docs__*"]) and not tool_allowed("mcp__fs__write", ["mcp__docs__*"])
    assert tool_allowed("mcp__fs__write", ["*"]) and not tool_allowed("mcp__fs__write", [])
    steps = parse_plan('x\n/mcp__every-thing__get-sum {"a": 1}\n/mcp__x__y')
    assert [(s.tool, s.args) for s in steps] == [("mcp__every-thing__get-sum", {"a": 1}), ("mcp__x__y", {})]


def test_handoff_keeps_values_out_of_the_spec(tmp_path):
    servers, _ = parse_servers({"fs": {"command": "x", "env": {"T": SECRET}}}, "s")
    field = mcp_handoff.spec_field(servers, [], ["mcp__fs__*"], 30, tmp_path / "mcp")
    assert SECRET not in json.dumps(field) and field["servers"] == ["fs"] and field["timeoutS"] == 30
    stored = tmp_path / "mcp" / f"{field['ref']}.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert mcp_handoff.spec_field(servers, [], [], 30, tmp_path / "mcp")["ref"] == field["ref"]  # content-addressed
    found, missing = mcp_handoff.resolve(field, tmp_path / "mcp", {})
    assert found == servers and not missing
    stored.write_text(stored.read_text().replace("x", "y"))  # not what the ref names: refused
    found, missing = mcp_handoff.resolve(field, tmp_path / "mcp", {})
    assert not found and "not on this worker" in missing["fs"]
    own = tmp_path / "own.json"  # a remote worker's own DALS_MCP_CONFIG
    own.write_text(json.dumps({"mcpServers": {"fs": {"command": "own"}}}))
    found, _ = mcp_handoff.resolve(field, tmp_path / "mcp", {"DALS_MCP_CONFIG": str(own)})
    assert found["fs"]["command"] == "own"


def test_settings_refuse_mcp_from_workspace_files(tmp_path):
    (tmp_path / ".dals.toml").write_text(
        'mcpServers = {x = {command = "evil"}}\n[mcp]\nworkspaceServers = true\nallow = ["*"]\ntimeoutS = 5\n'
    )
    c = Config.for_workspace(tmp_path)
    assert c.mcp_servers == {} and c.mcp_workspace_servers is False and c.mcp_allow == [] and c.mcp_timeout_s == 5
    assert sum("not accepted from a workspace file" in p for p in c.problems) == 3
    c.merge(
        {
            "dals": {
                "mcpServers": {"ok": {"command": "x"}, "bad": 3},
                "mcp": {"allow": ["mcp__ok__*"], "workspaceServers": True},
            }
        }
    )
    assert set(c.mcp_servers) == {"ok"} and c.mcp_allow == ["mcp__ok__*"] and c.mcp_workspace_servers
    assert c.mcp_problems and "'bad'" in c.mcp_problems[0]
