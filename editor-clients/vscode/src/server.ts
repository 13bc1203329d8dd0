/**
 * Starting, restarting and talking to `dals lsp` through vscode-languageclient. The server's
 * `dals.*` commands are registered as VS Code commands by the client (executeCommandProvider);
 * this module calls them with workspace/executeCommand and hands `dals/taskEvent` on.
 */
import * as vscode from 'vscode';
import {
    ConfigurationParams, DidChangeConfigurationNotification, ExecuteCommandRequest, LanguageClient,
    LanguageClientOptions, ServerOptions,
} from 'vscode-languageclient/node';
import { answerDiagnostics } from './editorDiagnostics';
import { logError, logInfo } from './logging';
import { DalsApi, TASK_DELTA, TASK_EVENT, TaskDelta, TaskEventNotice } from './protocol';
import { firstWorkspaceFolder, readSettings, serverExecutable } from './settings';
import { initializationOptions, serverSettings } from './settingsModel';

export class ServerConnection implements vscode.Disposable {
    readonly api = new DalsApi((command, arg) => this.execute(command, arg));
    private client: LanguageClient | undefined;
    private starting: Promise<LanguageClient | undefined> = Promise.resolve(undefined);
    private readonly startedEmitter = new vscode.EventEmitter<void>();
    private readonly taskEventEmitter = new vscode.EventEmitter<TaskEventNotice>();
    private readonly taskDeltaEmitter = new vscode.EventEmitter<TaskDelta>();
    /** Fired each time a `dals lsp` is up (first start and every restart). */
    readonly onDidStart = this.startedEmitter.event;
    /** Every `dals/taskEvent` notification. */
    readonly onDidReceiveTaskEvent = this.taskEventEmitter.event;
    /** Every `dals/taskDelta` notification: live model text, not journaled. */
    readonly onDidReceiveTaskDelta = this.taskDeltaEmitter.event;

    constructor(private readonly channel: vscode.LogOutputChannel) {}

    start(): Promise<LanguageClient | undefined> {
        this.starting = this.starting.then(() => this.startClient());
        return this.starting;
    }

    restart(): Promise<LanguageClient | undefined> {
        this.starting = this.starting.then(async () => {
            await this.stopClient();
            return this.startClient();
        });
        return this.starting;
    }

    /** Tell the running server about changed settings it applies live (model, approval, commands.allow). */
    notifySettings(): void {
        if (this.client?.isRunning()) {
            void this.client.sendNotification(DidChangeConfigurationNotification.type,
                { settings: initializationOptions(readSettings()) });
        }
    }

    async dispose(): Promise<void> {
        await this.starting.catch(() => undefined);
        await this.stopClient();
        this.startedEmitter.dispose();
        this.taskEventEmitter.dispose();
        this.taskDeltaEmitter.dispose();
    }

    private async execute(command: string, arg: object): Promise<unknown> {
        const client = await this.starting;
        if (!client?.isRunning()) {
            throw new Error('the DALS language server is not running: see the "DALS" output, or run "DALS: Restart Server"');
        }
        return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [arg] });
    }

    private async startClient(): Promise<LanguageClient | undefined> {
        const settings = readSettings();
        const command = serverExecutable(settings);
        const serverOptions: ServerOptions = {
            command, args: ['lsp'],  // no transport: the client would append --stdio
            options: { cwd: firstWorkspaceFolder(), env: { ...process.env } },
        };
        const clientOptions: LanguageClientOptions = {
            documentSelector: [{ scheme: 'file' }],
            outputChannel: this.channel,
            traceOutputChannel: this.channel,
            initializationOptions: initializationOptions(settings),
            middleware: { workspace: { configuration: answerConfiguration } },
        };
        const client = new LanguageClient('dals', 'DALS', serverOptions, clientOptions);
        client.onNotification(TASK_EVENT, (ev: TaskEventNotice) => this.taskEventEmitter.fire(ev));
        answerDiagnostics(client);
        client.onNotification(TASK_DELTA, (delta: TaskDelta) => this.taskDeltaEmitter.fire(delta));
        logInfo(`starting ${command} lsp`);
        try {
            await client.start();
        } catch (error) {
            logError(`could not start ${command} lsp`, error);
            void vscode.window.showErrorMessage(
                `DALS: could not start "${command} lsp". Install DALS in the workspace's .venv or set "dals.path".`,
                'Open Settings',
            ).then((choice) => choice && vscode.commands.executeCommand('workbench.action.openSettings', 'dals.path'));
            await client.dispose().catch(() => undefined);
            return undefined;
        }
        this.client = client;
        this.startedEmitter.fire();
        return client;
    }

    private async stopClient(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (client) {
            await client.dispose().catch((error) => logError('stopping dals lsp', error));
        }
    }
}

/** workspace/configuration: the `dals` section as the server reads it; other sections as VS Code has them. */
async function answerConfiguration(
    params: ConfigurationParams,
    token: vscode.CancellationToken,
    next: (params: ConfigurationParams, token: vscode.CancellationToken) => unknown,
): Promise<unknown[]> {
    const ours = params.items.map((item) => item.section === 'dals');
    const theirs = ours.every(Boolean) ? [] : await Promise.resolve(next(params, token));
    const settings = serverSettings(readSettings());
    return params.items.map((_, i) => (ours[i] ? settings : (theirs as unknown[])[i] ?? null));
}
