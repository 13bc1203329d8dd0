"""The agent's editor tools in a real headless Neovim (editor-clients/neovim/tests/agent_tools_test.lua):
a diagnostic set with `vim.diagnostic.set` reaches the model (the OpenAI double records what the
model received), and `multi_edit` of the open file is applied to the buffer, not the disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_neovim_client import DALS, PLUGIN, _clean_env, nvim, workspace  # noqa: F401 - fixtures
from tests.support.openai_double import conversation_key

SCRIPT = PLUGIN / "tests" / "agent_tools_test.lua"
NVIM_TIMEOUT = 240
PROMPT = "\n".join(
    [
        "Rename greet and check the file",
        '/multi_edit {"path": "app.py", "edits": [{"old": "greet", "new": "welcome"}, {"old": "\'hello\'", "new": "\'hi\'"}]}',
        '/diagnostics {"path": "app.py"}',
        "/diagnostics {}",
    ]
)


@pytest.mark.timeout(NVIM_TIMEOUT + 120)
def test_neovim_diagnostics_reach_the_model(nvim: str, workspace: Path, tmp_path: Path, model_double):  # noqa: F811
    state = tmp_path / "state"
    result_file = tmp_path / "result.json"
    env = _clean_env(tmp_path)
    env.update(
        {
            "DALS_STATE_DIR": str(state),
            "OPENAI_BASE_URL": model_double.base_url,
            "OPENAI_API_KEY": "test-key",
            "DALS_TEST_PLUGIN": str(PLUGIN),
            "DALS_TEST_WORKSPACE": str(workspace),
            "DALS_TEST_RESULT": str(result_file),
            "DALS_TEST_MODEL": "openai-chat:double",
            "DALS_TEST_PROMPT": PROMPT,
        }
    )
    proc = subprocess.Popen(
        [nvim, "--headless", "--clean", "-u", str(SCRIPT)],
        env=env,
        cwd=workspace,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=NVIM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"nvim did not finish in {NVIM_TIMEOUT}s:\n{output.decode(errors='replace')[-4000:]}")
    finally:
        subprocess.run(
            [str(DALS), "down"],
            env=dict(os.environ, DALS_STATE_DIR=str(state)),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result_file.exists(), f"no result; nvim exited {proc.returncode}:\n{output.decode(errors='replace')[-4000:]}"
    result = json.loads(result_file.read_text())
    assert result["failures"] == [], json.dumps(result, indent=1)[-6000:]

    last = [q for q in model_double.requests if q["key"] == conversation_key(PROMPT)][-1]
    edited, one, every = [m["content"] for m in last["messages"] if m.get("role") == "tool"]
    assert edited.startswith("edited app.py in the user's editor"), edited
    expected = 'app.py:2:12: error [pyright reportReturnType] Type "str" is not assignable to return type "int"'
    assert one == expected and every == expected, (one, every)
    diag = [e for e in result["events"] if e["title"] == "diagnostics app.py"]
    assert diag and diag[0]["detail"]["via"] == "editor" and diag[0]["detail"]["count"] == 1, result["events"]
