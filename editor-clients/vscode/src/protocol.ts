/**
 * DALS's custom LSP surface as the server defines it (server/dals/lsp/protocol.py, docs/protocol.md):
 * command ids, the notification method and payload types. Mirrors the server; no `vscode` import.
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

/** What an undo or rewind would revert (`dryRun: true`), and what it did. */
export interface RevertPreview { taskId: string; dryRun: true; revert: string[]; commands: string[] }
export interface RevertResult { taskId: string; reverted: string[]; skipped: { path: string; reason: string }[]; commands?: string[] }

export const TASK_EVENT = 'dals/taskEvent';
export const TASK_DELTA = 'dals/taskDelta';

/** Live text of the model response that will become event `seq` (not journaled). */
export interface TaskDelta {
    taskId: string;
    seq: number;
    text: string;
}

export const STATUSES = [
    'queued', 'running', 'waiting', 'retrying', 'paused', 'succeeded', 'failed', 'cancelled',
] as const;
export type Status = (typeof STATUSES)[number];
export const FINAL_STATUSES: readonly Status[] = ['succeeded', 'failed', 'cancelled'];

export type EventKind = 'status' | 'model' | 'tool' | 'edit' | 'approval' | 'log';
export type Mode = 'auto' | 'review';
export type Decision = 'approve' | 'reject';

export interface Position { line: number; character: number }
export interface Range { start: Position; end: Position }

export interface TaskEvent {
    taskId: string;
    seq: number;
    kind: EventKind | string;
    title: string;
    status: Status | string;
    at: string;
    detail?: Record<string, unknown> | null;
}

/** What a task waits for in `waiting`: an edit to approve (with its diff) or a command. */
export interface PendingApproval {
    requestId: string;
    action: 'edit' | 'command' | string;
    path?: string | null;
    diff?: string | null;
    command?: string | null;
    cwd?: string | null;
    question?: string | null;
    /** action "mcp": the MCP tool (`mcp__<server>__<tool>`), its server and the model's arguments. */
    tool?: string | null;
    server?: string | null;
    arguments?: Record<string, unknown> | null;
}

export interface Usage {
    requests: number;
    inputTokens?: number;
    outputTokens?: number;
    toolCalls?: number;
    /** Model requests answered from the journal on replay instead of the provider. */
    replayedRequests?: number;
    /** Tokens of those replayed requests: not paid again. */
    replayedInputTokens?: number;
    replayedOutputTokens?: number;
    /** Estimated cost of the paid requests; null when the model's price is unknown. */
    costUsd?: number | null;
    /** Estimated cost of the replayed requests (what the journal saved); null when the price is unknown. */
    savedUsd?: number | null;
}

export interface TaskSummary {
    taskId: string;
    title: string;
    prompt?: string;
    workspace?: string;
    uri?: string | null;
    mode?: Mode;
    model?: string;
    status: Status | string;
    createdAt?: string;
    updatedAt?: string;
    steps: number;
    /** Turns of the conversation: 1, plus one per follow-up. */
    turns?: number;
    lastSeq?: number;
    lastEvent?: { seq: number; kind: string; title: string; at: string } | null;
    usage: Usage;
    filesChanged?: string[];
    result?: string | null;
    error?: string | null;
    /** While `retrying` or `paused`: why the last attempt failed. */
    lastFailure?: string | null;
    pending?: PendingApproval | null;
    invocationId?: string | null;
}

export interface ShownTask extends TaskSummary {
    events: TaskEvent[];
}

export interface StartTaskArgs {
    prompt: string;
    uri?: string;
    range?: Range;
    mode?: Mode;
    model?: string;
}

export interface AnswerArgs {
    taskId: string;
    requestId: string;
    decision: Decision;
    comment?: string;
}

/** Sends one `workspace/executeCommand` with a single object argument and returns its result. */
export type CommandSender = (command: string, arg: object) => Promise<unknown>;

/** Typed calls of the server's `dals.*` commands over any transport. */
export class DalsApi {
    constructor(private readonly send: CommandSender) {}

    async startTask(args: StartTaskArgs): Promise<{ taskId: string }> {
        return (await this.send(SERVER_COMMANDS.startTask, args)) as { taskId: string };
    }

    async listTasks(status?: Status[]): Promise<TaskSummary[]> {
        const result = (await this.send(SERVER_COMMANDS.listTasks, status ? { status } : {})) as { tasks: TaskSummary[] };
        return result.tasks;
    }

    async showTask(taskId: string): Promise<ShownTask> {
        return (await this.send(SERVER_COMMANDS.showTask, { taskId })) as ShownTask;
    }

    async cancelTask(taskId: string): Promise<{ taskId: string; status: Status }> {
        return (await this.send(SERVER_COMMANDS.cancelTask, { taskId })) as { taskId: string; status: Status };
    }

    async resumeTask(taskId: string): Promise<{ taskId: string; status: Status }> {
        return (await this.send(SERVER_COMMANDS.resumeTask, { taskId })) as { taskId: string; status: Status };
    }

    async answer(args: AnswerArgs): Promise<{ ok: boolean }> {
        return (await this.send(SERVER_COMMANDS.answer, args)) as { ok: boolean };
    }

    async followUp(taskId: string, prompt: string): Promise<{ taskId: string; turn: number }> {
        return (await this.send(SERVER_COMMANDS.followUp, { taskId, prompt })) as { taskId: string; turn: number };
    }

    async steer(taskId: string, message: string): Promise<{ taskId: string; queued: boolean }> {
        return (await this.send(SERVER_COMMANDS.steer, { taskId, message })) as { taskId: string; queued: boolean };
    }

    async undoTask(taskId: string, dryRun = false): Promise<RevertPreview | RevertResult> {
        return (await this.send(SERVER_COMMANDS.undoTask, { taskId, dryRun })) as RevertPreview | RevertResult;
    }

    async rewindTask(taskId: string, toSeq: number, dryRun = false): Promise<RevertPreview | RevertResult> {
        return (await this.send(SERVER_COMMANDS.rewindTask, { taskId, toSeq, dryRun })) as RevertPreview | RevertResult;
    }

    async forkTask(taskId: string, atSeq: number, prompt?: string): Promise<{ taskId: string }> {
        return (await this.send(SERVER_COMMANDS.forkTask, { taskId, atSeq, ...(prompt ? { prompt } : {}) })) as { taskId: string };
    }

    async transcript(taskId: string): Promise<{ taskId: string; markdown: string }> {
        return (await this.send(SERVER_COMMANDS.transcript, { taskId })) as { taskId: string; markdown: string };
    }
}
