/**
 * The client's palette and view commands (`dals.client.*`). They call the server's `dals.*`
 * commands; the server's own ids are registered by the language client, never here.
 */
import * as vscode from 'vscode';
import { Approvals } from './approvals';
import { eventsUri, taskIdOfUri, TaskDocuments, transcriptUri } from './documents';
import { eventsDocument, taskLabel, taskPickItem } from './labels';
import { LiveTranscripts } from './liveTranscripts';
import { errorMessage, logError } from './logging';
import { RevertPreview, RevertResult, Status } from './protocol';
import { ServerConnection } from './server';
import { readSettings } from './settings';
import { TaskSync } from './taskSync';
import { Node, TaskTreeProvider } from './taskTree';

const UNFINISHED: Status[] = ['queued', 'running', 'waiting', 'retrying', 'paused'];
const FINISHED: Status[] = ['succeeded', 'failed', 'cancelled'];
const FOLLOW_UP_PROMPT = 'What next? A new turn: the agent keeps the whole conversation.';
const STEER_PROMPT = 'A message the agent gets with its next model request.';

export interface CommandContext {
    connection: ServerConnection;
    sync: TaskSync;
    docs: TaskDocuments;
    approvals: Approvals;
    view: vscode.TreeView<Node>;
    tree: TaskTreeProvider;
    transcripts: LiveTranscripts;
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
    const { connection, sync, docs, approvals, view, tree, transcripts } = ctx;
    const api = connection.api;
    const register = (id: string, run: (...args: unknown[]) => Promise<unknown>) =>
        vscode.commands.registerCommand(id, async (...args: unknown[]) => {
            try {
                await run(...args);
            } catch (error) {
                logError(id, error);
                void vscode.window.showErrorMessage(`DALS: ${errorMessage(error)}`);
            }
        });

    const followUp = async (taskId: string, prompt: string) => {
        const { turn } = await api.followUp(taskId, prompt);
        vscode.window.setStatusBarMessage(`DALS: task ${taskId} turn ${turn} started`, 5000);
        await sync.show(taskId);
    };
    const steer = async (taskId: string, message: string) => {
        await api.steer(taskId, message);
        vscode.window.setStatusBarMessage(`DALS: message queued for ${taskId}`, 5000);
    };

