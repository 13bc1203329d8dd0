"""A worker whose code changed under a running task, for tests (put this directory on PYTHONPATH).

Once the file named by `DALS_TEST_CODE_CHANGED` exists when a worker or the fork server that forks
workers starts, the task
handler writes one more state entry before each event, as a worker upgraded under a running task
might: the replay of any task started before no longer matches its journal (a journal mismatch,
which no retry can fix). Without that file nothing changes.
"""

import os
import sys

_flag = os.environ.get("DALS_TEST_CODE_CHANGED")
_argv = getattr(sys, "orig_argv", ())
if _flag and os.path.exists(_flag) and ("worker" in _argv or "zygote" in _argv):  # what workers run
    from dals.durable import task_record

    _emit = task_record.TaskRecord.emit

    def emit(self, *args, **kwargs):
        self.ctx.set("upgraded", True)
        return _emit(self, *args, **kwargs)

    task_record.TaskRecord.emit = emit
