"""Retention: purge finished tasks older than a number of days, so that Restate's data stays bounded.

A task is expired when it finished (succeeded, failed, cancelled; or its `run` invocation completed
without a final status: killed) and its last update is older than the cutoff. Running, waiting,
retrying and paused tasks never are. For each expired task: `AgentTask/{id}/forget` clears its
state and its side objects' (see `dals.durable.task_retention`), then its completed invocations
(journals) are purged through the admin API (`PATCH /invocations/{id}/purge`).

Used by `dals purge` and by the supervisor (`DALS_RETENTION_DAYS`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..durable.task_status import TERMINAL
from .restate_api import RestateApi, RestateUnavailable

SERVICE = "AgentTask"
# Objects keyed by the task id whose invocations belong to the task.
TASK_SERVICES = ("AgentTask", "TaskLedger", "TaskNotes", "TaskFeed", "TaskInbox")
BATCH = 200  # task ids per SQL `IN (...)` list
PARALLEL = 8  # admin/ingress requests in flight at once


@dataclass(frozen=True)
class Expired:
    taskId: str
    status: str
    updatedAt: str
    runEnded: bool  # the `run` invocation completed (what makes a killed run count as finished)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (`…Z` or with an offset) as an aware datetime; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def cutoff_for(older_than_days: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=older_than_days)


def expired(summary: dict[str, Any], run_status: str | None, cutoff: datetime) -> Expired | None:
    """The task as `Expired` if it finished and was last updated at or before `cutoff`, else None.

    `run_status` is the `sys_invocation` status of the task's latest `run` (None if unknown).
    """
    status = summary.get("status")
    run_ended = run_status == "completed"
    if status not in TERMINAL and not run_ended:
        return None
    updated = parse_time(summary.get("updatedAt")) or parse_time(summary.get("createdAt"))
    if updated is None or updated > cutoff:
        return None
    return Expired(
        str(summary.get("taskId")), status if status in TERMINAL else "failed", updated.isoformat(), run_ended
    )


def select_expired(
    summaries: dict[str, dict[str, Any]], run_statuses: dict[str, str], cutoff: datetime
) -> list[Expired]:
    """Expired tasks among `summaries` (task id → durable summary), oldest first."""
    found = []
    for key, summary in summaries.items():
        e = expired(dict(summary, taskId=key), run_statuses.get(key), cutoff)
        if e:
            found.append(e)
    return sorted(found, key=lambda e: parse_time(e.updatedAt) or cutoff)


def _sql_list(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _batches(items: list[str]) -> list[list[str]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


async def _summaries(api: RestateApi) -> dict[str, dict[str, Any]]:
    rows = await api.query(
        f"SELECT service_key, value_utf8 FROM state WHERE service_name = '{SERVICE}' AND key = 'summary'"
    )
    out = {}
    for row in rows:
        try:
            summary = json.loads(row["value_utf8"])
        except (TypeError, ValueError):
            continue
        if isinstance(summary, dict):
            out[row["service_key"]] = summary
    return out


async def _run_statuses(api: RestateApi) -> dict[str, str]:
    """Task id → status of its latest turn's invocation (`run`, `follow_up`)."""
    rows = await api.query(
        "SELECT target_service_key, status, created_at FROM sys_invocation "
        f"WHERE target_service_name = '{SERVICE}' AND target_handler_name IN ('run', 'follow_up')"
    )
    latest: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: str(r.get("created_at"))):
        latest[row["target_service_key"]] = row["status"]
    return latest


async def completed_invocations(api: RestateApi, task_ids: list[str]) -> list[str]:
    """Ids of the completed invocations of these tasks' objects (only those can be purged)."""
    services = _sql_list(list(TASK_SERVICES))
    ids: list[str] = []
    for batch in _batches(task_ids):
        rows = await api.query(
            f"SELECT id FROM sys_invocation WHERE target_service_name IN ({services}) "
            f"AND target_service_key IN ({_sql_list(batch)}) AND status = 'completed'"
        )
        ids += [row["id"] for row in rows]
    return ids


async def _bounded(items, fn) -> list:
    gate = asyncio.Semaphore(PARALLEL)

    async def one(item):
        async with gate:
            return await fn(item)

    return await asyncio.gather(*(one(i) for i in items))


async def purge_finished(
    api: RestateApi, older_than_days: float, dry_run: bool = False, now: datetime | None = None
) -> dict[str, Any]:
    """Forget and purge the tasks that finished more than `older_than_days` ago.

    Returns `{olderThanDays, cutoff, dryRun, tasks: [id], forgotten, skipped, invocationsPurged,
    errors: [str]}`; with `dry_run`, `tasks` and `invocationsPurged` say what would go, nothing goes.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must be >= 0")
    cutoff = cutoff_for(older_than_days, now)
    # Invocations before state, as in `TaskService.list`: a run seen completed has written its summary.
    run_statuses = await _run_statuses(api)
    chosen = select_expired(await _summaries(api), run_statuses, cutoff)
    report: dict[str, Any] = {
        "olderThanDays": older_than_days,
        "cutoff": cutoff.isoformat(timespec="milliseconds"),
        "dryRun": dry_run,
        "tasks": [e.taskId for e in chosen],
        "forgotten": 0,
        "skipped": 0,
        "invocationsPurged": 0,
        "errors": [],
    }
    if dry_run:
        report["invocationsPurged"] = len(await completed_invocations(api, report["tasks"]))
        return report

    async def forget(e: Expired) -> str | None:
        try:
            got = await api.call(
                SERVICE, e.taskId, "forget", {"runEnded": e.runEnded, "before": report["cutoff"]}, timeout=30.0
            )
        except RestateUnavailable as err:
            report["errors"].append(f"{e.taskId}: forget failed: {err}")
            return None
        if got and got.get("forgotten"):
            return e.taskId
        report["skipped"] += 1  # not finished, or newer than the cutoff, after all (the object said so)
        return None

    gone = [t for t in await _bounded(chosen, forget) if t]
    report["forgotten"] = len(gone)

    async def purge(invocation_id: str) -> bool:
        try:
            code = await api.invocation_action(invocation_id, "purge")
        except RestateUnavailable as err:
            report["errors"].append(f"{invocation_id}: purge failed: {err}")
            return False
        if code not in (200, 202, 404):  # 404: already gone (Restate's own retention got there first)
            report["errors"].append(f"{invocation_id}: purge refused ({code})")
        return code in (200, 202)

    report["invocationsPurged"] = sum(await _bounded(await completed_invocations(api, gone), purge))
    report["tasks"] = gone
    return report


def age_text(days: float) -> str:
    """`30 days`, `12 h`, `90 s`: a retention age as people say it."""
    if days >= 1:
        return f"{days:g} days" if days != 1 else "1 day"
    if days * 24 >= 1:
        return f"{round(days * 24, 2):g} h"
    return f"{round(days * 86400, 1):g} s"


def report_line(report: dict[str, Any]) -> str:
    """One line for people and logs."""
    verb = "would purge" if report["dryRun"] else "purged"
    n = len(report["tasks"])
    line = (
        f"{verb} {n} finished task{'s' if n != 1 else ''} older than {age_text(report['olderThanDays'])} "
        f"({report['invocationsPurged']} invocations)"
    )
    if report["skipped"]:
        line += f", {report['skipped']} skipped (not finished)"
    if report["errors"]:
        line += f", {len(report['errors'])} errors (first: {report['errors'][0]})"
    return line
