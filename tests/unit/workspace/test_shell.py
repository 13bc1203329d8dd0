"""run_command: carried cwd and env, confinement, timeout, caps, secrets."""

import asyncio
import os
import time

import pytest

from dals.workspace.errors import WorkspaceError
from dals.workspace.shell import CommandResult, ShellState, run_command, scrubbed_env


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def root(tmp_path):
    ws = tmp_path / "ws"
    (ws / "sub" / "inner").mkdir(parents=True)
    return ws


async def test_cd_carries_over_to_the_next_call(root):
    first = await run_command(root, "cd sub && echo moved", ShellState())
    assert (first.exit_code, first.cwd, first.stdout) == (0, "sub", "moved\n")
    second = await run_command(root, "pwd", ShellState(cwd=first.cwd, env=first.env))
    assert second.stdout == f"{root.resolve()}/sub\n"
    third = await run_command(root, "pwd", ShellState(cwd="sub"), cwd="inner")
    assert third.stdout == f"{root.resolve()}/sub/inner\n" and third.cwd == "sub/inner"


async def test_export_carries_over_and_unset_drops_it(root):
    first = await run_command(root, "export FOO=bar; BAR=local", ShellState())
    assert first.env == {"FOO": "bar"}
    second = await run_command(root, 'echo "$FOO"', ShellState(env=first.env))
    assert second.stdout == "bar\n" and second.env == {"FOO": "bar"}
    third = await run_command(root, "unset FOO", ShellState(env=first.env))
    assert third.env == {}


async def test_exit_keeps_state_and_code(root):
    result = await run_command(root, "cd sub; export X=1; exit 3", ShellState())
    assert (result.exit_code, result.cwd, result.env) == (3, "sub", {"X": "1"})
    text = result.to_model_text()
    assert "exit code: 3" in text and "cwd: sub" in text


async def test_cd_outside_the_workspace_resets_to_root(root):
    result = await run_command(root, "cd /", ShellState(cwd="sub"))
    assert result.cwd == "."
    assert "left the workspace" in result.stderr
    result = await run_command(root, "cd ../..", ShellState(cwd="sub"))
    assert result.cwd == "."


@pytest.mark.parametrize("cwd", ["../..", "/tmp", "../../.."])
async def test_cwd_argument_is_confined(root, cwd):
    with pytest.raises(WorkspaceError):
        await run_command(root, "touch escaped", ShellState(cwd="sub"), cwd=cwd)
    assert not (root.parent / "escaped").exists()


async def test_missing_cwd_is_refused(root):
    with pytest.raises(WorkspaceError, match="not a directory"):
        await run_command(root, "true", ShellState(), cwd="nowhere")


async def test_timeout_kills_the_whole_tree_quickly(root):
    started = time.monotonic()
    result = await run_command(
        root, "echo before; (sleep 30) & echo $! > bg.pid; sleep 30", ShellState(), timeout_s=0.5
    )
    assert time.monotonic() - started < 5
    assert result.timed_out and result.exit_code == 124
    assert result.stdout == "before\n"
    assert "timed out" in result.to_model_text()
    assert not alive(int((root / "bg.pid").read_text()))


async def test_background_jobs_die_when_the_command_ends(root):
    result = await run_command(root, "sleep 30 & echo $! > bg.pid", ShellState())
    assert result.exit_code == 0 and not result.timed_out
    assert not alive(int((root / "bg.pid").read_text()))


async def test_cancellation_kills_the_tree(root):
    task = asyncio.create_task(run_command(root, "echo $$ > sh.pid; sleep 30", ShellState()))
    for _ in range(200):
        if (root / "sh.pid").exists() and (root / "sh.pid").read_text():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alive(int((root / "sh.pid").read_text()))


async def test_output_is_capped_head_and_tail(root):
    result = await run_command(
        root, "printf 'HEAD'; head -c 100000 /dev/zero | tr '\\0' a; printf 'TAIL'", ShellState(), max_output=1000
    )
    assert result.truncated
    assert result.stdout.startswith("HEAD") and result.stdout.endswith("TAIL")
    assert "[… 99008 bytes cut …]" in result.stdout
    assert len(result.stdout) < 1100


async def test_stdin_is_empty(root):
    result = await run_command(root, "cat; echo end", ShellState(), timeout_s=5)
    assert result.stdout == "end\n" and not result.timed_out


async def test_secrets_are_scrubbed(root):
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(root),
        "NORMAL": "ok",
        "FAKE_API_KEY": "sk-fake-123456",
        "GitHub_Token": "ghp-fake-123456",
        "DALS_STATE": "x",
        "RESTATE_URL": "y",
        "DB_PASSWORD": "hunter22",
    }
    result = await run_command(root, "env", ShellState(), base_env=base)
    assert "NORMAL=ok" in result.stdout
    for leaked in ("FAKE_API_KEY", "sk-fake", "ghp-fake", "DALS_STATE", "RESTATE_URL", "hunter22", "GitHub_Token"):
        assert leaked not in result.stdout
    echoed = await run_command(
        root, "echo sk-fake-123456; export MY_SECRET=s; export OK=1", ShellState(), base_env=base
    )
    assert echoed.stdout == "[redacted]\n"
    assert echoed.env == {"OK": "1"}


def test_scrubbed_env_rules():
    env = {
        "PATH": "/bin",
        "aws_secret_access_key": "x",
        "API_TOKEN": "t",
        "MY_CREDENTIALS": "c",
        "DALS_HOME": "d",
        "RESTATE_X": "r",
        "LANG": "C",
    }
    assert scrubbed_env(env) == {"PATH": "/bin", "LANG": "C"}


def test_model_text_mentions_truncation_and_empty_output():
    result = CommandResult(0, "", "", ".", {}, False, True, 0.1)
    text = result.to_model_text()
    assert "(no output)" in text and "cut" in text
