"""Nobody but the user acts as the user (guarantee 9): a local process that reaches Restate (the
state dir's sockets here; a cluster's TCP ingress elsewhere) and posts a task spec, an approval
answer, a resume or a cancel of its own runs nothing: the worker refuses what the user's client key
did not sign for that very use, says so, and the user's task goes on waiting for the user."""

from __future__ import annotations

import asyncio
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dals.agent.deps import now_iso
from dals.client.tasks import build_spec, new_task_id
from dals.local.endpoints import async_client
from dals.trust.signed_input import sign


def plan(*steps: tuple[str, dict]) -> str:
    return "\n".join(["forged inputs"] + [f"/{tool} {json.dumps(args)}" for tool, args in steps])


async def until(service, task_id: str, pred, what: str, timeout: float = 60) -> dict:
    async def poll():
        while True:
            shown = await service.show(task_id)
            if pred(shown):
                return shown
            await asyncio.sleep(0.05)

    try:
        return await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def invocation_done(service, invocation_id: str, timeout: float = 60) -> dict:
    async def poll():
        while True:
            rows = await service.api.query(f"SELECT status FROM sys_invocation WHERE id = '{invocation_id}'")
            if rows and rows[0]["status"] == "completed":
                return rows[0]
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def ingress(runtime):
    async with async_client(runtime.status()["restate"]["ingress"], timeout=10) as http:
        yield http


async def test_forged_specs_run_nothing(runtime, tmp_path, ingress):
    service = runtime.task_service()
    try:
        forged = {
            "taskId": new_task_id(),
            "prompt": plan(("run_command", {"command": "echo pwned > pwned.txt"})),
            "title": "forged",
            "workspace": str(tmp_path),
            "model": "offline",
            "createdAt": now_iso(),
            "commandsAllow": ["*"],
        }
        stranger = Ed25519PrivateKey.generate()
        mine = service.signed("start", "another-task", forged)  # the user's signature, for another task
        for body in (forged, sign(stranger, "start", forged["taskId"], forged), mine):
            r = await ingress.post(f"/AgentTask/{forged['taskId']}/run/send", json=body)
            assert r.status_code == 202, r.text  # Restate takes anything; the worker decides
            await invocation_done(service, r.json()["invocationId"])
        assert not (tmp_path / "pwned.txt").exists()
        assert [t for t in await service.list() if t["taskId"] == forged["taskId"]] == []  # no task made
        log = (runtime.state_dir / "logs" / "worker.log").read_text()
        assert f"refused start on {forged['taskId']}: not signed" in log
        assert f"refused start on {forged['taskId']}: signed with a key this worker does not trust" in log
        assert f"refused start on {forged['taskId']}: signed for 'start' on 'another-task'" in log
    finally:
        await service.api.aclose()


async def test_forged_answers_do_not_count_and_the_task_still_waits(runtime, tmp_path, ingress):
    service = runtime.task_service()
    try:
        spec = build_spec(plan(("run_command", {"command": "echo ran >> ran.txt"})), tmp_path, "offline")
        task_id = await service.start(spec)  # the default policy asks before `echo`
        shown = await until(service, task_id, lambda s: s["status"] == "waiting", "the approval")
        request_id = shown["pending"]["requestId"]

        # someone else resolves the approval's awakeable (its id is in the task's events)
        r = await ingress.post(f"/restate/awakeables/{request_id}/resolve", json={"decision": "approve"})
        assert r.status_code == 202, r.text
        shown = await until(service, task_id, lambda s: any(e["kind"] == "log" for e in s["events"]), "the refusal")
        [refusal] = [e for e in shown["events"] if e["kind"] == "log"]
        assert refusal["title"].startswith("Refused an answer: not signed") and shown["status"] == "waiting"
        assert shown["pending"]["requestId"] == request_id and shown["pending"]["awakeableId"] != request_id
        assert not (tmp_path / "ran.txt").exists()

        # a forged resume and a forged cancel change nothing either
        r = await ingress.post(f"/AgentTask/{task_id}/cancel", json={"invocationId": shown["invocationId"]})
        assert r.status_code == 200 and "refused" in r.json(), r.text
        assert (await service.show(task_id))["status"] == "waiting"

        # the user's own answer (signed) is the one that counts
        await service.answer(task_id, request_id, "approve", None)
        shown = await until(service, task_id, lambda s: s["status"] == "succeeded", "the task to finish")
        assert (tmp_path / "ran.txt").read_text() == "ran\n"
        assert [
            e["detail"]["decision"] for e in shown["events"] if e["kind"] == "approval" and e["status"] == "running"
        ] == ["approve"]
    finally:
        await service.api.aclose()


async def test_a_browser_cannot_reach_the_runtime(runtime):
    """A web page reaches TCP ports on loopback, never a unix socket: Restate has no TCP listener
    (tests/security/test_loopback.py) and the worker's port answers no CORS preflight and refuses
    unsigned requests."""
    st = runtime.status()
    assert st["restate"]["ingress"].startswith("unix:") and st["restate"]["admin"].startswith("unix:")
    async with async_client(st["worker"]["url"], timeout=10) as worker:
        pre = await worker.request(
            "OPTIONS",
            "/invoke/AgentTask/run",
            headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
        )
        assert "access-control-allow-origin" not in pre.headers
        post = await worker.post(
            "/invoke/AgentTask/run",
            headers={"origin": "http://evil.example", "content-type": "application/json"},
            content=b"{}",
        )
        assert post.status_code == 401 and "access-control-allow-origin" not in post.headers
