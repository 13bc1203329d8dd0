/** The status-bar item: how many tasks run, wait for an answer, or are paused. */
import * as vscode from 'vscode';
import { statusBarText, statusBarTooltip, statusCounts } from './labels';
import { TaskStore } from './taskStore';

export class TaskStatusBar implements vscode.Disposable {
    private readonly item = vscode.window.createStatusBarItem('dals.status', vscode.StatusBarAlignment.Left, 50);
    private readonly subscription: { dispose(): void };

    constructor(private readonly store: TaskStore) {
        this.item.name = 'DALS';
        this.item.command = 'dals.client.showTasks';
        this.subscription = store.onDidChange(() => this.update());
        this.update();
        this.item.show();
    }

    private update(): void {
        const counts = statusCounts(this.store.countByStatus());
        this.item.text = statusBarText(counts);
        this.item.tooltip = statusBarTooltip(counts);
        this.item.backgroundColor = counts.waiting ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    }

    dispose(): void {
        this.subscription.dispose();
        this.item.dispose();
    }
}
