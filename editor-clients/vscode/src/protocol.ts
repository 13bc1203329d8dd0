/**
 * DALS's custom LSP surface as the server defines it (server/dals/lsp/protocol.py for the names,
 * server/dals/client/contract.py for the payloads, docs/protocol.md): command ids, notification
 * methods and payload types. Mirrors the server; no `vscode` import.
 */

export const SERVER_COMMANDS = {
    startTask: 'dals.startTask',
    listTasks: 'dals.listTasks',
    showTask: 'dals.showTask',
    cancelTask: 'dals.cancelTask',
    resumeTask: 'dals.resumeTask',
    answer: 'dals.answer',
    followUp: 'dals.followUp',
    steer: 'dals.steer',
    transcript: 'dals.transcript',
    forkTask: 'dals.forkTask',
    rewindTask: 'dals.rewindTask',
    undoTask: 'dals.undoTask',
} as const;

export const TASK_EVENT = 'dals/taskEvent';
export const TASK_DELTA = 'dals/taskDelta';
export const EDITOR_DIAGNOSTICS = 'dals/diagnostics';

// The payloads below mirror server/dals/client/contract.py: same names, same fields, optional (`?`)
// exactly where they are optional there (tests/unit/client/test_contract_mirror.py checks both ways).

export const STATUSES = [
    'queued', 'running', 'waiting', 'retrying', 'paused', 'succeeded', 'failed', 'cancelled',
] as const;
export type Status = (typeof STATUSES)[number];
export const FINAL_STATUSES: readonly Status[] = ['succeeded', 'failed', 'cancelled'];

export type EventKind = 'status' | 'model' | 'tool' | 'edit' | 'approval' | 'log' | 'message';
export type Mode = 'auto' | 'review';
export type Decision = 'approve' | 'reject';

// ---- command arguments ----

export interface Position { line: number; character: number }
export interface Range { start: Position; end: Position }

export interface StartTaskArgs {
    prompt: string;
    uri?: string | null;
    range?: Range | null;
    mode?: Mode | null;
    model?: string | null;
}
export interface ListTasksArgs { status?: Status[] | null }
export interface TaskIdArgs { taskId: string }
export interface AnswerArgs extends TaskIdArgs {
    requestId: string;
    decision: Decision;
    comment?: string | null;
}
export interface FollowUpArgs extends TaskIdArgs { prompt: string }
export interface SteerArgs extends TaskIdArgs { message: string }
export interface ForkArgs extends TaskIdArgs { atSeq: number; prompt?: string | null }
export interface RewindArgs extends TaskIdArgs { toSeq: number; dryRun?: boolean }
export interface UndoArgs extends TaskIdArgs { dryRun?: boolean }

// ---- the task summary ----

export interface Usage {
    requests: number;
    inputTokens?: number;
    outputTokens?: number;
    toolCalls?: number;
    /** Model requests answered from the journal on replay instead of the provider. */
    replayedRequests?: number;
    replayedInputTokens?: number;
    replayedOutputTokens?: number;
    /** Estimated cost of the paid requests; null when the model's price is unknown. */
    costUsd?: number | null;
    /** Estimated cost of the replayed requests (what the journal saved). */
    savedUsd?: number | null;
}

export interface LastEvent { seq: number; kind: string; title: string; at: string }
export interface ForkedFrom { taskId: string; atSeq: number }

/** What a `waiting` task asks: an edit (its diff and the whole proposed text), a command, an MCP tool call. */
export interface ApprovalRequest {
    requestId: string;
    action: 'edit' | 'command' | 'mcp' | string;
    question?: string | null;
    tool?: string | null;
    path?: string | null;
    diff?: string | null;
    /** The file's whole text after the change (absent for a very large file: show `diff` then). */
    proposed?: string | null;
    command?: string | null;
    cwd?: string | null;
    server?: string | null;
    arguments?: Record<string, unknown> | null;
    awakeableId?: string;
}

export interface ApprovalAnswer { requestId: string; decision: Decision; comment?: string }

export interface TaskSummary {
    taskId: string;
    title: string;
    prompt: string;
    workspace?: string;
    status: Status;
    createdAt?: string;
    updatedAt?: string;
    steps: number;
    /** Turns of the conversation: 1, plus one per follow-up. */
    turns: number;
    usage: Usage;
    /** The usage in words, worded by the server for every client. */
    usageLine: string;
    lastEvent: LastEvent | null;
    forkedFrom?: ForkedFrom;
    lastSeq?: number;
    uri?: string | null;
    mode?: Mode;
    model?: string;
    filesChanged?: string[];
    result?: string | null;
    error?: string | null;
    /** While `retrying` or `paused`: why the last attempt failed. */
    lastFailure?: string | null;
    failure?: Record<string, unknown>;
    pending?: ApprovalRequest | null;
    invocationId: string | null;
}

