"""Provider keys never reach the journal, Restate state, the task events or the logs, whatever
the commands the model runs try: `env`, `echo $KEY`, reading the worker's environment from /proc,
exporting it into the shell state the journal carries. MCP servers' `env` and `headers` values,
inline or `${VAR}`-expanded from the worker's environment, stay out of the same places, and a
stdio MCP server does not see the worker's provider keys."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from dals.local.endpoints import sync_client
from tests.support.lsp_client import DalsClient
from tests.support.mcp_servers import counter, npm_server, plan as mcp_plan
from tests.support.runtime import Runtime

OPENAI_SECRET = f"sk-test-SECRET-{secrets.token_hex(12)}"
ANTHROPIC_SECRET = f"sk-ant-test-SECRET-{secrets.token_hex(12)}"
MCP_INLINE_SECRET = f"mcp-inline-SECRET-{secrets.token_hex(12)}"  # in the server's `env` setting
MCP_ENV_SECRET = f"mcp-env-SECRET-{secrets.token_hex(12)}"  # `${MCP_ENV_SECRET}`, from the worker's env
CANARY = f"VISIBLE-{secrets.token_hex(8)}"  # not secret: proves the searches below see outputs
# Every ancestor's environment, the worker's included (it holds the keys): what an injected
# command would try.
ANCESTORS_ENV = (
    'p=$$; while [ "$p" -gt 1 ]; do tr "\\0" "\\n" < /proc/$p/environ 2>/dev/null; '
    "p=$(awk '{print $4}' /proc/$p/stat); done"
)
COMMANDS = [
    "env",
    'echo "openai=$OPENAI_API_KEY anthropic=$ANTHROPIC_API_KEY"',
    ANCESTORS_ENV,
    f'export LEAK="$({ANCESTORS_ENV} | grep ^OPENAI_API_KEY=)"; echo "leak-length ${{#LEAK}}"',
    "echo still $LEAK",
    f"echo {CANARY}",
]
PLAN = "\n".join(["Look around the environment"] + [f"/run_command {json.dumps({'command': c})}" for c in COMMANDS])


@pytest.fixture(scope="module")
def secret_runtime(model_double):
    state = Path(tempfile.mkdtemp(prefix="dals-secrets-state-"))
    rt = Runtime(
        state,
        {
            "OPENAI_BASE_URL": model_double.base_url,
            "OPENAI_API_KEY": OPENAI_SECRET,
            "ANTHROPIC_API_KEY": ANTHROPIC_SECRET,
            "DALS_MODEL": "openai-chat:double",
            "MCP_ENV_SECRET": MCP_ENV_SECRET,
        },
    )
    rt.up()
    yield rt
    rt.down()
    shutil.rmtree(state, ignore_errors=True)


def _texts(value) -> list[str]:
    """`value` and every readable form of what it encodes: Restate's SQL shows payloads as hex
    strings (`raw`, `value`) or as JSON byte arrays inside `entry_json`."""
    out = []
    if isinstance(value, str):
        out.append(value)
        if value and len(value) % 2 == 0 and all(c in "0123456789abcdef" for c in value):
            out.append(bytes.fromhex(value).decode("utf-8", "replace"))
        elif value[:1] in "{[":
            try:
                out.extend(_texts(json.loads(value)))
            except ValueError:
                pass
    elif isinstance(value, list):
        if value and all(isinstance(b, int) and 0 <= b < 256 for b in value):
            out.append(bytes(value).decode("utf-8", "replace"))
        else:
            for v in value:
                out.extend(_texts(v))
    elif isinstance(value, dict):
        for v in value.values():
            out.extend(_texts(v))
    return out


def _sql(admin: str, query: str) -> str:
    with sync_client(admin, timeout=30) as http:
        r = http.post("/query", json={"query": query}, headers={"accept": "application/json"})
    assert r.status_code == 200, r.text[:300]
    rows = r.json()["rows"]
    assert rows, f"no rows for {query}"
    return "\n".join(_texts(rows))


async def test_secrets_never_enter_journal_state_events_or_logs(secret_runtime, model_double, tmp_path):
    client = DalsClient(secret_runtime.env, tmp_path)
    try:
        await client.start()
        started = await client.command("dals.startTask", {"prompt": PLAN, "model": "openai-chat:double"})
        task_id = started["taskId"]
        events = await client.wait_finished(task_id, timeout=120)
        assert events[-1]["status"] == "succeeded", events[-1]
        shown = await client.command("dals.showTask", {"taskId": task_id})
    finally:
        await client.stop()
    assert model_double.count() >= len(COMMANDS) + 1  # the provider double really answered

    shown_text = json.dumps(shown)
    # the attack worked as far as it could: it found the key (in the worker's and the supervisor's
    # environment), and only its redacted form is kept
    leaked = re.search(r"leak-length (\d+)", shown_text)
    assert leaked and int(leaked[1]) >= len("OPENAI_API_KEY=") + len(OPENAI_SECRET), leaked
    assert "OPENAI_API_KEY=[redacted]" in shown_text

    admin = secret_runtime.status()["restate"]["admin"]
    places = {
        "journal": _sql(admin, "SELECT * FROM sys_journal"),
        "state": _sql(admin, "SELECT * FROM state"),
        "events": shown_text,
    }
    for name in ("journal", "state", "events"):
        assert CANARY in places[name], f"{name}: the search does not see command output"
    logs = sorted(p for p in (secret_runtime.state_dir / "logs").rglob("*") if p.is_file())
    assert {"restate.log", "worker.log", "supervisor.log"} <= {p.name for p in logs}
    for p in logs:
        places[f"log {p.name}"] = p.read_text(errors="replace")

    for name, text in places.items():
        for secret in (OPENAI_SECRET, ANTHROPIC_SECRET):
            assert secret not in text, f"a provider key leaked into the {name}"
        assert "sk-test-SECRET" not in text and "sk-ant-test-SECRET" not in text, name


async def test_mcp_env_values_never_stored_and_provider_keys_not_passed(secret_runtime, model_double, tmp_path):
    count = tmp_path / "count.txt"
    servers = {
        "counter": counter(count, MCP_TEST_SECRET=MCP_INLINE_SECRET, FROM_WORKER="${MCP_ENV_SECRET}"),
        "everything": {
            "command": npm_server("mcp-server-everything"),
            "env": {"EVERYTHING_TOKEN": "${MCP_ENV_SECRET}"},
        },
    }
    prompt = mcp_plan(("mcp__counter__env_report", {}), ("mcp__counter__record", {"note": CANARY}))
    client = DalsClient(secret_runtime.env, tmp_path)
    try:
        await client.start({"dals": {"mcpServers": servers, "mcp": {"allow": ["*"]}}})
        task_id = (await client.command("dals.startTask", {"prompt": prompt, "model": "openai-chat:double"}))["taskId"]
        events = await client.wait_finished(task_id, timeout=120)
        assert events[-1]["status"] == "succeeded", events[-1]
        shown = await client.command("dals.showTask", {"taskId": task_id})
    finally:
        await client.stop()
    assert count.read_text().splitlines() == [CANARY]
    report = next(e for e in shown["events"] if e["title"] == "mcp__counter__env_report")["detail"]["result"]
    # the server got its inline value (proved by its hash) and the minimal base, no provider key
    assert hashlib.sha256(MCP_INLINE_SECRET.encode()).hexdigest() in report
    assert "FROM_WORKER" in report and "PATH" in report
    assert "OPENAI_API_KEY" not in report and "ANTHROPIC_API_KEY" not in report and "DALS_" not in report
    # the stored configuration the worker read is the user's alone
    stored = [p for p in (secret_runtime.state_dir / "mcp").glob("*.json")]
    assert stored and all(p.stat().st_mode & 0o077 == 0 for p in stored)

    admin = secret_runtime.status()["restate"]["admin"]
    places = {
        "journal": _sql(admin, "SELECT * FROM sys_journal"),
        "state": _sql(admin, "SELECT * FROM state"),
        "events": json.dumps(shown),
    }
    for name in ("journal", "state", "events"):
        assert CANARY in places[name], f"{name}: the search does not see MCP results"
    for p in sorted(p for p in (secret_runtime.state_dir / "logs").rglob("*") if p.is_file()):
        places[f"log {p.name}"] = p.read_text(errors="replace")
    for name, text in places.items():
        for secret in (MCP_INLINE_SECRET, MCP_ENV_SECRET, OPENAI_SECRET):
            assert secret not in text, f"an MCP env value leaked into the {name}"
