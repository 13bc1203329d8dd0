"""Redaction of secret values in what a command returns, exported variables included (fast, no runtime)."""

from __future__ import annotations

from dals.workspace.shell import ShellState, run_command

SECRET = "sk-test-SECRET-redaction-0123456789"


async def test_exported_variables_carry_no_secret_into_the_shell_state(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": SECRET}
    result = await run_command(
        tmp_path, f'export COPY="x{SECRET}y"; echo "$COPY" >&2; echo ok', ShellState(), base_env=env
    )
    assert result.exit_code == 0 and result.stdout == "ok\n"
    assert result.env["COPY"] == "x[redacted]y"
    assert SECRET not in result.stderr and "[redacted]" in result.stderr
    again = await run_command(tmp_path, 'echo "$COPY"', ShellState(env=result.env), base_env=env)
    assert again.stdout == "x[redacted]y\n"
