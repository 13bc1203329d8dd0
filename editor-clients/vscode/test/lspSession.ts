/**
 * A headless LSP client for the round-trip test: spawns the real `dals lsp` with its own state dir,
 * answers what VS Code would answer (workspace/configuration, work-done progress, applyEdit), feeds
 * `dals/taskEvent` into the extension's TaskSync, and stops everything it started.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
    ApplyWorkspaceEditParams, createProtocolConnection, InitializeResult, ProgressToken, ProtocolConnection,
    ShowMessageParams, StreamMessageReader, StreamMessageWriter, TextDocumentEdit, TextEdit, WorkDoneProgressBegin,
    WorkDoneProgressEnd, WorkDoneProgressReport,
} from 'vscode-languageserver-protocol/node';
import { DalsApi, TASK_EVENT, TaskEventNotice } from '../src/protocol';
import { DalsSettings, initializationOptions, serverSettings } from '../src/settingsModel';
import { TaskStore } from '../src/taskStore';
import { TaskSync } from '../src/taskSync';

/** The repository's `.venv/bin/dals` (out/test → editor-clients/vscode → repo root), or DALS_BIN. */
export const DALS_BIN = process.env.DALS_BIN ?? path.resolve(__dirname, '..', '..', '..', '..', '.venv', 'bin', 'dals');

type Progress = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

export class LspSession {
    readonly store = new TaskStore();
    readonly sync: TaskSync;
    readonly api: DalsApi;
    readonly events: TaskEventNotice[] = [];
    readonly messages: ShowMessageParams[] = [];
    readonly progress = new Map<ProgressToken, Progress[]>();
    readonly createdTokens: ProgressToken[] = [];
    readonly appliedEdits: ApplyWorkspaceEditParams[] = [];
    configurationRequests = 0;
    initializeResult: InitializeResult | undefined;
    private readonly child: ChildProcessWithoutNullStreams;
    private readonly connection: ProtocolConnection;
    private stderr = '';
    private readonly waiters = new Set<() => void>();

