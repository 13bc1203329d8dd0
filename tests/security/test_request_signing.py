"""The worker only answers requests signed by its own Restate server (ed25519 identity keys)."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from dals.runtime import signing
from tests.support.lsp_client import DalsClient

PLAN = '/write_file {"path": "signed.txt", "content": "ran through Restate\\n"}'


def test_base58_matches_known_vectors():
    assert signing.base58(b"hello world") == "StV1DL6CwTryKyV"
    assert signing.base58(b"\0\0\x01") == "112"
    assert signing.base58(b"") == ""


def test_key_file_is_private_and_stable(tmp_path):
    key = signing.ensure_key(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = signing.public_key(key)
    assert first.startswith("publickeyv1_") and len(first) > 40
    assert signing.public_key(signing.ensure_key(tmp_path)) == first  # made once per state dir


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode(errors="replace").partition("=")[::2] for e in raw if b"=" in e)


def test_embedded_runtime_signs_with_the_state_dirs_key(runtime):
    st = runtime.status()
    key = runtime.state_dir / signing.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert f'request-identity-private-key-pem-file = "{key}"' in (runtime.state_dir / "restate.toml").read_text()
    assert _environ(st["worker"]["pid"]).get(signing.ENV_VAR) == signing.public_key(key)


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("POST", "/invoke/AgentTask/run", {}),
        ("POST", "/invoke/TaskLedger/record", {}),
        ("GET", "/discover", {}),
        # a forged signature is no better than none
        (
            "POST",
            "/invoke/AgentTask/run",
            {"x-restate-signature-scheme": "v1", "x-restate-jwt-v1": "eyJhbGciOiJFZERTQSJ9.e30.AAAA"},
        ),
        ("POST", "/invoke/AgentTask/run", {"x-restate-signature-scheme": "unsigned"}),
    ],
)
def test_unsigned_request_to_the_worker_is_refused(runtime, method, path, headers):
    url = runtime.status()["worker"]["url"]
    headers = {"content-type": "application/vnd.restate.invocation.v5", **headers}
    with httpx.Client(timeout=10) as http:
        refused = http.request(method, url + path, headers=headers, content=b"\0" * 16)
        assert refused.status_code == 401, (path, refused.status_code, refused.text[:200])
        assert http.get(url + "/health").status_code == 200


async def test_a_real_task_still_runs_signed_by_restate(runtime, tmp_path):
    url = runtime.status()["worker"]["url"]
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(url + "/invoke/AgentTask/run")).status_code == 401
    client = DalsClient(runtime.env, tmp_path)
    try:
        await client.start()
        task_id = (await client.command("dals.startTask", {"prompt": PLAN}))["taskId"]
        events = await client.wait_finished(task_id)
        assert events[-1]["status"] == "succeeded", events[-1]
        assert (tmp_path / "signed.txt").read_text() == "ran through Restate\n"
    finally:
        await client.stop()
