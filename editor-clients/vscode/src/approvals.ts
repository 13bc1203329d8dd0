/**
 * Pending approvals (tasks in `review` mode, or commands outside `dals.commands.allow`): show the
 * proposed text the server sends next to the current file (or its diff, when the server sends no
 * text), and answer with dals.answer.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { diffTextUri, emptyOriginalUri, proposedUri, TaskDocuments } from './documents';
import { pendingQuestion, pendingWhat, taskLabel } from './labels';
import { errorMessage, logError, logInfo } from './logging';
import { ApprovalRequest, DalsApi, Decision, TaskSummary } from './protocol';
import { TaskSync } from './taskSync';

export class Approvals {
    constructor(
        private readonly api: DalsApi,
        private readonly sync: TaskSync,
        private readonly docs: TaskDocuments,
    ) {}

    /** A new pending request: show the change, then offer Approve / Reject. */
    async review(task: TaskSummary, pending: ApprovalRequest): Promise<void> {
        if (!task.workspace) {
            // Known only from its events so far: the workspace comes with dals.showTask.
            task = (await this.sync.show(task.taskId)) ?? task;
        }
        await this.showChange(task, pending);
        const what = pendingWhat(pending);
        const choice = await vscode.window.showInformationMessage(
            `DALS task "${taskLabel(task)}" wants to ${what}. ${pendingQuestion(pending)}`,
            'Approve', 'Reject', 'Show Change',
        );
        if (choice === 'Approve') {
            await this.answer(task.taskId, 'approve');
        } else if (choice === 'Reject') {
            await this.answer(task.taskId, 'reject');
        } else if (choice === 'Show Change') {
            await this.showChange(task, pending);
        }
    }

    /** The pending request of a task, asking the server if the store has none. */
    async pendingOf(taskId: string): Promise<{ task: TaskSummary; pending: ApprovalRequest } | undefined> {
        let task = this.sync.store.get(taskId);
        if (!task?.pending) {
            task = await this.sync.show(taskId);
        }
        return task?.pending ? { task, pending: task.pending } : undefined;
    }

    /** Approve or reject the task's pending request; a rejection asks for an optional comment. */
    async answer(taskId: string, decision: Decision): Promise<void> {
        const found = await this.pendingOf(taskId);
        if (!found) {
            void vscode.window.showWarningMessage(`DALS: task ${taskId} is not waiting for an answer.`);
            return;
        }
        let comment: string | undefined;
        if (decision === 'reject') {
            comment = await vscode.window.showInputBox({
                title: `Reject: ${taskLabel(found.task)}`,
                prompt: 'Optional: tell the agent why, or what to do instead (Enter to reject, Escape to go back)',
            });
            if (comment === undefined) {
                return;
            }
        }
        try {
            await this.api.answer({
                taskId, requestId: found.pending.requestId, decision, ...(comment ? { comment } : {}),
            });
            logInfo(`${decision} ${taskId} ${found.pending.requestId}`);
        } catch (error) {
            logError(`dals.answer ${taskId}`, error);
            void vscode.window.showErrorMessage(`DALS: ${errorMessage(error)}`);
        }
    }

    /** Current vs proposed for an edit; its diff when the server sent no proposed text; nothing for a command. */
    async showChange(task: TaskSummary, pending: ApprovalRequest): Promise<void> {
        if (pending.action !== 'edit' || !pending.path) {
            return;
        }
        if (typeof pending.proposed === 'string' && task.workspace) {
            const file = vscode.Uri.file(path.resolve(task.workspace, pending.path));
            let exists = true;
            try {
                await vscode.workspace.fs.stat(file);
            } catch {
                exists = false;
            }
            const right = proposedUri(task.taskId, pending.requestId, pending.path);
            this.docs.set(right, pending.proposed);
            const left = exists ? file : emptyOriginalUri(task.taskId, pending.requestId, pending.path);
            if (!exists) {
                this.docs.set(left, '');
            }
            await vscode.commands.executeCommand('vscode.diff', left, right,
                `${pending.path} (current ↔ proposed by DALS)`, { preview: true });
            return;
        }
        if (!pending.diff) {
            return;
        }
        logInfo(`no proposed text for ${pending.path} (a very large file): showing the diff`);
        const uri = diffTextUri(task.taskId, pending.requestId);
        this.docs.set(uri, pending.diff);
        const doc = await vscode.languages.setTextDocumentLanguage(await vscode.workspace.openTextDocument(uri), 'diff');
        await vscode.window.showTextDocument(doc, { preview: true });
    }
}
