/** Real payload shapes from docs/protocol.md, for the unit tests. */
import { EventKind, Status, TaskEvent, TaskEventNotice, TaskSummary } from '../src/protocol';

export const TASK = '20261127-040208-c09169';

export function summary(over: Partial<TaskSummary> = {}): TaskSummary {
    return {
        taskId: TASK, title: 'Shout', prompt: 'Shout', workspace: '/tmp/ws', status: 'running',
        createdAt: '2026-11-27T04:02:08.958Z', updatedAt: '2026-11-27T04:02:09.008Z', steps: 0, turns: 1, lastSeq: 1,
        lastEvent: { seq: 1, kind: 'status', title: 'Task started', at: '2026-11-27T04:02:09.008Z' },
        usage: { requests: 0, inputTokens: 0, outputTokens: 0, toolCalls: 0, replayedRequests: 0 },
        usageLine: '0 steps, 0 model requests (0 replayed), 0/0 tokens in/out', invocationId: null,
        ...over,
    };
}

/** A notification as the server sends it: the event and the summary after it (`over`: what the server counted). */
export function notice(ev: TaskEvent, over: Partial<TaskSummary> = {}): TaskEventNotice {
    const lastEvent = { seq: ev.seq, kind: ev.kind, title: ev.title, at: ev.at };
    return { ...ev, summary: summary({ taskId: ev.taskId, status: ev.status, lastSeq: ev.seq, lastEvent, updatedAt: ev.at, ...over }) };
}

function event(taskId: string, seq: number, kind: EventKind, title: string, status: Status, detail?: Record<string, unknown>): TaskEvent {
    return { taskId, seq, kind, title, status, at: `2026-11-27T04:02:09.${String(seq).padStart(3, '0')}Z`, ...(detail ? { detail } : {}) };
}

/** The seven live notifications of the protocol page's example task. */
export function shoutEvents(taskId = TASK): TaskEventNotice[] {
    const steps = (n: number, requests: number) => ({
        steps: n, usage: { requests, toolCalls: n - requests }, usageLine: `${n} steps, ${requests} model requests (0 replayed)`,
    });
    return [
        notice(event(taskId, 1, 'status', 'Task started', 'running', { model: 'offline' })),
        notice(event(taskId, 2, 'model', 'Model: read_file', 'running', { model: 'offline', inputTokens: 27, outputTokens: 6, toolCalls: [] }), steps(1, 1)),
        notice(event(taskId, 3, 'tool', 'read_file app.py', 'running', { path: 'app.py', sha: 'sha256:1', chars: 32 }), steps(2, 1)),
        notice(event(taskId, 4, 'model', 'Model: edit_file', 'running', { model: 'offline', inputTokens: 42, outputTokens: 13, toolCalls: [] }), steps(3, 2)),
        notice(event(taskId, 5, 'edit', 'edit_file app.py', 'running', {
            path: 'app.py', sha: 'sha256:2',
            diff: "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def greet():\n-    return 'hello'\n+    return 'HELLO'",
        }), { ...steps(4, 2), filesChanged: ['app.py'] }),
        notice(event(taskId, 6, 'model', 'Model: answer', 'running', { model: 'offline', inputTokens: 59, outputTokens: 12, toolCalls: [], text: 'done' }),
            { ...steps(5, 3), filesChanged: ['app.py'] }),
        notice(event(taskId, 7, 'status', 'Task succeeded', 'succeeded', { result: 'Plan done: 2 steps (read_file ×1, edit_file ×1).' }),
            { ...steps(5, 3), filesChanged: ['app.py'], result: 'Plan done: 2 steps (read_file ×1, edit_file ×1).' }),
    ];
}

export function approvalEvents(taskId = TASK, startSeq = 2): TaskEventNotice[] {
    const at = '2026-11-27T05:00:00.000Z';
    const request = {
        requestId: 'r1', action: 'edit', path: 'app.py', diff: '--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-a\n+b',
        proposed: 'b\n', question: 'Apply?',
    };
    return [
        notice({ taskId, seq: startSeq, kind: 'approval', title: 'Apply?', status: 'waiting', at, detail: request },
            { pending: request }),
        notice({ taskId, seq: startSeq + 1, kind: 'approval', title: 'Approved', status: 'running', at, detail: { requestId: 'r1', decision: 'approve' } },
            { pending: null }),
    ];
}

/** A provider failing twice, the task paused, then resumed by the user and answered (server/dals/durable/task_record.py). */
export function providerFailureEvents(taskId = TASK, startSeq = 2): TaskEventNotice[] {
    const reason = 'openai-chat:gpt-4.1: 429 Too Many Requests (rate limit reached for requests)';
    const at = (i: number) => `2026-11-27T06:00:0${i}.000Z`;
    return [
        notice({
            taskId, seq: startSeq, kind: 'status', status: 'retrying', at: at(0),
            title: `Retrying in 0.4 s (attempt 1 of 2 failed): ${reason}`,
            detail: { reason, attempt: 1, maxAttempts: 2, delayS: 0.4 },
        }, { lastFailure: reason }),
        notice({
            taskId, seq: startSeq + 1, kind: 'status', status: 'paused', at: at(1),
            title: `Paused after 2 failed attempts: ${reason}`, detail: { reason, attempts: 2 },
        }, { lastFailure: reason }),
        notice({ taskId, seq: startSeq + 2, kind: 'status', status: 'running', at: at(2), title: 'Resumed' }, { lastFailure: null }),
        notice({
            taskId, seq: startSeq + 3, kind: 'model', status: 'running', at: at(3), title: 'Model: read_file',
            detail: { model: 'openai-chat:gpt-4.1', inputTokens: 1200, outputTokens: 30, toolCalls: [] },
        }, { steps: 1, usage: { requests: 1, inputTokens: 1200, outputTokens: 30 } }),
    ];
}
