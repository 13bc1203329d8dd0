/**
 * Open transcripts (`dals:/tasks/{id}/transcript.md`, shown in the Markdown preview) kept live: the
 * server's Markdown (`dals.transcript`) fetched again on the task's events, and the model's text in
 * flight (`dals/taskDelta`) shown under it until the event it becomes arrives.
 */
import { DalsApi, TaskDelta, TaskEvent } from './protocol';

export class LiveTranscripts {
    private readonly markdown = new Map<string, string>();
    private readonly live = new Map<string, { seq: number; text: string }>();

    constructor(
        private readonly api: DalsApi,
        private readonly show: (taskId: string, content: string) => void,
        private readonly isOpen: (taskId: string) => boolean,
        private readonly onError: (what: string, error: unknown) => void = () => undefined,
    ) {}

    /** Fetch and show the task's transcript. */
    async refresh(taskId: string): Promise<void> {
        try {
            this.markdown.set(taskId, (await this.api.transcript(taskId)).markdown);
        } catch (error) {
            this.onError(`dals.transcript ${taskId}`, error);
            return;
        }
        this.render(taskId);
    }

    onEvent(ev: TaskEvent): void {
        if (!this.isOpen(ev.taskId)) { return; }
        const live = this.live.get(ev.taskId);
        if (live && ev.seq >= live.seq) { this.live.delete(ev.taskId); }
        void this.refresh(ev.taskId);
    }

    onDelta(delta: TaskDelta): void {
        if (!this.isOpen(delta.taskId)) { return; }
        let live = this.live.get(delta.taskId);
        if (!live || live.seq !== delta.seq) {
            live = { seq: delta.seq, text: '' };
            this.live.set(delta.taskId, live);
        }
        live.text += delta.text;
        this.render(delta.taskId);
    }

    /** The document's text: the transcript, then the live text if any. */
    content(taskId: string): string {
        const live = this.live.get(taskId);
        const base = this.markdown.get(taskId) ?? '';
        return live ? `${base.trimEnd()}\n\n## Agent (writing…)\n\n${live.text}\n` : base;
    }

    private render(taskId: string): void {
        this.show(taskId, this.content(taskId));
    }
}
