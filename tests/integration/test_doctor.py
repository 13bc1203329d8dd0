"""`dals doctor` as a user runs it: a subprocess with its own state dir, one line per check."""

from __future__ import annotations

import json
import os
import socket
import subprocess

from dals.runtime.layout import free_port
from tests.support.runtime import DALS

SECRET = "sk-doctor-never-print-this-0123456789"


def doctor(state_dir, workspace, text_too: bool = False, **env_changes) -> tuple[int, dict, str]:
    env = dict(os.environ, DALS_STATE_DIR=str(state_dir))
    for name in (
        "DALS_RESTATE_INGRESS_URL",
        "DALS_RESTATE_ADMIN_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "DALS_PRICES",
    ):
        env.pop(name, None)
    env.update(env_changes)
    js = subprocess.run([DALS, "doctor", "--json"], env=env, cwd=workspace, capture_output=True, text=True, timeout=120)
    if not text_too:
        return js.returncode, json.loads(js.stdout), ""
    text = subprocess.run([DALS, "doctor"], env=env, cwd=workspace, capture_output=True, text=True, timeout=120)
    assert js.returncode == text.returncode, (js.stderr, text.stderr)
    return js.returncode, json.loads(js.stdout), text.stdout


def levels(report: dict, name: str) -> list[tuple[str, str]]:
    return [(c["level"], c["message"] + " — " + (c["fix"] or "")) for c in report["checks"] if c["name"] == name]


def test_missing_key_is_a_failure_naming_the_variable_never_a_value(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    code, report, text = doctor(
        tmp_path / "state",
        tmp_path,
        True,
        DALS_MODEL="anthropic:claude-sonnet-4-5",
        ANTHROPIC_BASE_URL=dead,
        OPENAI_API_KEY=SECRET,
    )
    assert code == 1 and report["ok"] is False
    [(level, message)] = levels(report, "key")
    assert level == "FAIL" and "ANTHROPIC_API_KEY is not set" in message and "export ANTHROPIC_API_KEY" in message
    assert levels(report, "model")[0][0] == "ok"  # the model string itself is fine
    [(level, message)] = levels(report, "provider")
    assert level == "FAIL" and dead in message and "ANTHROPIC_BASE_URL" in message
    assert any(line.startswith("FAIL  key") and "ANTHROPIC_API_KEY" in line for line in text.splitlines())
    assert SECRET not in text and SECRET not in json.dumps(report)


def test_no_model_and_a_refused_model_string_fail(tmp_path):
    code, report, _ = doctor(tmp_path / "state", tmp_path, DALS_MODEL="")
    assert code == 1 and levels(report, "model")[0][0] == "FAIL" and "DALS_MODEL" in levels(report, "model")[0][1]
    code, report, _ = doctor(tmp_path / "state", tmp_path, DALS_MODEL="nosuchprovider:x")
    assert code == 1 and levels(report, "model")[0][0] == "FAIL" and "nosuchprovider:x" in levels(report, "model")[0][1]


def test_dead_external_restate_fails(tmp_path):
    dead = free_port()
    code, report, text = doctor(
        tmp_path / "state",
        tmp_path,
        True,
        DALS_MODEL="offline",
        DALS_RESTATE_INGRESS_URL=f"http://127.0.0.1:{dead}",
        DALS_RESTATE_ADMIN_URL=f"http://127.0.0.1:{dead}",
    )
    assert code == 1
    [(level, message)] = levels(report, "restate")
    assert level == "FAIL" and "external Restate not reachable" in message and str(dead) in message
    assert "FAIL  restate" in text


def test_busy_kept_port_is_reported_with_its_owner(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (state / "ports.json").write_text(json.dumps({"worker": port}))
        code, report, _ = doctor(state, tmp_path, DALS_MODEL="offline")
    [(level, message)] = levels(report, "ports")
    assert level == "warn" and f"port {port} (worker)" in message and f"pid {os.getpid()}" in message
    assert "pinned" in message
    assert code == 0  # a busy port does not block new tasks: a new one is chosen


def test_healthy_runtime_passes(runtime, tmp_path):
    code, report, _ = doctor(runtime.state_dir, tmp_path, DALS_MODEL="offline")
    assert code == 0 and report["ok"], report
    assert levels(report, "runtime")[0][0] == "ok"
    [(level, message)] = levels(report, "worker")
    assert level == "ok" and "registered" in message
    assert levels(report, "ports")[0][0] == "ok"
