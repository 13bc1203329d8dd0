/**
 * Read-only virtual documents under the `dals:` scheme: a task's events ("Show events"), and for a
 * pending approval the proposed file text, an empty original for new files, or the raw diff.
 */
import * as vscode from 'vscode';

export const SCHEME = 'dals';

export class TaskDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
    private readonly contents = new Map<string, string>();
    private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changeEmitter.event;

    provideTextDocumentContent(uri: vscode.Uri): string {
        return this.contents.get(uri.toString()) ?? '';
    }

    set(uri: vscode.Uri, content: string): void {
        const key = uri.toString();
        if (this.contents.get(key) !== content) {
            this.contents.set(key, content);
            this.changeEmitter.fire(uri);
        }
    }

    has(uri: vscode.Uri): boolean {
        return this.contents.has(uri.toString());
    }

    dispose(): void {
        this.changeEmitter.dispose();
    }
}

export function eventsUri(taskId: string): vscode.Uri {
    return vscode.Uri.from({ scheme: SCHEME, path: `/tasks/${taskId}/events.md` });
}

export function transcriptUri(taskId: string): vscode.Uri {
    return vscode.Uri.from({ scheme: SCHEME, path: `/tasks/${taskId}/transcript.md` });
}

/** The task ids whose transcripts are open (kept live from the task's events). */
export function openTranscriptTaskIds(): string[] {
    return vscode.workspace.textDocuments
        .filter((d) => d.uri.scheme === SCHEME && d.uri.path.endsWith('/transcript.md'))
        .map((d) => taskIdOfUri(d.uri))
        .filter((id): id is string => !!id);
}

export function proposedUri(taskId: string, requestId: string, file: string): vscode.Uri {
    return vscode.Uri.from({ scheme: SCHEME, path: `/tasks/${taskId}/${requestId}/proposed/${file}` });
}

export function emptyOriginalUri(taskId: string, requestId: string, file: string): vscode.Uri {
    return vscode.Uri.from({ scheme: SCHEME, path: `/tasks/${taskId}/${requestId}/original/${file}` });
}

export function diffTextUri(taskId: string, requestId: string): vscode.Uri {
    return vscode.Uri.from({ scheme: SCHEME, path: `/tasks/${taskId}/${requestId}/change.diff` });
}

/** The task id in any `dals:` document of a task. */
export function taskIdOfUri(uri: vscode.Uri): string | undefined {
    return uri.scheme === SCHEME ? /^\/tasks\/([^/]+)\//.exec(uri.path)?.[1] : undefined;
}

/** The task ids whose events documents are open. */
export function openEventsTaskIds(): string[] {
    return vscode.workspace.textDocuments
        .filter((d) => d.uri.scheme === SCHEME && d.uri.path.endsWith('/events.md'))
        .map((d) => taskIdOfUri(d.uri))
        .filter((id): id is string => !!id);
}
