"""Retention, without a runtime: which tasks are old and finished enough to purge, the object's own
guard, the `DALS_RETENTION_DAYS` setting, and the purge sequence against a fake Restate API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from dals.cli.main import parser
from dals.client.restate_api import RestateUnavailable
from dals.client.retention import age_text, cutoff_for, expired, purge_finished, report_line, select_expired
from dals.config.settings import DEFAULT_RETENTION_DAYS, retention_days
from dals.durable.task_retention import ForgetRequest, may_forget

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)
ACTIVE = ("queued", "running", "waiting", "retrying", "paused")
FINISHED = ("succeeded", "failed", "cancelled")


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def summary(status: str, age: timedelta, task_id: str = "t1") -> dict:
    return {
        "taskId": task_id,
        "status": status,
        "createdAt": iso(NOW - age - timedelta(minutes=5)),
        "updatedAt": iso(NOW - age),
    }


# --- which tasks expire -----------------------------------------------------------------------


@pytest.mark.parametrize("status", FINISHED)
def test_a_finished_task_older_than_the_cutoff_expires(status):
    e = expired(summary(status, timedelta(days=31)), "completed", cutoff_for(30, NOW))
    assert e and e.taskId == "t1" and e.status == status and e.runEnded


@pytest.mark.parametrize("status", FINISHED)
def test_a_finished_task_younger_than_the_cutoff_stays(status):
    assert expired(summary(status, timedelta(days=29)), "completed", cutoff_for(30, NOW)) is None


@pytest.mark.parametrize("status", ACTIVE)
@pytest.mark.parametrize("run_status", [None, "running", "suspended", "backing-off", "paused", "inboxed"])
def test_an_unfinished_task_never_expires_however_old(status, run_status):
    assert expired(summary(status, timedelta(days=3650)), run_status, cutoff_for(0, NOW)) is None


def test_a_killed_run_counts_as_failed():
    """Killed through the admin API: the run completed without writing a final status."""
    e = expired(summary("running", timedelta(days=2)), "completed", cutoff_for(1, NOW))
    assert e and e.status == "failed" and e.runEnded


def test_the_cutoff_is_inclusive_to_the_millisecond():
    cutoff = cutoff_for(1, NOW)
    assert expired(summary("succeeded", timedelta(days=1)), "completed", cutoff)
    assert expired(summary("succeeded", timedelta(days=1) - timedelta(milliseconds=1)), "completed", cutoff) is None


def test_older_than_zero_takes_every_finished_task():
    assert cutoff_for(0, NOW) == NOW
    assert expired(summary("succeeded", timedelta(0)), "completed", cutoff_for(0, NOW))


def test_times_with_offsets_and_unreadable_times():
    s = {"taskId": "t", "status": "failed", "updatedAt": "2026-03-10T13:00:00+02:00"}  # 11:00 UTC
    assert expired(s, None, NOW - timedelta(hours=1))
    assert expired(s, None, NOW - timedelta(hours=1, seconds=1)) is None
    s["updatedAt"] = "yesterday"  # falls back to createdAt, then to "not expired"
    assert expired(s, None, NOW) is None
    s["createdAt"] = "2026-03-01T00:00:00Z"
    assert expired(s, None, NOW)


def test_select_expired_keys_by_object_and_orders_oldest_first():
    summaries = {
        "new": summary("succeeded", timedelta(days=40)),
        "old": summary("failed", timedelta(days=90)),
        "busy": summary("waiting", timedelta(days=99)),
        "young": summary("cancelled", timedelta(days=1)),
        "killed": summary("running", timedelta(days=50)),
    }
    runs = {"new": "completed", "old": "completed", "busy": "suspended", "young": "completed", "killed": "completed"}
    chosen = select_expired(summaries, runs, cutoff_for(30, NOW))
    assert [e.taskId for e in chosen] == ["old", "killed", "new"]


# --- the object's own guard -------------------------------------------------------------------


def test_may_forget_needs_a_finished_summary():
    assert not may_forget(None, ForgetRequest())
    assert not may_forget({}, ForgetRequest(runEnded=True))
    for status in ACTIVE:
        assert not may_forget({"status": status}, ForgetRequest())
    for status in FINISHED:
        assert may_forget({"status": status}, ForgetRequest())
    assert may_forget({"status": "running"}, ForgetRequest(runEnded=True))


def test_may_forget_refuses_a_task_updated_after_the_cutoff():
    """A forget that waited behind a run (it holds the object) finds the task newer and leaves it."""
    s = {"status": "succeeded", "updatedAt": "2026-03-10T12:00:00.000Z"}
    assert may_forget(s, ForgetRequest(before="2026-03-10T12:00:00.000+00:00"))
    assert may_forget(s, ForgetRequest(before="2026-03-11T00:00:00Z"))
    assert not may_forget(s, ForgetRequest(before="2026-03-10T11:59:59.999+00:00"))
    assert not may_forget(s, ForgetRequest(before="not a time"))
    assert not may_forget({"status": "succeeded"}, ForgetRequest(before="2026-03-11T00:00:00Z"))


# --- the setting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, days",
    [
        (None, DEFAULT_RETENTION_DAYS),
        ("", DEFAULT_RETENTION_DAYS),
        ("7", 7.0),
        ("0.5", 0.5),
        (" 14 ", 14.0),
        ("0", None),
        ("off", None),
        ("Never", None),
    ],
)
def test_retention_days(monkeypatch, value, days):
    if value is None:
        monkeypatch.delenv("DALS_RETENTION_DAYS", raising=False)
    else:
        monkeypatch.setenv("DALS_RETENTION_DAYS", value)
    assert retention_days() == days


@pytest.mark.parametrize("value", ["-1", "abc", "nan", "inf"])
def test_an_unreadable_retention_keeps_the_default_and_says_so(monkeypatch, capsys, value):
    monkeypatch.setenv("DALS_RETENTION_DAYS", value)
    assert retention_days() == DEFAULT_RETENTION_DAYS
    assert "DALS_RETENTION_DAYS" in capsys.readouterr().err


def test_purge_cli_arguments():
    args = parser().parse_args(["purge", "--older-than", "0.25", "--dry-run", "--json"])
    assert (args.older_than, args.dry_run, args.json) == (0.25, True, True)
    assert parser().parse_args(["purge"]).older_than is None
    for bad in ("-1", "soon", "inf"):
        with pytest.raises(SystemExit):
            parser().parse_args(["purge", "--older-than", bad])


def test_age_text_and_report_line():
    assert [age_text(d) for d in (30, 1, 0.5, 0.0001, 0)] == ["30 days", "1 day", "12 h", "8.6 s", "0 s"]
    line = report_line(
        {"dryRun": True, "tasks": ["a"], "olderThanDays": 30, "invocationsPurged": 7, "skipped": 0, "errors": []}
    )
    assert line == "would purge 1 finished task older than 30 days (7 invocations)"


# --- the purge sequence, against a fake Restate -----------------------------------------------


class FakeApi:
    """Answers the admin SQL that retention asks, and records forget calls and purges."""

    def __init__(
        self,
        summaries: dict[str, dict],
        runs: dict[str, str],
        invocations: dict[str, list[str]],
        refuse: set[str] = frozenset(),
        unreachable: set[str] = frozenset(),
    ):
        self.summaries, self.runs, self.invocations = summaries, runs, invocations
        self.refuse, self.unreachable = refuse, unreachable
        self.forgets: list[tuple[str, dict]] = []
        self.purged: list[str] = []

    async def query(self, sql: str) -> list[dict]:
        import json

        if "FROM state" in sql:
            return [{"service_key": k, "value_utf8": json.dumps(s)} for k, s in self.summaries.items()]
        if "target_handler_name IN ('run', 'follow_up')" in sql:
            return [{"target_service_key": k, "status": s, "created_at": "x"} for k, s in self.runs.items()]
        assert "status = 'completed'" in sql
        return [{"id": i} for k, ids in self.invocations.items() if f"'{k}'" in sql for i in ids]

    async def call(self, service, key, handler, body, timeout=None):
        assert (service, handler) == ("AgentTask", "forget")
        if key in self.unreachable:
            raise RestateUnavailable("connection refused")
        self.forgets.append((key, body))
        return {"forgotten": key not in self.refuse, "status": "succeeded"}

    async def invocation_action(self, invocation_id, action):
        assert action == "purge"
        self.purged.append(invocation_id)
        return 200


def fake() -> FakeApi:
    return FakeApi(
        summaries={
            "a": summary("succeeded", timedelta(days=3)),
            "b": summary("failed", timedelta(days=2)),
            "c": summary("waiting", timedelta(days=9)),
            "d": summary("succeeded", timedelta(hours=1)),
        },
        runs={"a": "completed", "b": "completed", "c": "suspended", "d": "completed"},
        invocations={"a": ["inv_a1", "inv_a2"], "b": ["inv_b1"], "c": ["inv_c1"], "d": ["inv_d1"]},
    )


def test_dry_run_changes_nothing():
    api = fake()
    report = asyncio.run(purge_finished(api, 1, dry_run=True, now=NOW))
    assert report["tasks"] == ["a", "b"] and report["invocationsPurged"] == 3 and report["dryRun"]
    assert api.forgets == [] and api.purged == []


def test_purge_forgets_then_purges_only_what_was_forgotten():
    api = fake()
    api.refuse = {"b"}  # the object says no (it was not finished after all)
    report = asyncio.run(purge_finished(api, 1, now=NOW))
    assert sorted(k for k, _ in api.forgets) == ["a", "b"]
    assert all(body == {"runEnded": True, "before": report["cutoff"]} for _, body in api.forgets)
    assert report["cutoff"] == "2026-03-09T12:00:00.000+00:00"
    assert sorted(api.purged) == ["inv_a1", "inv_a2"]
    assert (report["tasks"], report["forgotten"], report["skipped"], report["invocationsPurged"]) == (["a"], 1, 1, 2)
    assert report["errors"] == []


def test_an_unreachable_task_is_an_error_and_the_rest_goes_on():
    api = fake()
    api.unreachable = {"a"}
    report = asyncio.run(purge_finished(api, 1, now=NOW))
    assert report["tasks"] == ["b"] and api.purged == ["inv_b1"]
    assert len(report["errors"]) == 1 and report["errors"][0].startswith("a: forget failed")


def test_a_negative_age_is_refused():
    with pytest.raises(ValueError):
        asyncio.run(purge_finished(fake(), -1))