// ---- events and notifications ----

export interface TaskEvent {
    taskId: string;
    seq: number;
    kind: EventKind;
    title: string;
    status: Status;
    at: string;
    detail?: Record<string, unknown>;
}

/** `dals/taskEvent`: the event, and the task's summary as the server last read it (`lastSeq` >= `seq`). */
export interface TaskEventNotice extends TaskEvent {
    summary: TaskSummary;
}

export interface MessageDetail { role: 'user' | 'assistant'; text: string; turn?: number; steer?: boolean }

/** Live text of the model response that will become event `seq` (not journaled). */
export interface TaskDelta { taskId: string; seq: number; text: string }

export interface EditorDiagnosticsParams { uri: string | null }
export interface EditorDiagnosticsItem { uri: string; diagnostics: Record<string, unknown>[] }
export interface EditorDiagnosticsResult { items: EditorDiagnosticsItem[] }

// ---- command results ----

export interface TaskIdResult { taskId: string }
export interface TaskListResult { tasks: TaskSummary[] }
export interface ShownTask extends TaskSummary { events: TaskEvent[] }
export interface StatusResult { taskId: string; status: Status }
export interface AnswerResult { ok: boolean }
export interface FollowUpResult { taskId: string; turn: number }
export interface SteerResult { taskId: string; queued: boolean }
export interface TranscriptResult { taskId: string; markdown: string }
export interface Skipped { path: string; reason: string }
/** What an undo or rewind reverted, and what it left alone (changed since by someone else). */
export interface RevertResult {
    taskId: string;
    reverted: string[];
    skipped: Skipped[];
    toSeq?: number;
    commands?: string[];
}
/** What an undo or rewind would revert (`dryRun: true`). */
export interface RevertPreview { taskId: string; dryRun: true; revert: string[]; commands: string[]; toSeq?: number }

/** Sends one `workspace/executeCommand` with a single object argument and returns its result. */
export type CommandSender = (command: string, arg: object) => Promise<unknown>;

/** Typed calls of the server's `dals.*` commands over any transport. */
export class DalsApi {
    constructor(private readonly send: CommandSender) {}

    private async call<A extends object, R>(command: string, args: A): Promise<R> {
        return (await this.send(command, args)) as R;
    }

    startTask(args: StartTaskArgs): Promise<TaskIdResult> {
        return this.call(SERVER_COMMANDS.startTask, args);
    }

    async listTasks(status?: Status[]): Promise<TaskSummary[]> {
        const args: ListTasksArgs = status ? { status } : {};
        return (await this.call<ListTasksArgs, TaskListResult>(SERVER_COMMANDS.listTasks, args)).tasks;
    }

    showTask(taskId: string): Promise<ShownTask> {
        return this.call<TaskIdArgs, ShownTask>(SERVER_COMMANDS.showTask, { taskId });
    }

    cancelTask(taskId: string): Promise<StatusResult> {
        return this.call<TaskIdArgs, StatusResult>(SERVER_COMMANDS.cancelTask, { taskId });
    }

    resumeTask(taskId: string): Promise<StatusResult> {
        return this.call<TaskIdArgs, StatusResult>(SERVER_COMMANDS.resumeTask, { taskId });
    }

    answer(args: AnswerArgs): Promise<AnswerResult> {
        return this.call(SERVER_COMMANDS.answer, args);
    }

    followUp(taskId: string, prompt: string): Promise<FollowUpResult> {
        return this.call<FollowUpArgs, FollowUpResult>(SERVER_COMMANDS.followUp, { taskId, prompt });
    }

    steer(taskId: string, message: string): Promise<SteerResult> {
        return this.call<SteerArgs, SteerResult>(SERVER_COMMANDS.steer, { taskId, message });
    }

    undoTask(taskId: string, dryRun = false): Promise<RevertPreview | RevertResult> {
        return this.call<UndoArgs, RevertPreview | RevertResult>(SERVER_COMMANDS.undoTask, { taskId, dryRun });
    }

    rewindTask(taskId: string, toSeq: number, dryRun = false): Promise<RevertPreview | RevertResult> {
        return this.call<RewindArgs, RevertPreview | RevertResult>(SERVER_COMMANDS.rewindTask, { taskId, toSeq, dryRun });
    }

    forkTask(taskId: string, atSeq: number, prompt?: string): Promise<TaskIdResult> {
        return this.call<ForkArgs, TaskIdResult>(SERVER_COMMANDS.forkTask, { taskId, atSeq, ...(prompt ? { prompt } : {}) });
    }

    transcript(taskId: string): Promise<TranscriptResult> {
        return this.call<TaskIdArgs, TranscriptResult>(SERVER_COMMANDS.transcript, { taskId });
    }
}
