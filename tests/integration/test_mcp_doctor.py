"""`dals doctor` starts every MCP server it can see and reports its tool count or its error."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support.mcp_servers import npm_server
from tests.support.runtime import DALS

SECRET = "mcp-doctor-secret-never-printed-42"


def test_doctor_lists_starts_and_reports_mcp_servers(tmp_path):
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "fs": {
                        "command": npm_server("mcp-server-filesystem"),
                        "args": [str(tmp_path)],
                        "env": {"TOKEN": "${DOCTOR_SECRET}"},
                    },
                    "missing": {"command": "/nonexistent/mcp-server"},
                    "unset": {"command": "true", "env": {"A": "${DALS_TEST_UNSET_VAR}"}},
                }
            }
        )
    )
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"ws": {"command": "true"}}}))
    env = dict(
        os.environ,
        DALS_STATE_DIR=str(tmp_path / "state"),
        DALS_MCP_CONFIG=str(config),
        DALS_MODEL="offline",
        DOCTOR_SECRET=SECRET,
    )
    env.pop("DALS_TEST_UNSET_VAR", None)
    run = subprocess.run([DALS, "doctor", "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    checks = {c["message"].split(" ")[2]: c for c in json.loads(run.stdout)["checks"] if c["name"] == "mcp"}
    assert checks["'fs'"]["level"] == "ok" and "14 tools" in checks["'fs'"]["message"], checks
    assert checks["'missing'"]["level"] == "warn" and "not found" in checks["'missing'"]["message"]
    assert "DALS_TEST_UNSET_VAR is not set" in checks["'unset'"]["message"]
    assert "'ws'" not in checks  # the workspace's .mcp.json is not read unless the user allows it
    assert SECRET not in run.stdout + run.stderr
