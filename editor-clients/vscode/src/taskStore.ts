/**
 * The client's view of the server's tasks: summaries from dals.listTasks / dals.showTask, folded
 * forward with live `dals/taskEvent` notifications. Events are deduplicated by seq; an event after a
 * gap is held back until dals.showTask fills the history (docs/protocol.md, "seq guarantees").
 * No `vscode` import: the tree view, the status bar and the tests all read this.
 */
import { PendingApproval, ShownTask, Status, TaskEvent, TaskSummary } from './protocol';
import { cursorOf, foldEvent, placeholderSummary } from './taskFold';

/** What became of one notification. */
export type EventOutcome = 'applied' | 'duplicate' | 'gap';

export interface Disposable { dispose(): void }

interface Entry {
    summary: TaskSummary;
    /** Known events by seq; may lack early history when the summary came from dals.listTasks. */
    events: Map<number, TaskEvent>;
    /** Events that arrived after a gap, waiting for the history before them. */
    held: Map<number, TaskEvent>;
    /** False while the task is known only from its notifications. */
    fromServer: boolean;
}

export class TaskStore {
    private readonly entries = new Map<string, Entry>();
    private readonly changeListeners = new Set<(taskIds: string[]) => void>();
    private readonly pendingListeners = new Set<(task: TaskSummary, pending: PendingApproval) => void>();
    private readonly announced = new Set<string>();

    /** Called with the ids of the tasks that changed. */
    onDidChange(listener: (taskIds: string[]) => void): Disposable {
        this.changeListeners.add(listener);
        return { dispose: () => this.changeListeners.delete(listener) };
    }

    /** Called once per approval request, the first time the store sees it pending. */
    onPendingApproval(listener: (task: TaskSummary, pending: PendingApproval) => void): Disposable {
        this.pendingListeners.add(listener);
        return { dispose: () => this.pendingListeners.delete(listener) };
    }

    applyList(summaries: TaskSummary[]): void {
        const changed = summaries.map((s) => {
            this.upsert(s, []);
            return s.taskId;
        });
        this.changed(changed);
    }

    applyShow(shown: ShownTask): void {
        const { events, ...summary } = shown;
        this.upsert(summary, events ?? []);
        this.changed([shown.taskId]);
    }

    applyEvent(ev: TaskEvent): EventOutcome {
        let entry = this.entries.get(ev.taskId);
        if (!entry) {
            entry = { summary: placeholderSummary(ev), events: new Map(), held: new Map(), fromServer: false };
            this.entries.set(ev.taskId, entry);
        }
        const cursor = cursorOf(entry.summary);
        if (ev.seq <= cursor || entry.held.has(ev.seq)) {
            return 'duplicate';
        }
        if (ev.seq > cursor + 1) {
            entry.held.set(ev.seq, ev);
            return 'gap';
        }
        entry.events.set(ev.seq, ev);
        entry.summary = foldEvent(entry.summary, ev);
        this.drainHeld(entry);
        this.changed([ev.taskId]);
        return 'applied';
    }

    get(taskId: string): TaskSummary | undefined {
        return this.entries.get(taskId)?.summary;
    }

    /** Newest first (by createdAt, then id). */
    tasks(): TaskSummary[] {
        return [...this.entries.values()].map((e) => e.summary).sort((a, b) =>
            (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || b.taskId.localeCompare(a.taskId));
    }

    /** The known events of a task, in seq order. */
    events(taskId: string): TaskEvent[] {
        const entry = this.entries.get(taskId);
        return entry ? [...entry.events.values()].sort((a, b) => a.seq - b.seq) : [];
    }

    /** True when the store holds every event from seq 1 to the task's cursor. */
    hasHistory(taskId: string): boolean {
        const entry = this.entries.get(taskId);
        if (!entry) { return false; }
        const cursor = cursorOf(entry.summary);
        for (let seq = 1; seq <= cursor; seq++) {
            if (!entry.events.has(seq)) { return false; }
        }
        return true;
    }

    /** True when dals.showTask should be asked: the task is known only from events, or events are held after a gap. */
    needsShow(taskId: string): boolean {
        const entry = this.entries.get(taskId);
        return !!entry && (!entry.fromServer || entry.held.size > 0);
    }

    countByStatus(): Record<Status, number> {
        const counts: Record<Status, number> = {
            queued: 0, running: 0, waiting: 0, retrying: 0, paused: 0, succeeded: 0, failed: 0, cancelled: 0,
        };
        for (const { summary } of this.entries.values()) {
            if (summary.status in counts) { counts[summary.status as Status] += 1; }
        }
        return counts;
    }

    private upsert(incoming: TaskSummary, events: TaskEvent[]): void {
        let entry = this.entries.get(incoming.taskId);
        if (!entry) {
            entry = { summary: incoming, events: new Map(), held: new Map(), fromServer: true };
            this.entries.set(incoming.taskId, entry);
        }
        for (const ev of events) {
            entry.events.set(ev.seq, ev);
        }
        const base: TaskSummary = { ...incoming, lastSeq: cursorOf(incoming) };
        const ours = cursorOf(entry.summary);
        if (base.lastSeq! >= ours) {
            entry.summary = base;
        } else {
            // We folded live events past the server's answer: replay them over it, if we hold them all.
            const replay: TaskEvent[] = [];
            for (let seq = base.lastSeq! + 1; seq <= ours; seq++) {
                const ev = entry.events.get(seq);
                if (!ev) { break; }
                replay.push(ev);
            }
            entry.summary = replay.length === ours - base.lastSeq!
                ? replay.reduce(foldEvent, base)
                : { ...entry.summary, title: base.title, prompt: base.prompt, createdAt: base.createdAt };
        }
        entry.fromServer = true;
        for (const seq of [...entry.held.keys()]) {
            if (seq <= cursorOf(entry.summary)) { entry.held.delete(seq); }
        }
        this.drainHeld(entry);
    }

    private drainHeld(entry: Entry): void {
        for (;;) {
            const next = entry.held.get(cursorOf(entry.summary) + 1);
            if (!next) { return; }
            entry.held.delete(next.seq);
            entry.events.set(next.seq, next);
            entry.summary = foldEvent(entry.summary, next);
        }
    }

    private changed(taskIds: string[]): void {
        for (const id of taskIds) {
            const summary = this.entries.get(id)?.summary;
            const pending = summary?.pending;
            if (summary && pending?.requestId && summary.status === 'waiting' && !this.announced.has(pending.requestId)) {
                this.announced.add(pending.requestId);
                this.pendingListeners.forEach((l) => l(summary, pending));
            }
        }
        this.changeListeners.forEach((l) => l(taskIds));
    }
}
