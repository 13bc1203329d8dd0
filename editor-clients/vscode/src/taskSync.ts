/**
 * Keeps a TaskStore in step with one `dals lsp`: the task list on start and refresh, live
 * `dals/taskEvent` notifications, and dals.showTask when a task's history is missing or has a gap.
 * No `vscode` import: the extension and the round-trip test drive the same code.
 */
import { DalsApi, ShownTask, TaskEventNotice } from './protocol';
import { TaskStore } from './taskStore';

const MAX_SHOW_ROUNDS = 3;

export class TaskSync {
    private readonly showing = new Map<string, Promise<ShownTask | undefined>>();

    constructor(
        readonly api: DalsApi,
        readonly store: TaskStore,
        private readonly onError: (what: string, error: unknown) => void = () => undefined,
    ) {}

    /** Replace the summaries with dals.listTasks. */
    async refresh(): Promise<void> {
        this.store.applyList(await this.api.listTasks());
    }

    /** Feed one `dals/taskEvent` notification. */
    handleEvent(ev: TaskEventNotice): void {
        this.store.applyEvent(ev);
        if (this.store.needsShow(ev.taskId)) {
            void this.show(ev.taskId);
        }
    }

    /** Make sure the store holds the task's whole event history. */
    async ensureHistory(taskId: string): Promise<void> {
        if (!this.store.hasHistory(taskId) || this.store.needsShow(taskId)) {
            await this.show(taskId);
        }
    }

    /** dals.showTask into the store; concurrent calls for one task share one request. */
    show(taskId: string): Promise<ShownTask | undefined> {
        let running = this.showing.get(taskId);
        if (!running) {
            running = this.showRounds(taskId).finally(() => this.showing.delete(taskId));
            this.showing.set(taskId, running);
        }
        return running;
    }

    private async showRounds(taskId: string): Promise<ShownTask | undefined> {
        let shown: ShownTask | undefined;
        for (let round = 0; round < MAX_SHOW_ROUNDS; round++) {
            try {
                shown = await this.api.showTask(taskId);
            } catch (error) {
                this.onError(`dals.showTask ${taskId}`, error);
                return shown;
            }
            this.store.applyShow(shown);
            if (!this.store.needsShow(taskId)) {
                break;
            }
        }
        return shown;
    }
}
