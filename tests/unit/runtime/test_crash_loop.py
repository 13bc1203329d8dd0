"""The supervisor pauses before restarting a child that cannot run, not one that is killed often."""

from __future__ import annotations

from dals.runtime.children import CrashLoop


def test_eleven_deaths_right_after_start_in_a_minute_are_a_loop():
    loop = CrashLoop()
    verdicts = [loop.died("worker", lived_s=2.0, now=float(t)) for t in range(0, 55, 5)]
    assert verdicts == [False] * 10 + [True]


def test_children_that_ran_a_while_are_never_a_loop():
    loop = CrashLoop()
    assert not any(loop.died("worker", lived_s=12.0, now=t * 0.5) for t in range(40))


def test_deaths_older_than_the_window_are_forgotten():
    loop = CrashLoop()
    for t in range(10):
        assert not loop.died("restate", lived_s=1.0, now=float(t))
    # a minute after the first ten, the next young death is the first of a new window
    assert not loop.died("restate", lived_s=1.0, now=75.0)
    assert loop.deaths["restate"] == [75.0]


def test_each_child_is_counted_on_its_own():
    loop = CrashLoop()
    for t in range(10):
        loop.died("worker", lived_s=1.0, now=float(t))
        loop.died("restate", lived_s=1.0, now=float(t))
    assert loop.died("worker", lived_s=1.0, now=10.0)
    assert not loop.died("standby worker", lived_s=1.0, now=10.0)
