"""The `dals` command line: runtime control, tasks from a terminal, the demo, and `dals lsp`."""

from __future__ import annotations

import argparse
import json
import sys

# asyncio (76 ms) is imported where it is used: `dals lsp` answers `initialize` before it loads.


def _cmd_up(args) -> int:
    from ..runtime import control

    try:
        st = control.up()
    except control.RuntimeError_ as e:
        print(f"dals up: {e}", file=sys.stderr)
        return 1
    print(
        json.dumps(st)
        if args.json
        else f"DALS runtime ready: ingress {st['restate']['ingress']}, admin {st['restate']['admin']}, "
        f"worker {st['worker']['url']} (state dir {st['stateDir']})"
    )
    return 0


def _cmd_down(args) -> int:
    from ..runtime import control

    stopped = control.down()
    print("DALS runtime stopped" if stopped else "DALS runtime was not running")
    return 0


def _cmd_status(args) -> int:
    from ..runtime import control

    st = control.status()
    if args.json:
        print(json.dumps(st))
    else:
        r, w = st["restate"], st["worker"]
        print(f"state dir  {st['stateDir']}")
        health = "healthy" if r["healthy"] else "down"
        print(f"restate    {health}  pid {r['pid']}  ingress {r['ingress']}  admin {r['admin']}")
        more = len(w.get("pids") or []) - 1
        also = f" (+{more} more process{'es' if more > 1 else ''} on the port)" if more > 0 else ""
        print(f"worker     {'healthy' if w['healthy'] else 'down'}  pid {w['pid']}{also}  {w['url']}")
    return 0 if st["restate"]["healthy"] and st["worker"]["healthy"] else 3


def _cmd_tasks(args) -> int:
    import asyncio

    from .terminal import tasks_command

    return asyncio.run(tasks_command(args.json, args.status))