    return [
        register('dals.client.startTask', async () => {
            const editor = vscode.window.activeTextEditor;
            const onFile = editor?.document.uri.scheme === 'file';
            const prompt = await vscode.window.showInputBox({
                title: 'DALS: Start Task',
                prompt: onFile
                    ? `What should the agent do? (about ${vscode.workspace.asRelativePath(editor.document.uri)}${editor.selection.isEmpty ? '' : ', selection'})`
                    : 'What should the agent do?',
                ignoreFocusOut: true,
            });
            if (!prompt?.trim()) {
                return;
            }
            const sel = editor?.selection;
            const { taskId } = await api.startTask({
                prompt,
                mode: readSettings().approval,
                ...(onFile ? { uri: editor.document.uri.toString() } : {}),
                ...(onFile && sel && !sel.isEmpty ? {
                    range: {
                        start: { line: sel.start.line, character: sel.start.character },
                        end: { line: sel.end.line, character: sel.end.character },
                    },
                } : {}),
            });
            vscode.window.setStatusBarMessage(`DALS: started task ${taskId}`, 5000);
            await sync.show(taskId);
            await view.reveal(tree.taskNode(taskId), { select: true, focus: false }).then(undefined, () => undefined);
        }),
        register('dals.client.showTasks', async () => {
            await vscode.commands.executeCommand('dals.tasks.focus');
        }),
        register('dals.client.refresh', () => sync.refresh()),
        register('dals.client.restartServer', () => connection.restart()),
        register('dals.client.resumeTask', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Resume which task?', ['paused', 'retrying']);
            if (taskId) {
                const { status } = await api.resumeTask(taskId);
                vscode.window.setStatusBarMessage(`DALS: task ${taskId} is ${status}`, 5000);
                await sync.show(taskId);
            }
        }),
        register('dals.client.cancelTask', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Cancel which task?', UNFINISHED);
            if (taskId) {
                const { status } = await api.cancelTask(taskId);
                vscode.window.setStatusBarMessage(`DALS: task ${taskId} is ${status}`, 5000);
            }
        }),
        register('dals.client.showEvents', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Show the events of which task?');
            if (taskId) {
                if (!(await sync.show(taskId))) {
                    throw new Error(`could not read task ${taskId} (see the DALS output)`);
                }
                const uri = eventsUri(taskId);
                docs.set(uri, eventsDocument({ ...sync.store.get(taskId)!, events: sync.store.events(taskId) }));
                await vscode.window.showTextDocument(uri, { preview: true });
            }
        }),
        register('dals.client.followUp', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Follow up which task?', FINISHED);
            const prompt = taskId && await vscode.window.showInputBox({
                title: `DALS: Follow Up ${taskId}`, prompt: FOLLOW_UP_PROMPT, ignoreFocusOut: true,
            });
            if (taskId && prompt?.trim()) {
                await followUp(taskId, prompt);
            }
        }),
        // The panel's input box (the view's title bar): a follow-up of the selected task once it
        // has finished, a steer while it runs.
        register('dals.client.messageTask', async (arg) => {
            const taskId = taskIdOf(arg) ?? view.selection[0]?.taskId ?? await pickTask(sync, 'Message which task?');
            if (!taskId) { return; }
            await sync.show(taskId);  // its status now, not as last drawn
            const task = sync.store.get(taskId);
            const finished = !task || (FINISHED as string[]).includes(task.status);
            const name = task ? taskLabel(task) : taskId;
            const text = await vscode.window.showInputBox({
                title: finished ? `DALS: Follow Up "${name}"` : `DALS: Steer "${name}"`,
                prompt: finished ? FOLLOW_UP_PROMPT : STEER_PROMPT, ignoreFocusOut: true,
            });
            if (text?.trim()) {
                await (finished ? followUp(taskId, text) : steer(taskId, text));
            }
        }),
        register('dals.client.undoTask', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, "Undo which task's edits?", FINISHED);
            if (taskId && await confirmRevert(`Undo the edits of task ${taskId}?`,
                await api.undoTask(taskId, true) as RevertPreview)) {
                reportRevert(taskId, await api.undoTask(taskId) as RevertResult);
                await sync.show(taskId);
            }
        }),
        register('dals.client.rewindTask', async (arg) => {
            const at = await eventOf(sync, arg, 'Rewind to which event?');
            if (at && await confirmRevert(`Rewind task ${at.taskId} to event ${at.seq}?`,
                await api.rewindTask(at.taskId, at.seq, true) as RevertPreview)) {
                reportRevert(at.taskId, await api.rewindTask(at.taskId, at.seq) as RevertResult);
                await sync.show(at.taskId);
            }
        }),
        register('dals.client.forkTask', async (arg) => {
            const at = await eventOf(sync, arg, 'Fork from which event?');
            const prompt = at && await vscode.window.showInputBox({
                title: `DALS: Fork ${at.taskId} from event ${at.seq}`,
                prompt: 'The new task\'s prompt (empty: only its conversation, for a follow-up). Files are not touched.',
                ignoreFocusOut: true,
            });
            if (at && prompt !== undefined) {
                const { taskId } = await api.forkTask(at.taskId, at.seq, prompt.trim() || undefined);
                vscode.window.setStatusBarMessage(`DALS: task ${taskId} forked from ${at.taskId}`, 5000);
                await sync.show(taskId);
            }
        }),
        register('dals.client.steer', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Steer which task?', UNFINISHED);
            const message = taskId && await vscode.window.showInputBox({
                title: `DALS: Steer ${taskId}`, prompt: STEER_PROMPT, ignoreFocusOut: true,
            });
            if (taskId && message?.trim()) {
                await steer(taskId, message);
            }
        }),
        register('dals.client.showTranscript', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Show the transcript of which task?');
            if (taskId) {
                const uri = transcriptUri(taskId);
                docs.set(uri, (await api.transcript(taskId)).markdown);
                await vscode.commands.executeCommand('markdown.showPreview', uri);
                await transcripts.refresh(taskId);
            }
        }),
        register('dals.client.showPending', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Show the pending change of which task?', ['waiting']);
            const found = taskId ? await approvals.pendingOf(taskId) : undefined;
            if (found) {
                await approvals.review(found.task, found.pending);
            }
        }),
        register('dals.client.approve', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Approve the pending request of which task?', ['waiting']);
            if (taskId) { await approvals.answer(taskId, 'approve'); }
        }),
        register('dals.client.reject', async (arg) => {
            const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Reject the pending request of which task?', ['waiting']);
            if (taskId) { await approvals.answer(taskId, 'reject'); }
        }),
    ];
}