    constructor(readonly env: NodeJS.ProcessEnv, readonly workspace: string, readonly settings: DalsSettings) {
        this.child = spawn(DALS_BIN, ['lsp'], { cwd: workspace, env, stdio: 'pipe' });
        this.child.stderr.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString()).slice(-20000); });
        this.connection = createProtocolConnection(new StreamMessageReader(this.child.stdout), new StreamMessageWriter(this.child.stdin));
        this.api = new DalsApi((command, arg) => this.connection.sendRequest('workspace/executeCommand', { command, arguments: [arg] }));
        this.sync = new TaskSync(this.api, this.store, (what, error) => { this.stderr += `\n[client] ${what}: ${String(error)}`; });
        this.store.onDidChange(() => this.changed());

        const c = this.connection;
        c.onRequest('workspace/configuration', (params: { items: { section?: string }[] }) => {
            this.configurationRequests += 1;
            return params.items.map((item) => (item.section === 'dals' ? serverSettings(this.settings) : null));
        });
        c.onRequest('window/workDoneProgress/create', (params: { token: ProgressToken }) => {
            this.createdTokens.push(params.token);
            return null;
        });
        c.onRequest('client/registerCapability', () => null);
        c.onRequest('workspace/applyEdit', (params: ApplyWorkspaceEditParams) => {
            this.appliedEdits.push(params);
            applyToDisk(params);
            this.changed();
            return { applied: true };
        });
        c.onNotification('$/progress', (params: { token: ProgressToken; value: Progress }) => {
            const list = this.progress.get(params.token) ?? [];
            list.push(params.value);
            this.progress.set(params.token, list);
            this.changed();
        });
        c.onNotification('window/showMessage', (params: ShowMessageParams) => {
            this.messages.push(params);
            this.changed();
        });
        c.onNotification('window/logMessage', (params: { message: string }) => { this.stderr += `\n[logMessage] ${params.message}`; });
        c.onNotification(TASK_EVENT, (ev: TaskEventNotice) => {
            this.events.push(ev);
            this.sync.handleEvent(ev);
        });
        c.listen();
    }

    get pid(): number | undefined {
        return this.child.pid;
    }

    async initialize(): Promise<InitializeResult> {
        const folder = pathToFileURL(this.workspace).toString();
        this.initializeResult = await this.connection.sendRequest('initialize', {
            processId: process.pid,
            rootUri: folder,
            workspaceFolders: [{ uri: folder, name: path.basename(this.workspace) }],
            initializationOptions: initializationOptions(this.settings),
            capabilities: {
                window: { workDoneProgress: true, showMessage: {} },
                workspace: { configuration: true, applyEdit: true, workspaceFolders: true, workspaceEdit: { documentChanges: true } },
            },
        }) as InitializeResult;
        await this.connection.sendNotification('initialized', {});
        return this.initializeResult;
    }

    /** Resolves when `check` holds (re-checked on every notification); rejects after `timeoutMs` with diagnostics. */
    waitFor<T>(what: string, check: () => T | null | undefined | false | 0 | '', timeoutMs: number): Promise<T> {
        return new Promise((resolve, reject) => {
            const attempt = () => {
                const value = check();
                if (value) {
                    cleanup();
                    resolve(value as T);
                }
            };
            const timer = setTimeout(() => {
                cleanup();
                const seen = this.events.map((e) => `${e.taskId} #${e.seq} ${e.kind} ${e.title} [${e.status}]`).join('\n  ');
                reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nevents:\n  ${seen}\nserver stderr (tail):\n${this.stderr.slice(-4000)}`));
            }, timeoutMs);
            const cleanup = () => {
                clearTimeout(timer);
                this.waiters.delete(attempt);
            };
            this.waiters.add(attempt);
            attempt();
        });
    }

    /** shutdown + exit, then SIGKILL by pid if `dals lsp` has not exited within 10 s. */
    async stop(): Promise<void> {
        const exited = new Promise<void>((resolve) => {
            if (this.child.exitCode !== null || this.child.signalCode !== null) { resolve(); } else { this.child.once('exit', () => resolve()); }
        });
        try {
            await withTimeout(this.connection.sendRequest('shutdown'), 5000);
            await this.connection.sendNotification('exit');
        } catch {
            // The process may already be gone; the kill below covers it.
        }
        if (!(await withTimeout(exited.then(() => true), 10000).catch(() => false)) && this.child.pid) {
            process.kill(this.child.pid, 'SIGKILL');
            await exited;
        }
        this.connection.dispose();
    }

    private changed(): void {
        for (const waiter of [...this.waiters]) {
            waiter();
        }
    }
}

/** `dals down` for the session's state dir: stops the Restate server, worker and supervisor it started. */
export function dalsDown(env: NodeJS.ProcessEnv): Promise<number | null> {
    return new Promise((resolve, reject) => {
        const down = spawn(DALS_BIN, ['down'], { env, stdio: 'ignore' });
        const timer = setTimeout(() => {
            if (down.pid) { process.kill(down.pid, 'SIGKILL'); }
            reject(new Error('dals down did not finish within 60 s'));
        }, 60000);
        down.once('error', reject);
        down.once('exit', (code) => {
            clearTimeout(timer);
            resolve(code);
        });
    });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout ${ms} ms`)), ms);
        p.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
    });
}

/** What VS Code's own applyEdit handler does, for files on disk: apply TextEdits (last first). */
function applyToDisk(params: ApplyWorkspaceEditParams): void {
    const edits: { uri: string; edits: TextEdit[] }[] = [];
    for (const change of params.edit.documentChanges ?? []) {
        if (TextDocumentEdit.is(change)) {
            edits.push({ uri: change.textDocument.uri, edits: change.edits as TextEdit[] });
        }
    }
    for (const [uri, list] of Object.entries(params.edit.changes ?? {})) {
        edits.push({ uri, edits: list });
    }
    for (const { uri, edits: list } of edits) {
        const file = fileURLToPath(uri);
        let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
        const offset = (pos: { line: number; character: number }) => {
            const lines = text.split('\n');
            return lines.slice(0, pos.line).reduce((n, l) => n + l.length + 1, 0) + pos.character;
        };
        for (const e of [...list].sort((a, b) => offset(b.range.start) - offset(a.range.start))) {
            text = text.slice(0, offset(e.range.start)) + e.newText + text.slice(offset(e.range.end));
        }
        fs.writeFileSync(file, text);
    }
}
