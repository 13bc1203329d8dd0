/**
 * Folding `dals/taskEvent` notifications into a TaskSummary, the way the server counts them
 * (docs/protocol.md, TaskSummary): steps, requests, status, pending approval, the last failure of a
 * retrying or paused task. Costs and replay counts are the server's to compute: they come with the
 * next summary. No `vscode` import.
 */
import { FINAL_STATUSES, PendingApproval, Status, TaskEvent, TaskSummary } from './protocol';

const STEP_KINDS = new Set(['model', 'tool', 'edit']);
/** Statuses a failed provider request puts a task in; `lastFailure` says why. */
const FAILING = new Set(['retrying', 'paused']);

/** The seq a summary has folded up to (its follow cursor). */
export function cursorOf(summary: TaskSummary): number {
    return summary.lastSeq ?? summary.lastEvent?.seq ?? 0;
}

export function isFinal(status: string): boolean {
    return (FINAL_STATUSES as readonly string[]).includes(status);
}

/** A stand-in for a task known only from its events, until dals.showTask answers. */
export function placeholderSummary(ev: TaskEvent): TaskSummary {
    return {
        taskId: ev.taskId, title: ev.taskId, status: 'queued', createdAt: ev.at, updatedAt: ev.at,
        steps: 0, lastSeq: 0, lastEvent: null, usage: { requests: 0, inputTokens: 0, outputTokens: 0, toolCalls: 0 },
    };
}

/** A pending approval carried by an `approval` event that asks (status `waiting`, no decision yet). */
export function pendingFromEvent(ev: TaskEvent): PendingApproval | undefined {
    const d = ev.detail ?? {};
    if (ev.kind !== 'approval' || ev.status !== 'waiting' || typeof d.requestId !== 'string' || 'decision' in d) {
        return undefined;
    }
    return {
        requestId: d.requestId, action: String(d.action ?? 'edit'),
        path: str(d.path), diff: str(d.diff), command: str(d.command), cwd: str(d.cwd), question: str(d.question),
    };
}

/** The summary after `ev`, which must be the event right after the summary's cursor. */
export function foldEvent(summary: TaskSummary, ev: TaskEvent): TaskSummary {
    const usage = { ...summary.usage };
    const next: TaskSummary = {
        ...summary, usage, lastSeq: ev.seq, updatedAt: ev.at,
        lastEvent: { seq: ev.seq, kind: ev.kind, title: ev.title, at: ev.at },
    };
    if (typeof ev.status === 'string' && ev.status) {
        next.status = ev.status as Status;
    }
    const d = ev.detail ?? {};
    if (STEP_KINDS.has(ev.kind)) {
        next.steps = summary.steps + 1;
    }
    if (ev.kind === 'model') {
        usage.requests = (usage.requests ?? 0) + 1;
        usage.inputTokens = (usage.inputTokens ?? 0) + num(d.inputTokens);
        usage.outputTokens = (usage.outputTokens ?? 0) + num(d.outputTokens);
    } else if (ev.kind === 'tool' || ev.kind === 'edit') {
        usage.toolCalls = (usage.toolCalls ?? 0) + 1;
    }
    if (ev.kind === 'edit' && typeof d.path === 'string' && !('error' in d)) {
        const files = summary.filesChanged ?? [];
        next.filesChanged = files.includes(d.path) ? files : [...files, d.path];
    }
    if (ev.kind === 'approval') {
        next.pending = pendingFromEvent(ev) ?? null;
    }
    if (ev.kind === 'status' && FAILING.has(next.status)) {
        // "Retrying in 0.4 s (attempt 2 of 12 failed): <reason>" / "Paused after 12 failed attempts: <reason>"
        next.lastFailure = str(d.reason) ?? ev.title;
    } else if (next.status === 'running' || next.status === 'queued') {
        // An answer from the model, or "Resumed": the failure is over.
        next.lastFailure = null;
    }
    if (ev.kind === 'status' && isFinal(next.status)) {
        next.pending = null;
        if (typeof d.result === 'string') { next.result = d.result; }
        if (typeof d.error === 'string') { next.error = d.error; }
    }
    return next;
}

function num(v: unknown): number {
    return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function str(v: unknown): string | undefined {
    return typeof v === 'string' ? v : undefined;
}
