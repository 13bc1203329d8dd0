import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
    eventIcon, eventLabel, eventsDocument, pendingQuestion, pendingWhat, statusBarText, statusCounts, statusIcon, taskDescription,
    taskLabel, taskPickItem, taskTooltip, usd,
} from '../src/labels';
import { STATUSES } from '../src/protocol';
import { TaskStore } from '../src/taskStore';
import { approvalEvents, providerFailureEvents, shoutEvents, summary, TASK } from './fixtures';

describe('labels', () => {
    it('task label and description', () => {
        const s = summary({ status: 'succeeded', steps: 5, usage: { requests: 3 } });
        assert.equal(taskLabel(s), 'Shout');
        assert.equal(taskLabel(summary({ title: '' })), TASK);
        assert.equal(taskDescription(s), 'succeeded · 5 steps · 3 req');
        assert.match(taskTooltip(summary({ error: 'boom', filesChanged: ['a.py'] })), /files changed: a\.py\n.*error: boom/s);
    });

    it('shows the cost when the price is known, and what replays saved', () => {
        const usage = {
            requests: 4, inputTokens: 12345, outputTokens: 678, toolCalls: 3, costUsd: 0.0312,
            replayedRequests: 2, replayedInputTokens: 9000, replayedOutputTokens: 120, savedUsd: 0.01896,
        };
        const s = summary({ status: 'succeeded', steps: 7, model: 'openai-chat:gpt-4.1', usage });
        assert.equal(taskDescription(s), 'succeeded · 7 steps · 4 req · ~$0.0312 · 2 replayed · 9,120 tokens saved (~$0.0190)');
        const tip = taskTooltip(s);
        assert.match(tip, /^usage: 4 requests · 12,345 in \/ 678 out tokens · 3 tool calls$/m);
        assert.match(tip, /^cost: ~\$0\.0312$/m);
        assert.match(tip, /^journal: 2 replayed · 9,120 tokens saved \(~\$0\.0190\)/m);

        // Unknown price: no cost in the row, "unknown" in the tooltip, tokens saved without dollars.
        const unpriced = summary({ model: 'ollama:qwen3', steps: 3, usage: { ...usage, costUsd: null, savedUsd: null } });
        assert.equal(taskDescription(unpriced), 'running · 3 steps · 4 req · 2 replayed · 9,120 tokens saved');
        assert.match(taskTooltip(unpriced), /^cost: unknown \(no price for ollama:qwen3\)$/m);
        // Nothing replayed: no replay part.
        assert.equal(taskDescription(summary({ steps: 1, usage: { requests: 1, costUsd: 1.5, replayedRequests: 0 } })),
            'running · 1 steps · 1 req · ~$1.50');
        assert.equal(usd(0.00004), '<$0.0001');
        assert.equal(usd(0), '$0');
        // A free model (offline, local): no "$0" in the row; the tooltip says it.
        const free = summary({ usage: { requests: 3, costUsd: 0, replayedRequests: 1, replayedInputTokens: 10, replayedOutputTokens: 2, savedUsd: 0 } });
        assert.equal(taskDescription(free), 'running · 0 steps · 3 req · 1 replayed · 12 tokens saved');
        assert.match(taskTooltip(free), /^cost: \$0$/m);
        assert.equal(usd(12.345), '$12.35');
    });

    it('a retrying or paused task shows why, right after its status', () => {
        const reason = providerFailureEvents()[0].detail!.reason as string;
        const retrying = summary({ status: 'retrying', steps: 2, usage: { requests: 1 }, lastFailure: reason });
        assert.equal(taskDescription(retrying), 'retrying · openai-chat:gpt-4.1: 429 Too Many Requests (rate limit reac… · 2 steps · 1 req');
        assert.match(taskTooltip(retrying), new RegExp(`^last failure: ${reason.replace(/[()]/g, '\\$&')}\nretrying on its own; Resume Task retries now$`, 'm'));
        const paused = summary({ status: 'paused', usage: { requests: 1 }, lastFailure: 'Traceback:\n  boom\n' });
        assert.equal(taskDescription(paused), 'paused · Traceback: · 0 steps · 1 req');
        assert.match(taskTooltip(paused), /Resume Task retries it$/m);
        assert.notEqual(statusIcon('retrying').id, statusIcon('running').id);
        assert.notEqual(statusIcon('paused').id, statusIcon('waiting').id);
        // A failure kept after the task ended is in the tooltip, not the row.
        assert.equal(taskDescription(summary({ status: 'cancelled', lastFailure: reason })), 'cancelled · 0 steps · 0 req');
    });

    it('event label is #seq kind title', () => {
        assert.equal(eventLabel(shoutEvents()[2]), '#3 tool read_file app.py');
        assert.equal(eventIcon(shoutEvents()[4]).id, 'edit');
        assert.equal(eventIcon(shoutEvents()[0]).id, 'debug-start');
        assert.equal(eventIcon(shoutEvents()[6]).id, 'pass');
        const [asked, decided] = approvalEvents();
        assert.equal(eventIcon(asked).id, 'question');
        assert.equal(eventIcon(decided).id, 'check');
        assert.equal(eventIcon({ ...decided, detail: { requestId: 'r1', decision: 'reject' } }).id, 'close');
        assert.equal(eventIcon({ ...shoutEvents()[4], detail: { error: 'x' } }).id, 'warning');
    });

    it('every status has its own icon', () => {
        const ids = STATUSES.map((s) => statusIcon(s).id);
        assert.equal(new Set(ids).size, STATUSES.length);
        assert.equal(statusIcon('running').id, 'sync~spin');
        assert.equal(statusIcon('nonsense').id, 'circle-outline');
    });

    it('status bar text counts running and waiting tasks', () => {
        const store = new TaskStore();
        store.applyList([
            summary({ taskId: 'a', status: 'running' }), summary({ taskId: 'b', status: 'retrying' }),
            summary({ taskId: 'c', status: 'waiting' }), summary({ taskId: 'd', status: 'succeeded' }),
        ]);
        assert.equal(statusBarText(statusCounts(store.countByStatus())), '$(sync~spin) DALS 2 running · 1 waiting');
        assert.equal(statusBarText({ running: 0, waiting: 1, paused: 0 }), '$(bell) DALS 1 waiting');
        assert.equal(statusBarText({ running: 0, waiting: 0, paused: 2 }), '$(debug-pause) DALS 2 paused');
        assert.equal(statusBarText({ running: 0, waiting: 0, paused: 0 }), '$(tasklist) DALS');
    });

    it('pending question falls back to the action', () => {
        assert.equal(pendingQuestion({ requestId: 'r', action: 'command', command: 'make' }), 'Run `make`?');
        assert.equal(pendingQuestion({ requestId: 'r', action: 'edit', path: 'a.py' }), 'Apply the change to a.py?');
        assert.equal(pendingQuestion({ requestId: 'r', action: 'edit', question: 'Write a.py?' }), 'Write a.py?');
        assert.equal(pendingWhat({ requestId: 'r', action: 'mcp', tool: 'mcp__docs__search' }), 'call the MCP tool `mcp__docs__search`');
        assert.equal(pendingWhat({ requestId: 'r', action: 'command', command: 'make', cwd: 'sub' }), 'run `make` in sub');
        assert.equal(pendingWhat({ requestId: 'r', action: 'edit', path: 'a.py' }), 'change a.py');
    });

    it('quick pick item carries the task id', () => {
        const item = taskPickItem(summary());
        assert.equal(item.taskId, TASK);
        assert.equal(item.label, 'Shout');
        assert.match(item.description, /^running · 0 steps/);
    });

    it('events document lists every event with its detail', () => {
        const text = eventsDocument({ ...summary({ status: 'succeeded', steps: 5, usage: { requests: 3 } }), events: shoutEvents() });
        assert.match(text, /^# Shout\n/);
        assert.match(text, /status: {3}succeeded · 5 steps · 3 req/);
        assert.match(text, /usage: {4}3 requests · 0 in \/ 0 out tokens · 0 tool calls/);
        assert.match(text, /## Events \(7\)/);
        assert.match(text, /#5 edit edit_file app\.py {4}\[running\]/);
        assert.match(text, / {4}"path": "app\.py"/);
        assert.ok(text.endsWith('\n'));
    });
});
