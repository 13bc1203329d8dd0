"""A task's durable record: its summary and its numbered events, kept in the task object's state.

Events are a view of the journal (Guarantee 4): each is written with `ctx.set` right after the
step it describes, with values taken only from journaled data, so a replay writes the same
events with the same `seq` and nothing new.

After each summary write, followers are woken one of two ways, fixed per task at its start
(`TaskSpec.wakeup`, since the first is journaled and the second is not): `feed`, a one-way call
to `TaskFeed.publish` (a Restate invocation per write), or `hint`, a loopback datagram outside
the journal with the summary's revision (`dals.local.event_wakeups`), which carries the write itself to
listeners that take pushes: the summary and the events written since the previous push.
"""

from __future__ import annotations

import asyncio
from typing import Any

from restate import ObjectContext

from ..local.event_wakeups import push_body, sender as hint_sender
from .after_flush import after_flush
from .task_feed import publish as feed_publish

SUMMARY = "summary"
SPEC = "spec"  # the TaskSpec the task was started with (its follow-ups run with it too)
MESSAGE_LIMIT = 20_000  # characters of a message kept in its event (the conversation keeps all)


def event_key(seq: int) -> str:
    return f"event:{seq:06d}"


class TaskRecord:
    def __init__(self, ctx: ObjectContext, spec: dict[str, Any]):
        self.ctx = ctx
        self.summary: dict[str, Any] = {
            "taskId": spec["taskId"],
            "title": spec["title"],
            "prompt": spec["prompt"],
            "workspace": spec["workspace"],
            "uri": spec.get("uri"),
            "mode": spec.get("mode", "auto"),
            "model": spec["model"],
            "status": "queued",
            "createdAt": spec["createdAt"],
            "updatedAt": spec["createdAt"],
            "steps": 0,
            "lastSeq": 0,
            "lastEvent": None,
            "usage": {"requests": 0, "inputTokens": 0, "outputTokens": 0, "toolCalls": 0, "replayedRequests": 0},
            "filesChanged": [],
            "result": None,
            "error": None,
            "pending": None,
            "editorRequest": None,
            "resume": None,
        }
        if spec.get("forkedFrom"):
            self.summary["forkedFrom"] = spec["forkedFrom"]
        if spec.get("conversation"):  # only then: an older task's summary replays byte for byte
            self.summary["turns"] = 1
        self.hints = spec.get("wakeup") == "hint"
        if self.hints:  # only then: a feed task's summary must replay byte for byte as it was written
            self.summary["wakeup"] = "hint"
            self.summary["rev"] = 0
        self._pushed_rev = 0  # the revision the last hint sent reached
        self._unpushed: list[tuple[int, dict[str, Any]]] = []  # (rev, event) written since then, in order

    @classmethod
    def resume(cls, ctx: ObjectContext, summary: dict[str, Any]) -> TaskRecord:
        """The record of a task that ran before (a follow-up turn), from its durable summary."""
        record = cls.__new__(cls)
        record.ctx = ctx
        record.summary = summary
        record.hints = summary.get("wakeup") == "hint"
        record._pushed_rev = summary.get("rev", 0)  # followers have read it as it was written
        record._unpushed = []
        return record

    @property
    def status(self) -> str:
        return self.summary["status"]

    def emit(
        self, kind: str, title: str, at: str, detail: dict[str, Any] | None = None, status: str | None = None
    ) -> dict[str, Any]:
        s = self.summary
        if status:
            s["status"] = status
        if kind in ("model", "tool", "edit"):
            s["steps"] += 1
        s["lastSeq"] += 1
        event = {
            "taskId": s["taskId"],
            "seq": s["lastSeq"],
            "kind": kind,
            "title": title,
            "status": s["status"],
            "at": at,
        }
        if detail:
            event["detail"] = detail
        s["updatedAt"] = at
        s["lastEvent"] = {k: event[k] for k in ("seq", "kind", "title", "at")}
        self.ctx.set(event_key(event["seq"]), event)
        self._save_summary(event)
        return event

    def _save_summary(self, event: dict[str, Any] | None = None) -> None:
        """Write the summary, then wake whoever follows the task."""
        s = self.summary
        if not self.hints:
            self.ctx.set(SUMMARY, s)
            self.ctx.object_send(feed_publish, key=s["taskId"], arg=s["lastSeq"])  # wake long-polls
            return
        s["rev"] += 1
        self.ctx.set(SUMMARY, s)
        task_id, rev = s["taskId"], s["rev"]
        if _replaying(self.ctx):  # a replay rewrites what followers have seen already
            self._pushed_rev, self._unpushed = rev, []
            return
        if event is not None:
            self._unpushed.append((rev, event))
        # The push is built now (a snapshot of this write), sent once the SDK has handed the write
        # to Restate (after_flush.py; for one write pending, only the latest hint goes, and its
        # push carries every event since the last one sent); else on the loop's next turn.
        body = push_body(self._pushed_rev, s, [e for _, e in self._unpushed])  # all after _pushed_rev

        def send() -> None:
            hint_sender().send(task_id, rev, push=lambda: body)
            if rev > self._pushed_rev:
                self._pushed_rev = rev
                self._unpushed = [(r, e) for r, e in self._unpushed if r > rev]

        if not after_flush(self.ctx, "hint", send):
            asyncio.get_running_loop().call_soon(send)

    def model_step(self, at: str, title: str, input_tokens: int, output_tokens: int, detail: dict) -> None:
        u = self.summary["usage"]
        u["requests"] += 1
        u["inputTokens"] += input_tokens
        u["outputTokens"] += output_tokens
        # the first answer after provider failures ends the `retrying` status
        if self.status == "retrying":
            self.summary["resume"] = self.summary["lastFailure"] = None
        self.emit("model", title, at, detail, status="running" if self.status == "retrying" else None)

    def compacted(self, at: str, usage: dict[str, int], detail: dict[str, Any]) -> None:
        """Older messages were summarised (durable/compaction.py): a `log` event, the usage added."""
        u = self.summary["usage"]
        for k in ("requests", "inputTokens", "outputTokens"):
            u[k] += usage[k]
        tokens = f"~{detail['tokensBefore']:,} → ~{detail['tokensAfter']:,} tokens of {detail['maxTokens']:,}"
        self.emit(
            "log",
            f"Compacted the conversation: {detail['messages']} earlier messages summarised ({tokens})",
            at,
            {**detail, **usage},
        )

    def retrying(self, reason: str, attempt: int, limit: int, delay_s: float, resume_id: str, at: str) -> None:
        """A model request failed and will be sent again after `delay_s` (or at `dals.resumeTask`)."""
        self.summary["resume"] = {"requestId": resume_id}
        self.summary["lastFailure"] = reason
        self.emit(
            "status",
            f"Retrying in {delay_s:g} s (attempt {attempt} of {limit} failed): {reason}",
            at,
            {"reason": reason, "attempt": attempt, "maxAttempts": limit, "delayS": delay_s},
            status="retrying",
        )

    def paused(self, reason: str, attempts: int, resume_id: str, at: str) -> None:
        """Retries are exhausted: the task waits for `dals.resumeTask`, however long that takes."""
        self.summary["resume"] = {"requestId": resume_id}
        self.summary["lastFailure"] = reason
        self.emit(
            "status",
            f"Paused after {attempts} failed attempts: {reason}",
            at,
            {"reason": reason, "attempts": attempts},
            status="paused",
        )

    def resumed(self, at: str) -> None:
        self.summary["resume"] = None
        self.summary["lastFailure"] = None
        self.emit("status", "Resumed", at, status="running")

    def tool_step(self, kind: str, title: str, at: str, detail: dict) -> None:
        if kind in ("tool", "edit"):
            self.summary["usage"]["toolCalls"] += 1
        path = detail.get("path")
        if kind == "edit" and path and path not in self.summary["filesChanged"]:
            self.summary["filesChanged"].append(path)
        self.emit(kind, title, at, detail)

    def refused(self, what: str, reason: str, at: str) -> None:
        """An input that was not the user's (dals.trust) was refused: nothing of it ran."""
        self.emit("log", f"Refused {what}: {reason}", at, {"refused": what, "reason": reason})

    def editor_request(self, request: dict[str, Any] | None) -> None:
        """Publish (or withdraw) a request for the attached editor; no event of its own."""
        self.summary["editorRequest"] = request
        self._save_summary()

    def ask(self, request_id: str, request: dict[str, Any], at: str) -> None:
        """The task now waits for the user's answer to `request` (an approval)."""
        self.summary["pending"] = {"requestId": request_id, **request}
        self.emit(
            "approval",
            request.get("question") or "Approval needed",
            at,
            {"requestId": request_id, **request},
            status="waiting",
        )

    def answered(self, request_id: str, answer: dict[str, Any], at: str) -> None:
        self.summary["pending"] = None
        decision = answer.get("decision")
        detail = {"requestId": request_id, "decision": decision}
        if answer.get("comment"):
            detail["comment"] = answer["comment"]
        title = "Approved" if decision == "approve" else "Rejected"
        self.emit(
            "approval",
            title + (f": {answer['comment']}" if answer.get("comment") else ""),
            at,
            detail,
            status="running",
        )

    def message(self, role: str, text: str, at: str, status: str | None = None, **detail: Any) -> None:
        """A `message` event: a prompt, follow-up or steer (`user`), or the agent's text (`assistant`)."""
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        title = ("You: " if role == "user" else "Agent: ") + (first if len(first) <= 80 else first[:77] + "…")
        self.emit("message", title, at, {"role": role, "text": text[:MESSAGE_LIMIT], **detail}, status=status)

    def turn_started(self, prompt: str, at: str) -> None:
        """A follow-up: the next turn of a finished task begins (same task, `seq` goes on)."""
        self.summary["turns"] = self.summary.get("turns", 1) + 1
        self.summary["result"] = self.summary["error"] = None
        self.message("user", prompt, at, status="running", turn=self.summary["turns"])

    def finish(self, status: str, at: str, result: str | None = None, error: str | None = None) -> None:
        self.summary["result"] = result
        self.summary["error"] = error
        title = {"succeeded": "Task succeeded", "failed": f"Task failed: {error}", "cancelled": "Task cancelled"}[
            status
        ]
        detail = {"result": result} if result else ({"error": error} if error else None)
        self.emit("status", title, at, detail, status=status)


def _replaying(ctx: ObjectContext) -> bool:
    """Whether the handler is re-reading its journal (restate-sdk's VM knows; no public API)."""
    vm = getattr(ctx, "vm", None)
    try:
        return bool(vm.is_replaying()) if vm is not None else False
    except Exception:  # noqa: BLE001 - an SDK without it: send the hint, a stale one is harmless
        return False
