"""The short randomized crash campaign of `make test`: a fixed seed, 20 real kill -9s.

Random tasks of 5-30 steps (writes, edits, reads, commands with countable side effects), killed
1-4 times each at seeded moments (a slow command running, a slow model request in flight, a delay)
— the worker, the Restate server, `dals lsp`, or two of them at once. See `campaign.py` for what
is checked after each run; any violation fails the test with the run's seed. The long campaign
(`make chaos`, ≥ 200 kills) runs the same code with another seed.
"""

from __future__ import annotations

import pytest

from tests.chaos.campaign import Campaign

SEED = 20240611
KILLS = 20


@pytest.mark.timeout(1800)  # about 2-3 minutes on a quiet 2-core machine; far more when it is loaded
async def test_short_crash_campaign(chaos_runtime, chaos_double):
    # The cap stops starting runs after 25 minutes, so that a far too slow campaign fails with its
    # report (kills done, runs, violations) rather than with pytest-timeout's stack dump.
    campaign = await Campaign(chaos_runtime, chaos_double, seed=SEED, kills=KILLS, max_seconds=1500).run()
    summary = campaign.summary()
    print(campaign.report(f"pytest tests/chaos/test_campaign.py (seed {SEED})"))
    assert not campaign.violations, "\n".join(campaign.violations)
    assert campaign.kills >= KILLS, summary
    # the campaign really exercised what it claims: every kind of target and of moment
    assert all(summary["by_trigger"].values()), summary
    assert sum(1 for n in summary["by_target"].values() if n) >= 4, summary
    # steps in flight at kills of the worker or server ran again, and each was excused by one
    assert summary["reexecuted"] >= 1, summary