/** The task a command was invoked on: a tree node, a `dals:` document, or a task id. */
/** Ask before reverting, showing what will be (a dryRun's answer). */
async function confirmRevert(question: string, preview: RevertPreview): Promise<boolean> {
    const files = preview.revert.length ? preview.revert.join(', ') : 'no file';
    const commands = preview.commands.length ? `\nNot undone (commands run): ${preview.commands.join('; ')}` : '';
    const choice = await vscode.window.showWarningMessage(question, {
        modal: true, detail: `Reverts (each only if unchanged since the task): ${files}${commands}`,
    }, 'Revert');
    return choice === 'Revert';
}

function reportRevert(taskId: string, result: RevertResult): void {
    const reverted = result.reverted.length ? result.reverted.join(', ') : 'nothing';
    if (result.skipped.length) {
        void vscode.window.showWarningMessage(`DALS: task ${taskId}: reverted ${reverted}; skipped `
            + result.skipped.map((s) => `${s.path} (${s.reason})`).join('; '));
    } else {
        vscode.window.setStatusBarMessage(`DALS: task ${taskId}: reverted ${reverted}`, 5000);
    }
}

/** The event a command runs on: the tree's event item, else picked from a finished task's events. */
async function eventOf(sync: TaskSync, arg: unknown, placeHolder: string): Promise<{ taskId: string; seq: number } | undefined> {
    if (arg && typeof arg === 'object' && 'seq' in arg && typeof arg.seq === 'number' && 'taskId' in arg
        && typeof arg.taskId === 'string') {
        return { taskId: arg.taskId, seq: arg.seq };
    }
    const taskId = taskIdOf(arg) ?? await pickTask(sync, 'Which task?', FINISHED);
    if (!taskId) { return undefined; }
    await sync.show(taskId);
    const picked = await vscode.window.showQuickPick(
        sync.store.events(taskId).map((ev) => ({ label: `#${ev.seq} ${ev.title}`, seq: ev.seq })), { placeHolder });
    return picked ? { taskId, seq: picked.seq } : undefined;
}

function taskIdOf(arg: unknown): string | undefined {
    if (typeof arg === 'string') { return arg; }
    if (arg instanceof vscode.Uri) { return taskIdOfUri(arg); }
    if (arg && typeof arg === 'object' && 'taskId' in arg && typeof arg.taskId === 'string') { return arg.taskId; }
    return undefined;
}

/** A quick pick of the server's tasks (dals.listTasks), optionally only those in `statuses`. */
async function pickTask(sync: TaskSync, placeHolder: string, statuses?: Status[]): Promise<string | undefined> {
    const tasks = await sync.api.listTasks(statuses);
    sync.store.applyList(tasks);
    if (!tasks.length) {
        void vscode.window.showInformationMessage(
            statuses ? `DALS: no task is ${statuses.join(' or ')}.` : 'DALS: there are no tasks yet.');
        return undefined;
    }
    const picked = await vscode.window.showQuickPick(tasks.map(taskPickItem), { placeHolder, matchOnDescription: true, matchOnDetail: true });
    return picked?.taskId;
}
