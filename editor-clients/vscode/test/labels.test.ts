import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
    eventIcon, eventLabel, eventsDocument, pendingQuestion, pendingWhat, statusBarText, statusCounts, statusIcon, taskDescription,
    taskLabel, taskPickItem, taskTooltip,
} from '../src/labels';
import { STATUSES } from '../src/protocol';
import { TaskStore } from '../src/taskStore';
import { approvalEvents, providerFailureEvents, shoutEvents, summary, TASK } from './fixtures';

describe('labels', () => {
    it('task label and description: the status, then the usage line of the server', () => {
        const line = '5 steps, 3 model requests (2 replayed, 9,120 tokens saved ~$0.0190), 12,345/678 tokens in/out, cost ~$0.0312';
        const s = summary({ status: 'succeeded', steps: 5, usage: { requests: 3 }, usageLine: line });
        assert.equal(taskLabel(s), 'Shout');
        assert.equal(taskLabel(summary({ title: '' })), TASK);
        assert.equal(taskDescription(s), `succeeded · ${line}`);
        assert.match(taskTooltip(s), new RegExp(`^usage: ${line.replace(/[()$.~]/g, '\\$&')}$`, 'm'));
        assert.match(taskTooltip(summary({ error: 'boom', filesChanged: ['a.py'] })), /files changed: a\.py\n.*error: boom/s);
    });

    it('a retrying or paused task shows why, right after its status', () => {
        const reason = providerFailureEvents()[0].detail!.reason as string;
        const retrying = summary({ status: 'retrying', lastFailure: reason, usageLine: 'U' });
        assert.equal(taskDescription(retrying), 'retrying · openai-chat:gpt-4.1: 429 Too Many Requests (rate limit reac… · U');
        assert.match(taskTooltip(retrying), new RegExp(`^last failure: ${reason.replace(/[()]/g, '\\$&')}\nretrying on its own; Resume Task retries now$`, 'm'));
        const paused = summary({ status: 'paused', lastFailure: 'Traceback:\n  boom\n', usageLine: 'U' });
        assert.equal(taskDescription(paused), 'paused · Traceback: · U');
        assert.match(taskTooltip(paused), /Resume Task retries it$/m);
        assert.notEqual(statusIcon('retrying').id, statusIcon('running').id);
        assert.notEqual(statusIcon('paused').id, statusIcon('waiting').id);
        // A failure kept after the task ended is in the tooltip, not the row.
        assert.equal(taskDescription(summary({ status: 'cancelled', lastFailure: reason, usageLine: 'U' })), 'cancelled · U');
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
        assert.match(item.description, /^running · 0 steps, 0 model requests/);
    });

    it('events document lists every event with its detail', () => {
        const text = eventsDocument({ ...shoutEvents()[6].summary, events: shoutEvents() });
        assert.match(text, /^# Shout\n/);
        assert.match(text, /status: {3}succeeded · 5 steps, 3 model requests/);
        assert.match(text, /## Events \(7\)/);
        assert.match(text, /#5 edit edit_file app\.py {4}\[running\]/);
        assert.match(text, / {4}"path": "app\.py"/);
        assert.ok(text.endsWith('\n'));
    });
});