def _cmd_purge(args) -> int:
    from ..client.restate_api import RestateUnavailable
    from ..client.retention import purge_finished, report_line
    from ..config.settings import retention_days
    from ..runtime import control
    from .follow import task_service

    days = args.older_than if args.older_than is not None else retention_days()
    if days is None:
        print(
            "dals purge: retention is off (DALS_RETENTION_DAYS=0); say how old with --older-than DAYS", file=sys.stderr
        )
        return 2

    async def purge():
        async with task_service() as service:
            return await purge_finished(service.api, days, dry_run=args.dry_run)

    try:
        import asyncio

        report = asyncio.run(purge())
    except (control.RuntimeError_, RestateUnavailable) as e:
        print(f"dals purge: DALS runtime unavailable: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report))
    else:
        print("\n".join(report["tasks"] + [report_line(report)]))
    return 1 if report["errors"] else 0


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of days >= 0: {text!r}")
    return days


def _cmd_run(args) -> int:
    import asyncio

    from .terminal import continue_command, run_command

    if args.continue_task:
        return asyncio.run(continue_command(args.continue_task, args.prompt))
    return asyncio.run(run_command(args.prompt, args.workspace, args.model, args.file))


def _cmd_transcript(args) -> int:
    import asyncio

    from .terminal import transcript_command

    return asyncio.run(transcript_command(args.task))


def _cmd_checkpoint(args) -> int:
    import asyncio

    from .checkpoints import checkpoint_command

    return asyncio.run(checkpoint_command(args.cmd, args.task, getattr(args, "seq", None), args.dry_run))


def _cmd_demo(args) -> int:
    from .demo.run import demo

    return demo(keep=args.keep)


def _cmd_doctor(args) -> int:
    from .doctor import main as doctor

    return doctor(args.json, args.workspace)


def _cmd_lsp(args) -> int:
    from .lsp_proxy import serve_forked

    code = serve_forked()
    if code is not None:
        return code
    from ..lsp.server import run_stdio

    return run_stdio()


def _cmd_zygote(args) -> int:
    from ..runtime import zygote
    from ..runtime.worker_main import preload, serve

    def lsp(_args: dict) -> int:
        from ..lsp.server import run_stdio

        return run_stdio()

    def worker(a: dict) -> int:
        return serve(int(a["port"]), shared=bool(a.get("shared")))

    def lsp_imports() -> None:  # after the first worker is forked: `dals lsp` sessions come later
        from ..lsp.server import warm_imports

        warm_imports()

    from ..config.settings import state_dir

    return zygote.serve(state_dir(), {"lsp": lsp, "worker": worker}, preload, then=lsp_imports)


def _cmd_worker(args) -> int:
    from ..runtime.worker_main import serve

    return serve(args.port, shared=args.shared)


def _cmd_supervise(args) -> int:
    from ..runtime.supervisor import main as supervise

    return supervise()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dals", description="Durable Agent Language Server")
    # `supervise` is internal (started by `dals up` / `dals lsp`): no help= keeps it out of the list,
    # and the metavar names only the commands a user runs.
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    s = sub.add_parser("lsp", help="language server over stdio")
    s.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)  # what some clients append
    s.set_defaults(fn=_cmd_lsp)
    s = sub.add_parser("up", help="start the local runtime (Restate server + worker) if needed")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=_cmd_up)
    s = sub.add_parser("down", help="stop the local runtime")
    s.set_defaults(fn=_cmd_down)
    s = sub.add_parser("status", help="runtime status")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=_cmd_status)
    s = sub.add_parser("tasks", help="list tasks")
    s.add_argument("--json", action="store_true")
    s.add_argument("--status", action="append", help="only tasks with this status (repeatable)")
    s.set_defaults(fn=_cmd_tasks)
    s = sub.add_parser("purge", help="delete finished tasks older than some days (state and journals)")
    s.add_argument(
        "--older-than",
        type=_days,
        metavar="DAYS",
        help="age in days, fractions allowed; 0 = every finished task (default: DALS_RETENTION_DAYS)",
    )
    s.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=_cmd_purge)
    s = sub.add_parser("run", help="start a task and follow it")
    s.add_argument("prompt")
    s.add_argument("--workspace", default=".")
    s.add_argument("--file", help="workspace file the task is about")
    s.add_argument("--model", help="pydantic-ai model string or 'offline' (default: DALS_MODEL)")
    s.add_argument(
        "--continue",
        dest="continue_task",
        metavar="TASK",
        help="follow up a finished task: PROMPT is its next turn, on its whole conversation",
    )
    s.set_defaults(fn=_cmd_run)
    s = sub.add_parser("transcript", help="print a task as Markdown (prompts, agent text, tools, diffs)")
    s.add_argument("task")
    s.set_defaults(fn=_cmd_transcript)
    s = sub.add_parser("undo", help="put back every file a finished task changed (unless changed since)")
    s.add_argument("task")
    s.add_argument("--dry-run", action="store_true", help="only say what would be reverted")
    s.set_defaults(fn=_cmd_checkpoint, cmd="undo")
    s = sub.add_parser("rewind", help="revert a task's changes after event SEQ and cut its conversation there")
    s.add_argument("task")
    s.add_argument("seq", type=int)
    s.add_argument("--dry-run", action="store_true", help="only say what would be reverted")
    s.set_defaults(fn=_cmd_checkpoint, cmd="rewind")
    s = sub.add_parser("demo", help="the README's main job: a task survives kill -9 of its worker")
    s.add_argument("--keep", action="store_true", help="keep the demo's runtime and files")
    s.set_defaults(fn=_cmd_demo)
    s = sub.add_parser("doctor", help="check what tasks need: Restate, ports, state dir, worker, model, key, provider")
    s.add_argument("--json", action="store_true")
    s.add_argument("--workspace", default=".", help="workspace whose .dals.toml / pyproject.toml to read")
    s.set_defaults(fn=_cmd_doctor)
    s = sub.add_parser(
        "worker",
        help="run one worker alone (the Restate endpoint that runs tasks) on a port",
        description="Run one worker: the Restate service endpoint that hosts the durable task "
        "handlers. `dals up` starts and supervises workers for you; run one alone "
        "only to place it yourself (docs/architecture.md).",
    )
    s.add_argument("--port", type=int, required=True, help="the 127.0.0.1 port to serve on")
    s.add_argument("--shared", action="store_true", help="share the port with sibling workers (SO_REUSEPORT)")
    s.set_defaults(fn=_cmd_worker)
    s = sub.add_parser("supervise")
    s.set_defaults(fn=_cmd_supervise)
    s = sub.add_parser("zygote")  # internal, started by the supervisor: the fork server
    s.set_defaults(fn=_cmd_zygote)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
