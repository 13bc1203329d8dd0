/** The "DALS Tasks" tree: one node per task, its events as children, all read from the TaskStore. */
import * as vscode from 'vscode';
import { eventIcon, eventLabel, eventTooltip, IconSpec, statusIcon, taskDescription, taskLabel, taskTooltip } from './labels';
import { TaskStore } from './taskStore';
import { TaskSync } from './taskSync';

export type TaskNode = { kind: 'task'; taskId: string };
export type EventNode = { kind: 'event'; taskId: string; seq: number };
export type Node = TaskNode | EventNode;

const REFRESH_DELAY_MS = 80;

export class TaskTreeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
    private readonly changeEmitter = new vscode.EventEmitter<Node | undefined>();
    readonly onDidChangeTreeData = this.changeEmitter.event;
    private readonly subscription: { dispose(): void };
    private timer: NodeJS.Timeout | undefined;
    /** One node object per task and event, so VS Code can match them across refreshes and reveals. */
    private readonly nodes = new Map<string, Node>();

    constructor(private readonly store: TaskStore, private readonly sync: TaskSync) {
        // Events can come in bursts: redraw at most every REFRESH_DELAY_MS.
        this.subscription = store.onDidChange(() => {
            this.timer ??= setTimeout(() => {
                this.timer = undefined;
                this.changeEmitter.fire(undefined);
            }, REFRESH_DELAY_MS);
        });
    }

    async getChildren(node?: Node): Promise<Node[]> {
        if (!node) {
            return this.store.tasks().map((t) => this.taskNode(t.taskId));
        }
        if (node.kind === 'event') {
            return [];
        }
        await this.sync.ensureHistory(node.taskId);
        return this.store.events(node.taskId).map((ev) => this.node(`${node.taskId}#${ev.seq}`, { kind: 'event', taskId: node.taskId, seq: ev.seq }));
    }

    getParent(node: Node): Node | undefined {
        return node.kind === 'event' ? this.taskNode(node.taskId) : undefined;
    }

    taskNode(taskId: string): TaskNode {
        return this.node(taskId, { kind: 'task', taskId }) as TaskNode;
    }

    private node(key: string, fresh: Node): Node {
        let node = this.nodes.get(key);
        if (!node) {
            node = fresh;
            this.nodes.set(key, node);
        }
        return node;
    }

    getTreeItem(node: Node): vscode.TreeItem {
        if (node.kind === 'task') {
            const task = this.store.get(node.taskId);
            const item = new vscode.TreeItem(task ? taskLabel(task) : node.taskId, vscode.TreeItemCollapsibleState.Collapsed);
            item.id = node.taskId;
            if (task) {
                item.description = taskDescription(task);
                item.tooltip = taskTooltip(task);
                item.iconPath = themeIcon(statusIcon(task.status));
                item.contextValue = task.status;
                if (task.status === 'waiting') {
                    item.command = { command: 'dals.client.showPending', title: 'Show Pending Change', arguments: [node] };
                }
            }
            return item;
        }
        const ev = this.store.events(node.taskId).find((e) => e.seq === node.seq);
        const item = new vscode.TreeItem(ev ? eventLabel(ev) : `#${node.seq}`, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.taskId}#${node.seq}`;
        item.contextValue = 'event';
        if (ev) {
            item.tooltip = eventTooltip(ev);
            item.iconPath = themeIcon(eventIcon(ev));
        }
        return item;
    }

    dispose(): void {
        clearTimeout(this.timer);
        this.subscription.dispose();
        this.changeEmitter.dispose();
    }
}

function themeIcon(spec: IconSpec): vscode.ThemeIcon {
    return new vscode.ThemeIcon(spec.id, spec.color ? new vscode.ThemeColor(spec.color) : undefined);
}
