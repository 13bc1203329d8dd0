/**
 * The client's view of the server's tasks: summaries as the server sends them (dals.listTasks,
 * dals.showTask, and the summary that comes with each `dals/taskEvent`), the freshest one kept;
 * nothing is counted here. Events are deduplicated by seq; an event after a gap is held back until
 * dals.showTask fills the history (docs/protocol.md, "seq guarantees").
 * No `vscode` import: the tree view, the status bar and the tests all read this.
 */
import { ApprovalRequest, ShownTask, Status, TaskEvent, TaskEventNotice, TaskSummary } from './protocol';

/** What became of one notification. */
export type EventOutcome = 'applied' | 'duplicate' | 'gap';

export interface Disposable { dispose(): void }

interface Entry {
    summary: TaskSummary;
    /** The highest seq up to which the client has every event, or the summary says it has them. */
    cursor: number;
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
    private readonly pendingListeners = new Set<(task: TaskSummary, pending: ApprovalRequest) => void>();
    private readonly announced = new Set<string>();

    /** Called with the ids of the tasks that changed. */
    onDidChange(listener: (taskIds: string[]) => void): Disposable {
        this.changeListeners.add(listener);
        return { dispose: () => this.changeListeners.delete(listener) };
    }

    /** Called once per approval request, the first time the store sees it pending. */
    onPendingApproval(listener: (task: TaskSummary, pending: ApprovalRequest) => void): Disposable {
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

    applyEvent(ev: TaskEventNotice): EventOutcome {
        let entry = this.entries.get(ev.taskId);
        if (!entry) {
            entry = { summary: ev.summary, cursor: 0, events: new Map(), held: new Map(), fromServer: false };
            this.entries.set(ev.taskId, entry);
        }
        if (ev.seq <= entry.cursor || entry.held.has(ev.seq)) {
            return 'duplicate';
        }
        if (ev.seq > entry.cursor + 1) {
            entry.held.set(ev.seq, ev);
            return 'gap';
        }
        this.take(entry, ev);
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
        for (let seq = 1; seq <= entry.cursor; seq++) {
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
            entry = { summary: incoming, cursor: 0, events: new Map(), held: new Map(), fromServer: true };
            this.entries.set(incoming.taskId, entry);
        }
        for (const ev of events) {
            entry.events.set(ev.seq, ev);
        }
        this.keepFresher(entry, incoming);
        entry.cursor = Math.max(entry.cursor, seqOf(incoming));
        entry.fromServer = true;
        for (const seq of [...entry.held.keys()]) {
            if (seq <= entry.cursor) { entry.held.delete(seq); }
        }
        this.drainHeld(entry);
    }

    /** The event right after the cursor: stored, and its summary kept if it is the freshest. */
    private take(entry: Entry, ev: TaskEvent | TaskEventNotice): void {
        const { summary, ...event } = ev as TaskEventNotice;
        entry.events.set(ev.seq, event);
        entry.cursor = ev.seq;
        if (summary) { this.keepFresher(entry, summary); }
    }

    /** A summary that has got further (its `lastSeq`) replaces the one held; on a tie, the newer one does. */
    private keepFresher(entry: Entry, incoming: TaskSummary): void {
        if (seqOf(incoming) >= seqOf(entry.summary)) {
            entry.summary = incoming;
        }
    }

    private drainHeld(entry: Entry): void {
        for (;;) {
            const next = entry.held.get(entry.cursor + 1);
            if (!next) { return; }
            entry.held.delete(next.seq);
            this.take(entry, next);
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

/** The seq a summary has got to. */
export function seqOf(summary: TaskSummary): number {
    return summary.lastSeq ?? summary.lastEvent?.seq ?? 0;
}
