import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DalsApi, ShownTask, TaskSummary } from '../src/protocol';
import { TaskStore } from '../src/taskStore';
import { TaskSync } from '../src/taskSync';
import { approvalEvents, providerFailureEvents, shoutEvents, summary, TASK } from './fixtures';

describe('TaskStore', () => {
    it('keeps the summary each event brings: nothing is counted here', () => {
        const store = new TaskStore();
        for (const ev of shoutEvents()) {
            assert.equal(store.applyEvent(ev), 'applied');
        }
        assert.deepEqual(store.get(TASK), shoutEvents()[6].summary);
        assert.deepEqual(store.events(TASK).map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7]);
        assert.ok(!('summary' in store.events(TASK)[0]), 'events are stored without the summary they came with');
        assert.ok(store.hasHistory(TASK));
    });

    it('a summary ahead of its event (several read at once) skips none of the events after it', () => {
        const store = new TaskStore();
        const [e1, e2, e3] = shoutEvents();
        assert.equal(store.applyEvent({ ...e1, summary: e3.summary }), 'applied');
        assert.equal(store.get(TASK)!.lastSeq, 3);
        assert.equal(store.applyEvent({ ...e2, summary: e3.summary }), 'applied');
        assert.equal(store.applyEvent(e3), 'applied');
        assert.deepEqual(store.events(TASK).map((e) => e.seq), [1, 2, 3]);
        assert.equal(store.get(TASK)!.steps, 2);
    });

    it('drops duplicates and holds events after a gap until the history arrives', () => {
        const store = new TaskStore();
        const [e1, e2, e3, e4] = shoutEvents();
        store.applyList([summary({ lastSeq: 1, steps: 0 })]);
        assert.equal(store.applyEvent(e1), 'duplicate');
        assert.equal(store.applyEvent(e3), 'gap');
        assert.equal(store.applyEvent(e4), 'gap');
        assert.equal(store.applyEvent(e3), 'duplicate');
        assert.ok(store.needsShow(TASK));
        assert.equal(store.get(TASK)!.lastSeq, 1);
        // dals.showTask answers with events 1-2: the held 3 and 4 follow, with their summaries.
        store.applyShow({ ...e2.summary, events: [e1, e2] });
        assert.deepEqual(store.get(TASK), e4.summary);
        assert.ok(!store.needsShow(TASK));
        assert.deepEqual(store.events(TASK).map((e) => e.seq), [1, 2, 3, 4]);
    });

    it('a task known only from notifications needs dals.showTask for its history', () => {
        const store = new TaskStore();
        const [e1, e2] = shoutEvents();
        store.applyEvent(e1);
        assert.ok(store.needsShow(TASK));
        assert.equal(store.get(TASK)!.title, 'Shout');
        store.applyEvent(e2);
        // The answer was read before e2: the fresher summary, e2's, stays.
        store.applyShow({ ...e1.summary, events: [e1] });
        assert.deepEqual(store.get(TASK), e2.summary);
        assert.ok(!store.needsShow(TASK));
    });

    it('a summary from dals.listTasks as fresh as the events wins, with statuses events never announce', () => {
        const store = new TaskStore();
        const [e1, e2] = shoutEvents();
        store.applyEvent(e1);
        store.applyEvent(e2);
        store.applyList([summary({ status: 'retrying', lastSeq: 2, steps: 1, usage: { requests: 1 }, lastFailure: 'boom' })]);
        assert.equal(store.get(TASK)!.status, 'retrying');
        store.applyList([summary({ status: 'paused', lastSeq: 2, steps: 1, usage: { requests: 1 } })]);
        assert.equal(store.get(TASK)!.status, 'paused');
        store.applyList([summary({ status: 'running', lastSeq: 1 })]);
        assert.equal(store.get(TASK)!.status, 'paused', 'an older summary does not replace a fresher one');
        assert.ok(store.hasHistory(TASK));
        store.applyList([summary({ status: 'running', lastSeq: 5, steps: 4, usage: { requests: 2 } })]);
        assert.ok(!store.hasHistory(TASK), 'events 3-5 are not in the store yet');
        assert.equal(store.countByStatus().running, 1);
    });

    it('follows a provider failure live, as the server words it', () => {
        const store = new TaskStore();
        store.applyList([summary()]);
        const [retrying, paused, resumed, answered] = providerFailureEvents();
        assert.equal(store.applyEvent(retrying), 'applied');
        assert.equal(store.get(TASK)!.status, 'retrying');
        assert.equal(store.get(TASK)!.lastFailure, retrying.detail!.reason);
        store.applyEvent(paused);
        assert.equal(store.countByStatus().paused, 1);
        store.applyEvent(resumed);
        assert.equal(store.get(TASK)!.lastFailure, null);
        store.applyEvent(answered);
        assert.equal(store.get(TASK)!.usage.inputTokens, 1200);
    });

    it('orders tasks newest first', () => {
        const store = new TaskStore();
        store.applyList([
            summary({ taskId: 'a', createdAt: '2026-11-27T04:00:00.000Z' }),
            summary({ taskId: 'c', createdAt: '2026-11-27T06:00:00.000Z' }),
            summary({ taskId: 'b', createdAt: '2026-11-27T05:00:00.000Z' }),
        ]);
        assert.deepEqual(store.tasks().map((t) => t.taskId), ['c', 'b', 'a']);
    });

    it('announces each pending approval once, from an event or a summary, and clears it on the decision', () => {
        const store = new TaskStore();
        const seen: string[] = [];
        store.onPendingApproval((task, p) => seen.push(`${task.taskId}:${p.requestId}:${p.path}`));
        const [asked, decided] = approvalEvents();
        store.applyEvent(shoutEvents()[0]);
        store.applyEvent(asked);
        assert.equal(store.get(TASK)!.status, 'waiting');
        assert.equal(store.get(TASK)!.pending?.proposed, 'b\n');
        store.applyList([summary({ status: 'waiting', lastSeq: 2, pending: { requestId: 'r1', action: 'edit', path: 'app.py' } })]);
        assert.deepEqual(seen, [`${TASK}:r1:app.py`]);
        store.applyEvent(decided);
        assert.equal(store.get(TASK)!.status, 'running');
        assert.equal(store.get(TASK)!.pending, null);
        store.applyList([summary({ taskId: 'other', status: 'waiting', pending: { requestId: 'r9', action: 'command', command: 'rm -rf build' } })]);
        assert.deepEqual(seen, [`${TASK}:r1:app.py`, 'other:r9:undefined']);
    });

    it('tells listeners which tasks changed', () => {
        const store = new TaskStore();
        const changes: string[][] = [];
        const sub = store.onDidChange((ids) => changes.push(ids));
        store.applyEvent(shoutEvents()[0]);
        store.applyEvent(shoutEvents()[0]);
        sub.dispose();
        store.applyEvent(shoutEvents()[1]);
        assert.deepEqual(changes, [[TASK]]);
    });
});

