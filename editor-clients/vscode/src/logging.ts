/** The "DALS" output channel: the extension's own log, shared with the language client's trace. */
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function createLogChannel(): vscode.LogOutputChannel {
    channel = vscode.window.createOutputChannel('DALS', { log: true });
    return channel;
}

export function logInfo(message: string): void {
    channel?.info(message);
}

export function logWarning(message: string): void {
    channel?.warn(message);
}

export function logError(message: string, error?: unknown): void {
    channel?.error(error === undefined ? message : `${message}: ${errorMessage(error)}`);
}

/** The message of an Error or a JSON-RPC ResponseError (which names the bad field), else its text. */
export function errorMessage(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
