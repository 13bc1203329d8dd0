/**
 * Round trip against the real server: `dals lsp` (offline model, temp state dir) drives a real task
 * on a real file, and the extension's own TaskStore/TaskSync, fed only by what the server sends,
 * ends where the server says the task is.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ResponseError } from 'vscode-languageserver-protocol/node';
import { taskDescription } from '../src/labels';
import { SERVER_COMMANDS, TaskSummary } from '../src/protocol';
import { DalsSettings } from '../src/settingsModel';
import { seqOf } from '../src/taskStore';
import { DALS_BIN, dalsDown, LspSession } from './lspSession';

const TASK_TIMEOUT_MS = 120_000;
const ORIGINAL = "def greet():\n    return 'hello'\n";

describe('round trip with dals lsp', { timeout: 600_000 }, () => {
    let stateDir: string;
    let workspace: string;
    let env: NodeJS.ProcessEnv;
    let session: LspSession;
    const settings: DalsSettings = { path: '', model: 'offline', approval: 'auto', commandsAllow: null, ingressUrl: '', adminUrl: '' };

    before(async () => {
        assert.ok(fs.existsSync(DALS_BIN), `no dals executable at ${DALS_BIN}: run \`make setup\` at the repository root, or set DALS_BIN`);
        // DALS_TEST_STATE_DIR: a caller (the pytest wrapper) that wants to run `dals down` itself if we are killed.
        stateDir = process.env.DALS_TEST_STATE_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'dals-vscode-state-'));
        fs.mkdirSync(stateDir, { recursive: true });
        workspace = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dals-vscode-ws-')));
        fs.writeFileSync(path.join(workspace, 'app.py'), ORIGINAL);
        env = { ...process.env, DALS_STATE_DIR: stateDir, DALS_MODEL: 'offline' };
        delete env.DALS_RESTATE_INGRESS_URL;
        delete env.DALS_RESTATE_ADMIN_URL;
        session = new LspSession(env, workspace, settings);
        await session.initialize();
    });

    after(async () => {
        await session?.stop();
        if (env) {
            const code = await dalsDown(env);
            assert.equal(code, 0, 'dals down failed');
        }
        for (const dir of [stateDir, workspace]) {
            if (dir) { fs.rmSync(dir, { recursive: true, force: true }); }
        }
    });

    it('the server advertises its dals.* commands, which the extension never registers itself', () => {
        const advertised = session.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
        for (const command of Object.values(SERVER_COMMANDS)) {
            assert.ok(advertised.includes(command), `${command} not advertised`);
        }
        const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
        const ours: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);
        assert.ok(ours.length > 0 && ours.every((id) => id.startsWith('dals.client.')), ours.join(', '));
    });

    it('a task on a file: the store ends succeeded with contiguous events, and the file changed', async () => {
        const uri = pathToFileURL(path.join(workspace, 'app.py')).toString();
        const { taskId } = await session.api.startTask({ prompt: 'Explain', uri, mode: 'auto' });
        assert.match(taskId, /^[A-Za-z0-9_.-]+$/);

        const done = await session.waitFor('the task to succeed in the store', () => {
            const t = session.store.get(taskId);
            return t && ['succeeded', 'failed', 'cancelled'].includes(t.status) && caughtUp(session, taskId) && t;
        }, TASK_TIMEOUT_MS);
        assert.equal(done.status, 'succeeded', JSON.stringify(done));

        // Events: contiguous from 1, the last one final; notifications never repeated a seq.
        const events = session.store.events(taskId);
        assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
        assert.equal(events.at(-1)!.kind, 'status');
        assert.equal(events.at(-1)!.status, 'succeeded');
        const live = session.events.filter((e) => e.taskId === taskId).map((e) => e.seq);
        assert.equal(new Set(live).size, live.length, `duplicate seqs: ${live}`);
        assert.ok(events.some((e) => e.kind === 'edit' && e.title === 'write_file app.py'), 'no write_file event');

        // The folded summary agrees with the server's own.
        const shown = await session.api.showTask(taskId);
        assert.deepEqual(events.map((e) => [e.seq, e.kind, e.title]), shown.events.map((e) => [e.seq, e.kind, e.title]));
        const ours = session.store.get(taskId)!;
        assert.equal(ours.steps, shown.steps);
        assert.equal(ours.usage.requests, shown.usage.requests);
        assert.equal(ours.steps, events.filter((e) => ['model', 'tool', 'edit'].includes(e.kind)).length);
        // (then "· N replayed · T tokens saved" when the run replayed, as under `make test-replay`)
        // (less the replay count: kept beside the journal, it still grows under forced replay after
        // the last event, whose summary the store holds)
        const withoutReplays = (line: string) => line.replace(/ \([\d,]+ replayed[^)]*\)/, '');
        assert.ok(withoutReplays(taskDescription(ours)) === `succeeded · ${withoutReplays(shown.usageLine)}`,
            taskDescription(ours));
        // The ledger's new fields: the offline model is free (cost 0, not unknown), nothing replayed
        // (except under `make test-replay`, where every step is replayed on the next).
        assert.equal(shown.usage.costUsd, 0);
        if (process.env.DALS_FORCE_REPLAY === '1') {
            assert.ok((shown.usage.replayedRequests ?? 0) >= 1, `replayed ${shown.usage.replayedRequests}`);
        } else {
            assert.equal(shown.usage.replayedRequests, 0);
            assert.equal(shown.usage.replayedInputTokens, 0);
            assert.equal(shown.usage.replayedOutputTokens, 0);
        }
        assert.equal(shown.usage.savedUsd, 0);
        assert.equal(shown.lastFailure ?? null, null);

        // The file on disk: the offline model put a comment line on top.
        const text = fs.readFileSync(path.join(workspace, 'app.py'), 'utf8');
        assert.equal(text.split('\n')[0], '# DALS: Explain');
        assert.ok(text.endsWith(ORIGINAL), text);

        // Every notification carried the server's summary; the store holds the last one, the same
        // as dals.showTask counts (the client counts nothing).
        // (the one of the highest seq: two reads of one task, say a push and a showTask, may answer
        // out of order; the store orders them)
        const notices = session.events.filter((e) => e.taskId === taskId);
        const last = notices.reduce((a, b) => (b.seq > a.seq ? b : a));
        assert.equal(last.summary.status, 'succeeded', notices.map((e) => `#${e.seq} ${e.kind} ${e.summary?.status}`).join(', '));
        assert.equal(last.summary.steps, shown.steps);
        assert.equal(withoutReplays(last.summary.usageLine), withoutReplays(shown.usageLine));
        assert.match(shown.usageLine, /^\d+ steps, \d+ model requests \(\d+ replayed[^)]*\), [\d,]+\/[\d,]+ tokens in\/out, cost \$0$/);

        // Work-done progress and the end message, as VS Code would show them.
        const token = `dals-task-${taskId}`;
        assert.ok(session.createdTokens.includes(token), `progress token not created: ${session.createdTokens}`);
        const progress = await session.waitFor('progress end', () => {
            const p = session.progress.get(token);
            return p?.at(-1)?.kind === 'end' && p;
        }, 10_000);
        assert.equal(progress[0].kind, 'begin');
        // The server's title: `done` may have been folded from live events before the store's
        // showTask answer brought the title (until then a task known only by events is named by its id).
        await session.waitFor('the end message', () => session.messages.find((m) => m.message.includes(`succeeded: ${shown.title}`)), 10_000);
        await session.waitFor('the store to get the title', () => session.store.get(taskId)!.title === shown.title, 10_000);
        assert.ok(session.configurationRequests >= 1, 'the server never asked workspace/configuration');
    });

    it('dals.listTasks after the fact: a fresh refresh keeps the finished task as it was', async () => {
        const before = session.store.tasks().find((t) => t.status === 'succeeded')!;
        assert.ok(before, 'no succeeded task in the store');
        await session.sync.refresh();
        const after = session.store.get(before.taskId)!;
        assert.equal(after.status, 'succeeded');
        assert.equal(after.steps, before.steps);
        assert.ok(session.store.hasHistory(before.taskId));
    });

    it('follow up: the finished task takes a new turn, the store follows it, the transcript shows it', async () => {
        const first = session.store.tasks().find((t) => t.status === 'succeeded')!;
        assert.ok(first, 'no succeeded task in the store');
        const before = session.store.events(first.taskId).length;
        const { turn } = await session.api.followUp(first.taskId, 'What is in here?');
        assert.equal(turn, 2);
        const done = await session.waitFor('the follow-up turn to end in the store', () => {
            const evs = session.store.events(first.taskId);
            const last = evs.at(-1);
            return evs.length > before + 2 && last?.kind === 'status' && last.status === 'succeeded' && evs;
        }, TASK_TIMEOUT_MS);
        assert.deepEqual(done.map((e) => e.seq), done.map((_, i) => i + 1));
        assert.ok(done.some((e) => e.kind === 'message' && e.detail?.turn === 2));
        const shown = await session.api.showTask(first.taskId);
        assert.equal(shown.turns, 2);
        const { markdown } = await session.api.transcript(first.taskId);
        assert.ok(markdown.includes('## You (follow-up, turn 2)\n\n> What is in here?'), markdown);
        await assert.rejects(session.api.steer(first.taskId, 'too late'), /dals\.followUp/);
    });

    it('cancel: a task running a long command ends cancelled in the store', async () => {
        const plan = 'Wait\n/run_command {"command": "sleep 30"}';
        const { taskId } = await session.api.startTask({ prompt: plan });
        await session.waitFor('the task to start', () => session.store.get(taskId)?.lastSeq, TASK_TIMEOUT_MS);
        const answer = await session.api.cancelTask(taskId);
        assert.equal(answer.taskId, taskId);
        const t = await session.waitFor('the task to end', () => {
            const s = session.store.get(taskId);
            return s && ['succeeded', 'failed', 'cancelled'].includes(s.status) && s;
        }, 60_000);
        assert.equal(t.status, 'cancelled');
        assert.equal(session.store.events(taskId).at(-1)!.title, 'Task cancelled');
    });

    it('a bad argument is a JSON-RPC InvalidParams error naming the field', async () => {
        await assert.rejects(session.api.startTask({ prompt: 'x', mode: 'sometimes' as 'auto' }), (e: ResponseError<{ field?: string }>) => {
            assert.equal(e.code, -32602);
            assert.equal(e.data?.field, 'mode');
            return true;
        });
    });

    it('review mode: the pending edit shows as a diff, approve applies it, reject does not', async (t) => {
        const finished = session.store.tasks().find((x) => x.status === 'succeeded')!;
        try {
            await session.api.answer({ taskId: finished.taskId, requestId: 'probe', decision: 'approve' });
        } catch (e) {
            if (/not supported yet/.test((e as Error).message)) {
                t.skip(`the server does not support approvals yet: ${(e as Error).message}`);
                return;
            }
        }
        const file = path.join(workspace, 'app.py');
        const uri = pathToFileURL(file).toString();
        const pendingSeen: string[] = [];
        session.store.onPendingApproval((task, p) => pendingSeen.push(`${task.taskId}:${p.requestId}`));

        // Approve: the file changes only after the answer, into exactly the proposed text.
        const approved = await session.api.startTask({ prompt: 'Approve me', uri, mode: 'review' });
        const asked = await session.waitFor('a pending edit', () => session.store.get(approved.taskId)?.pending, TASK_TIMEOUT_MS);
        assert.equal(session.store.get(approved.taskId)!.status, 'waiting');
        assert.equal(asked.action, 'edit');
        assert.ok(asked.diff, 'pending edit without a diff');
        const before = fs.readFileSync(file, 'utf8');
        const proposed = asked.proposed!;  // the whole text, from the server: no diff applied here
        assert.equal(proposed.split('\n')[0], '# DALS: Approve me');
        assert.equal(fs.readFileSync(file, 'utf8'), before, 'the file changed before the approval');
        assert.deepEqual(await session.api.answer({ taskId: approved.taskId, requestId: asked.requestId, decision: 'approve' }), { ok: true });
        const ok = await waitEnded(session, approved.taskId);
        assert.equal(ok.status, 'succeeded');
        assert.equal(ok.pending ?? null, null);
        assert.equal(fs.readFileSync(file, 'utf8'), proposed);
        assert.ok(pendingSeen.includes(`${approved.taskId}:${asked.requestId}`));

        // Reject with a comment: the file stays as it is.
        const rejected = await session.api.startTask({ prompt: 'Reject me', uri, mode: 'review' });
        const asked2 = await session.waitFor('a pending edit', () => session.store.get(rejected.taskId)?.pending, TASK_TIMEOUT_MS);
        const kept = fs.readFileSync(file, 'utf8');
        await session.api.answer({ taskId: rejected.taskId, requestId: asked2.requestId, decision: 'reject', comment: 'not now' });
        await waitEnded(session, rejected.taskId);
        assert.equal(fs.readFileSync(file, 'utf8'), kept);
        const decision = session.store.events(rejected.taskId).find((e) => e.kind === 'approval' && e.detail?.decision);
        assert.equal(decision?.detail?.decision, 'reject');
    });
});

function waitEnded(session: LspSession, taskId: string): Promise<TaskSummary> {
    return session.waitFor(`task ${taskId} to end`, () => {
        const s = session.store.get(taskId);
        return s && ['succeeded', 'failed', 'cancelled'].includes(s.status) && caughtUp(session, taskId) && s;
    }, TASK_TIMEOUT_MS);
}

/** Every event up to the summary's `lastSeq`: a summary may come ahead of the events it counts
 * (it is the server's latest read, `lastSeq` >= the event's seq). */
function caughtUp(session: LspSession, taskId: string): boolean {
    const s = session.store.get(taskId);
    return !!s && session.store.hasHistory(taskId) && session.store.events(taskId).length >= seqOf(s);
}