describe('TaskSync', () => {
    function fakeApi(shown: () => ShownTask, list: TaskSummary[] = []) {
        const calls: string[] = [];
        const api = new DalsApi(async (command, arg) => {
            calls.push(`${command} ${JSON.stringify(arg)}`);
            if (command === 'dals.showTask') { return shown(); }
            if (command === 'dals.listTasks') { return { tasks: list }; }
            throw new Error(`unexpected ${command}`);
        });
        return { api, calls };
    }

    it('asks dals.showTask once for a gap, and the held events follow', async () => {
        const events = shoutEvents();
        const { api, calls } = fakeApi(() => ({ ...events[2].summary, events: events.slice(0, 3) }));
        const sync = new TaskSync(api, new TaskStore());
        sync.handleEvent(events[4]);
        sync.handleEvent(events[3]);
        await sync.show(TASK);
        assert.deepEqual(calls, [`dals.showTask {"taskId":"${TASK}"}`]);
        assert.equal(sync.store.get(TASK)!.lastSeq, 5);
        assert.ok(sync.store.hasHistory(TASK));
    });

    it('refresh applies dals.listTasks; ensureHistory fetches missing events', async () => {
        const events = shoutEvents();
        const done = summary({ status: 'succeeded', lastSeq: 7, steps: 5, usage: { requests: 3 } });
        const { api, calls } = fakeApi(() => ({ ...done, events }), [done]);
        const sync = new TaskSync(api, new TaskStore());
        await sync.refresh();
        assert.equal(sync.store.get(TASK)!.status, 'succeeded');
        await sync.ensureHistory(TASK);
        await sync.ensureHistory(TASK);
        assert.deepEqual(calls.map((c) => c.split(' ')[0]), ['dals.listTasks', 'dals.showTask']);
        assert.equal(sync.store.events(TASK).length, 7);
    });

    it('reports a failed dals.showTask instead of throwing', async () => {
        const errors: string[] = [];
        const api = new DalsApi(async () => { throw new Error('runtime down'); });
        const sync = new TaskSync(api, new TaskStore(), (what, e) => errors.push(`${what}: ${(e as Error).message}`));
        sync.handleEvent(shoutEvents()[0]);
        await sync.show(TASK);
        assert.deepEqual(errors, [`dals.showTask ${TASK}: runtime down`]);
    });
});

describe('module boundaries', () => {
    it('the logic modules do not import vscode (so node --test can load them)', () => {
        const src = path.join(__dirname, '..', '..', 'src');
        for (const f of ['protocol', 'taskStore', 'taskSync', 'labels', 'settingsModel']) {
            const text = fs.readFileSync(path.join(src, `${f}.ts`), 'utf8');
            assert.doesNotMatch(text, /from 'vscode'|require\('vscode'\)/, f);
        }
    });
});
