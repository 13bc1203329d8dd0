"""The supervisor: runs the Restate server and the worker processes, restarts them when they die,
and resumes the tasks that were backing off at once instead of after Restate's backoff.

Started detached by `dals up` (or `dals lsp`) as `python -m dals supervise`; one per state dir
(an exclusive lock on `supervisor.lock` says it is alive).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import sys
import time
from datetime import datetime

import httpx

from ..client.restate_api import RestateApi, RestateUnavailable
from ..config.settings import ExternalRestate, external_restate, runtime_nice, state_dir, worker_processes
from ..local.endpoints import unix_url
from ..local.pids import pid_runs
from . import restate_config, signing, zygote
from .children import Child, CrashLoop, ForkedChild, kill_pid
from .layout import Layout
from .restate_binary import ensure_restate_server

TASK_SERVICE = "AgentTask"


def log(msg: str) -> None:
    stamp = datetime.now().isoformat(timespec="milliseconds")
    print(f"{stamp} supervisor: {msg}", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(self, layout: Layout, external: ExternalRestate | None):
        self.layout = layout
        self.external = external
        self.ports = layout.ports()
        self.worker_url = f"http://127.0.0.1:{self.ports.worker}"
        if external:
            self.api = RestateApi(external.ingress_url, external.admin_url)
        else:
            self.api = RestateApi(unix_url(layout.ingress_socket), unix_url(layout.admin_socket))
        env = dict(
            os.environ, DALS_STATE_DIR=str(layout.root), DALS_INGRESS_URL=self.api.ingress_url, PYTHONUNBUFFERED="1"
        )
        self.restate: Child | None = None
        if not external:
            binary = ensure_restate_server(log)
            restate_config.write(layout)
            # Restate tries to reach the network at start even with telemetry off; nothing of ours needs it.
            self.restate = Child(
                "restate",
                [str(binary), "-c", str(layout.restate_config), "--no-logo"],
                layout.log("restate"),
                env=env,
                cwd=layout.root,
                nice=runtime_nice(),
            )
        # Embedded: the worker accepts only requests signed by our server. External: only what the
        # user put in DALS_IDENTITY_KEYS (inherited with the environment).
        self.worker_env = env if external else dict(env, **signing.worker_env(layout.root))
        # The fork server: imports once, forks each worker process and each `dals lsp`.
        # At the editor's priority (a `dals lsp` cannot raise its own); workers lower theirs.
        self.zygote = Child(
            "zygote",
            [sys.executable, "-m", "dals", "zygote"],
            layout.log("zygote"),
            env=self.worker_env,
            cwd=layout.root,
        )
        # One process, or several sharing the worker port (worker_main.shared_socket).
        processes = worker_processes()
        self.shared = processes > 1
        self.workers = [self._worker_child() for _ in range(processes)]
        self.stopping = asyncio.Event()
        self.crash_loop = CrashLoop()

    @property
    def worker(self) -> ForkedChild:
        """The first worker process: the one `runtime.json` and `dals status` name as `worker`."""
        return self.workers[0]

    def _worker_child(self) -> ForkedChild:
        """A worker process, forked (warm: imports done) when started: a dead worker's replacement
        answers in about 60 ms, as the warm standby process it replaces did."""
        return ForkedChild(
            "worker",
            "worker",
            {"port": self.ports.worker, "shared": self.shared},
            self.layout.root,
            self.layout.log("worker"),
            env=self.worker_env,
            stop_signal=signal.SIGINT,
            nice=runtime_nice(),
        )

    def start_zygote(self) -> None:
        # A killed one's socket is left behind: gone first, so that the socket means "ready".
        self.layout.zygote_socket.unlink(missing_ok=True)
        self.zygote.start()

    async def wait_zygote(self, timeout: float = 60.0) -> None:
        """Until the fork server takes requests (it binds its socket once its imports are done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.zygote.alive():
                raise RuntimeError(f"the fork server exited with {self.zygote.exit_code()}; see {self.zygote.log}")
            if self.layout.zygote_socket.exists():
                return
            await asyncio.sleep(0.02)
        raise RuntimeError(f"the fork server not ready after {timeout:.0f}s; see {self.zygote.log}")

    async def start_worker(self, child: ForkedChild) -> None:
        """Fork `child`, waiting for the fork server first when it is being restarted."""
        for attempt in range(3):
            try:
                child.start()
                return
            except zygote.ZygoteUnavailable as e:
                if attempt == 2:
                    raise RuntimeError(f"could not fork {child.name}: {e}") from e
                log(f"could not fork {child.name} ({e}); trying again")
                if not self.zygote.alive():
                    self.start_zygote()
                await self.wait_zygote()
                await asyncio.sleep(0.2 * attempt)

    # --- lifecycle --------------------------------------------------------------
    def write_runtime(self, ready: bool) -> None:
        self.layout.write_runtime(
            {
                "supervisor": os.getpid(),
                "ready": ready,
                "stateDir": str(self.layout.root),
                "restate": {
                    "pid": self.restate.pid if self.restate else None,
                    "ingress": self.api.ingress_url,
                    "admin": self.api.admin_url,
                    "external": bool(self.external),
                },
                "worker": {"pid": self.worker.pid, "url": self.worker_url},
                "workers": [{"pid": w.pid} for w in self.workers],
                "zygote": {"pid": self.zygote.pid},
            }
        )

    async def wait_restate(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.api.healthy():
                return
            if self.restate and not self.restate.alive():
                raise RuntimeError(f"restate-server exited with {self.restate.exit_code()}; see {self.restate.log}")
            await asyncio.sleep(0.05)
        raise RuntimeError(f"Restate not healthy after {timeout:.0f}s")

    async def wait_worker(self, child: ForkedChild | None = None, timeout: float = 60.0) -> None:
        """Until the worker port answers and `child` (default: every worker process) still runs.
        With shared ports any process may answer: the port serving is what readiness means."""
        children = [child] if child else self.workers
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as http:
            while time.monotonic() < deadline:
                try:
                    if (await http.get(f"{self.worker_url}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                for c in children:
                    if not c.alive():
                        raise RuntimeError(f"worker exited with {c.exit_code()}; see {c.log}")
                await asyncio.sleep(0.03)
        raise RuntimeError(f"worker not healthy after {timeout:.0f}s")

    async def resume_stuck(self, include_paused: bool = False) -> int:
        """Cut the backoff of tasks that failed because a process died: resume them now."""
        states = "'backing-off', 'paused'" if include_paused else "'backing-off'"
        try:
            rows = await self.api.query(
                f"SELECT id FROM sys_invocation WHERE target_service_name = '{TASK_SERVICE}' "
                f"AND target_handler_name = 'run' AND status IN ({states})"
            )
        except RestateUnavailable as e:
            log(f"could not list stuck tasks: {e}")
            return 0
        for row in rows:
            code = await self.api.invocation_action(row["id"], "resume")
            log(f"resumed {row['id']} ({code})")
        return len(rows)

    async def resume_soon(self) -> None:
        # The invocation turns `backing-off` a moment after its process died; look a few times.
        for delay in (0.0, 0.3, 1.0, 3.0):
            await asyncio.sleep(delay)
            await self.resume_stuck()

    async def start_all(self) -> None:
        # The fork server imports for seconds and needs no Restate for it: start it first, so its
        # imports overlap Restate's boot. Registration below waits for both.
        self.start_zygote()
        if self.restate:
            self.restate.start()
        self.write_runtime(ready=False)  # the pids, for a `dals down` that comes before ready
        await self.wait_zygote()
        for w in self.workers:
            await self.start_worker(w)
        self.write_runtime(ready=False)
        if self.restate:
            await self.wait_restate()
        else:
            await self.wait_restate(timeout=10.0)
        await self.wait_worker()
        await self.api.register(self.worker_url)
        self.write_runtime(ready=True)
        log(f"ready: ingress {self.api.ingress_url}, admin {self.api.admin_url}, worker {self.worker_url}")
        # Tasks left behind by a runtime that was down (or stopped) go on now.
        await self.resume_stuck(include_paused=True)
        self.purger = asyncio.get_running_loop().create_task(self.retention())

    async def retention(self, first_after_s: float = 5.0, every_s: float = 3600.0) -> None:
        """Purge finished tasks older than `DALS_RETENTION_DAYS`: shortly after start, then hourly."""
        from ..client.retention import purge_finished, report_line
        from ..config.settings import retention_days

        days = retention_days()
        if days is None:
            return
        delay = first_after_s
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
                return
            except TimeoutError:
                pass
            delay = every_s
            try:
                report = await purge_finished(self.api, days)
            except Exception as e:  # noqa: BLE001 - a failed purge must not stop the supervisor
                log(f"retention: purge failed, next try in {every_s:.0f} s: {type(e).__name__}: {e}")
                continue
            if report["tasks"] or report["errors"]:
                log(f"retention: {report_line(report)}")

    async def restart(self, child: Child | ForkedChild) -> None:
        now = time.monotonic()
        if self.crash_loop.died(child.name, now - child.started, now):
            log(f"{child.name} keeps dying right after it starts; waiting 5s before restarting it")
            await asyncio.sleep(5)
        log(f"{child.name} (pid {child.pid}) exited with {child.exit_code()}; restarting")
        self.write_runtime(ready=False)
        if child is self.restate:
            child.start()
            await self.wait_restate()
        elif child is self.zygote:
            self.start_zygote()
            await self.wait_zygote()
        else:
            assert isinstance(child, ForkedChild)
            at = self.workers.index(child)
            child = self._worker_child()
            await self.start_worker(child)
            self.workers[at] = child
            try:
                await self.wait_worker(child)
            except RuntimeError:
                child.stop(timeout=2.0)  # alive but not serving: the watch loop starts another
                raise
        self.write_runtime(ready=True)
        log(f"{child.name} back as pid {child.pid}")
        asyncio.get_running_loop().create_task(self.resume_soon())

    async def watch(self) -> None:
        while not self.stopping.is_set():
            for child in (self.restate, self.zygote, *self.workers):
                if child and not child.alive() and not self.stopping.is_set():
                    try:
                        await self.restart(child)
                    except RuntimeError as e:
                        log(str(e))
            try:
                await asyncio.wait_for(self.stopping.wait(), 0.05)
            except TimeoutError:
                pass

    def stop_all(self) -> None:
        for w in self.workers:
            w.stop()
        if self.restate:
            self.restate.stop(timeout=15)
        self.zygote.stop()
        self.layout.write_runtime({"supervisor": None, "ready": False, "stateDir": str(self.layout.root)})


def kill_leftovers(layout: Layout) -> None:
    """Children of a supervisor that was killed outright are still running: stop them first."""
    for part, pid in layout.child_pids():
        if pid_runs(pid, str(layout.root)):
            log(f"stopping leftover {part} pid {pid}")
            kill_pid(pid, signal.SIGTERM if part == "restate" else signal.SIGINT)


async def _started_unless_stopped(sup: Supervisor) -> bool:
    """Start everything, unless `dals down` (SIGTERM) comes first: then False, at once."""
    start = asyncio.ensure_future(sup.start_all())
    stop = asyncio.ensure_future(sup.stopping.wait())
    await asyncio.wait({start, stop}, return_when=asyncio.FIRST_COMPLETED)
    if start.done():
        stop.cancel()
        start.result()  # a failure to start raises here
        return True
    start.cancel()
    await asyncio.gather(start, return_exceptions=True)
    return False


async def amain() -> int:
    layout = Layout(state_dir()).ensure()
    lock = open(layout.supervisor_lock, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log("another supervisor runs for this state dir")
        return 0
    layout.supervisor_pid.write_text(str(os.getpid()))
    kill_leftovers(layout)
    sup = Supervisor(layout, external_restate())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, sup.stopping.set)
    try:
        if not await _started_unless_stopped(sup):
            log("stopped while starting")
            sup.stop_all()
            # an `error`, so that a `dals up` waiting for this start gives up at once
            layout.write_runtime(
                {
                    "supervisor": None,
                    "ready": False,
                    "stateDir": str(layout.root),
                    "error": "stopped (dals down) while starting",
                }
            )
            await sup.api.aclose()
            return 0
        await sup.watch()
    except Exception as e:  # noqa: BLE001 - the supervisor reports and stops what it started
        log(f"failed: {e}")
        sup.stop_all()
        layout.write_runtime({"supervisor": None, "ready": False, "error": str(e), "stateDir": str(layout.root)})
        return 1
    log("stopping")
    sup.stop_all()
    await sup.api.aclose()
    return 0


def main() -> int:
    return asyncio.run(amain())
