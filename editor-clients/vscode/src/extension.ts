/** Entry point: wires the language client, the task store, the tree, the status bar and the commands. */
import * as vscode from 'vscode';
import { Approvals } from './approvals';
import { registerCommands } from './commands';
import { eventsUri, openEventsTaskIds, openTranscriptTaskIds, SCHEME, TaskDocuments, transcriptUri } from './documents';
import { eventsDocument } from './labels';
import { LiveTranscripts } from './liveTranscripts';
import { createLogChannel, logError } from './logging';
import { ServerConnection } from './server';
import { configurationChange } from './settings';
import { TaskStatusBar } from './statusBar';
import { TaskStore } from './taskStore';
import { TaskSync } from './taskSync';
import { TaskTreeProvider } from './taskTree';

/**
 * Poll while tasks run: Restate's own retries (a worker crash, an exception in a step) are not
 * announced by events (docs/protocol.md, Status), and costs and replay counts come only with summaries.
 */
const POLL_MS = 5000;

let connection: ServerConnection | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const channel = createLogChannel();
    const store = new TaskStore();
    connection = new ServerConnection(channel);
    const sync = new TaskSync(connection.api, store, (what, error) => logError(what, error));
    const docs = new TaskDocuments();
    const approvals = new Approvals(connection.api, sync, docs);
    const transcripts = new LiveTranscripts(connection.api, (id, text) => docs.set(transcriptUri(id), text),
        (id) => openTranscriptTaskIds().includes(id), (what, error) => logError(what, error));
    const tree = new TaskTreeProvider(store, sync);
    const view = vscode.window.createTreeView('dals.tasks', { treeDataProvider: tree, showCollapseAll: true });
    const refresh = () => sync.refresh().catch((error) => logError('dals.listTasks', error));
    const poll = setInterval(() => {
        const c = store.countByStatus();
        if (c.queued + c.running + c.retrying > 0) { void refresh(); }
    }, POLL_MS);

    context.subscriptions.push(
        channel, docs, tree, view, new TaskStatusBar(store),
        { dispose: () => clearInterval(poll) },
        vscode.workspace.registerTextDocumentContentProvider(SCHEME, docs),
        ...registerCommands({ connection, sync, docs, approvals, view, tree, transcripts }),
        store.onPendingApproval((task, pending) => {
            approvals.review(task, pending).catch((error) => logError(`approval ${task.taskId}`, error));
        }),
        store.onDidChange((ids) => {
            // Keep open "Show events" documents live.
            for (const id of openEventsTaskIds().filter((t) => ids.includes(t) && store.hasHistory(t))) {
                docs.set(eventsUri(id), eventsDocument({ ...store.get(id)!, events: store.events(id) }));
            }
        }),
        connection.onDidReceiveTaskEvent((ev) => { sync.handleEvent(ev); transcripts.onEvent(ev); }),
        connection.onDidReceiveTaskDelta((delta) => transcripts.onDelta(delta)),
        connection.onDidStart(() => void refresh()),
        vscode.workspace.onDidChangeConfiguration((e) => {
            const change = configurationChange(e);
            if (change === 'restart') {
                void connection?.restart();
            } else if (change === 'notify') {
                connection?.notifySettings();
            }
        }),
    );
    void connection.start();
}

export async function deactivate(): Promise<void> {
    await connection?.dispose();
    connection = undefined;
}
