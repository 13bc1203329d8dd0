/**
 * Every text the extension shows for tasks and events: tree labels and descriptions, status icons,
 * the status-bar text, quick-pick items and the read-only events document. The usage is the
 * server's own line (`usageLine`): nothing is counted or priced here. No `vscode` import.
 */
import { ApprovalRequest, ShownTask, Status, TaskEvent, TaskSummary } from './protocol';

/** A codicon id and an optional theme colour id, turned into a ThemeIcon by the view. */
export interface IconSpec { id: string; color?: string }

const STATUS_ICONS: Record<Status, IconSpec> = {
    queued: { id: 'clock' },
    running: { id: 'sync~spin' },
    waiting: { id: 'question', color: 'notificationsWarningIcon.foreground' },
    retrying: { id: 'debug-restart', color: 'notificationsWarningIcon.foreground' },
    paused: { id: 'debug-pause', color: 'notificationsWarningIcon.foreground' },
    succeeded: { id: 'pass', color: 'testing.iconPassed' },
    failed: { id: 'error', color: 'testing.iconFailed' },
    cancelled: { id: 'circle-slash' },
};

const KIND_ICONS: Record<string, string> = {
    status: 'circle-outline', model: 'hubot', tool: 'tools', edit: 'edit', approval: 'question', log: 'output',
};

export function statusIcon(status: string): IconSpec {
    return STATUS_ICONS[status as Status] ?? { id: 'circle-outline' };
}

export function eventIcon(ev: TaskEvent): IconSpec {
    if (ev.kind === 'status') {
        return ev.status === 'running' ? { id: 'debug-start' } : statusIcon(ev.status);
    }
    if (ev.kind === 'approval' && ev.detail?.decision) {
        return ev.detail.decision === 'approve' ? { id: 'check', color: 'testing.iconPassed' } : { id: 'close', color: 'testing.iconFailed' };
    }
    const failed = ev.detail && 'error' in ev.detail;
    return failed ? { id: 'warning', color: 'testing.iconFailed' } : { id: KIND_ICONS[ev.kind] ?? 'circle-outline' };
}

export function taskLabel(task: TaskSummary): string {
    return task.title || task.taskId;
}

/** A failure reason longer than this is cut in a row's description (the tooltip has it whole). */
const SHORT_FAILURE = 60;

/** `<status> · <usage line>`; a retrying or paused task's reason comes right after its status. */
export function taskDescription(task: TaskSummary): string {
    const parts: string[] = [task.status];
    const failure = failingReason(task);
    if (failure) { parts.push(shorten(failure, SHORT_FAILURE)); }
    if (task.usageLine) { parts.push(task.usageLine); }
    return parts.join(' · ');
}

export function taskTooltip(task: TaskSummary): string {
    const lines = [taskLabel(task), `${task.taskId} · ${task.status}${task.mode ? ` · ${task.mode}` : ''}`];
    if (task.model) { lines.push(`model: ${task.model}`); }
    if (task.createdAt) { lines.push(`created: ${task.createdAt}`); }
    if (task.usageLine) { lines.push(`usage: ${task.usageLine}`); }
    if (task.filesChanged?.length) { lines.push(`files changed: ${task.filesChanged.join(', ')}`); }
    if (task.pending) { lines.push(`waiting for you: ${pendingQuestion(task.pending)}`); }
    if (task.lastFailure) { lines.push(`last failure: ${task.lastFailure}`); }
    if (task.status === 'retrying') { lines.push('retrying on its own; Resume Task retries now'); }
    if (task.status === 'paused') { lines.push('paused: its retries are used up; Resume Task retries it'); }
    if (task.error) { lines.push(`error: ${task.error}`); }
    if (task.result) { lines.push(`result: ${task.result}`); }
    return lines.join('\n');
}

/** The reason of a retrying or paused task, on one line. */
export function failingReason(task: TaskSummary): string | undefined {
    if ((task.status !== 'retrying' && task.status !== 'paused') || !task.lastFailure) { return undefined; }
    return task.lastFailure.split('\n').map((l) => l.trim()).find((l) => l) ?? undefined;
}

function shorten(text: string, max: number): string {
    return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

/** `#<seq> <kind> <title>` */
export function eventLabel(ev: TaskEvent): string {
    return `#${ev.seq} ${ev.kind} ${ev.title}`;
}

export function eventTooltip(ev: TaskEvent): string {
    const head = `${ev.at} · ${ev.status}`;
    return ev.detail ? `${head}\n${JSON.stringify(ev.detail, null, 2)}` : head;
}

export interface StatusCounts { running: number; waiting: number; paused: number }

export function statusCounts(byStatus: Record<Status, number>): StatusCounts {
    return {
        running: byStatus.queued + byStatus.running + byStatus.retrying,
        waiting: byStatus.waiting,
        paused: byStatus.paused,
    };
}

/** `$(sync~spin) DALS 2 running · 1 waiting`, or `$(tasklist) DALS` when nothing runs. */
export function statusBarText(c: StatusCounts): string {
    const parts: string[] = [];
    if (c.running) { parts.push(`${c.running} running`); }
    if (c.waiting) { parts.push(`${c.waiting} waiting`); }
    if (c.paused) { parts.push(`${c.paused} paused`); }
    const icon = c.running ? '$(sync~spin)' : c.waiting ? '$(bell)' : c.paused ? '$(debug-pause)' : '$(tasklist)';
    return parts.length ? `${icon} DALS ${parts.join(' · ')}` : `${icon} DALS`;
}

export function statusBarTooltip(c: StatusCounts): string {
    return `DALS tasks: ${c.running} running, ${c.waiting} waiting for you, ${c.paused} paused. Click to show the task list.`;
}

/** What the task wants to do, for "DALS task … wants to <what>". */
export function pendingWhat(p: ApprovalRequest): string {
    const where = p.cwd && p.cwd !== '.' ? ` in ${p.cwd}` : '';
    if (p.action === 'command') { return `run \`${p.command ?? '?'}\`${where}`; }
    if (p.action === 'mcp') { return `call the MCP tool \`${p.tool ?? '?'}\``; }
    return `change ${p.path ?? 'a file'}`;
}

export function pendingQuestion(p: ApprovalRequest): string {
    if (p.question) { return p.question; }
    return p.action === 'command' ? `Run \`${p.command ?? '?'}\`?` : `Apply the change to ${p.path ?? 'the file'}?`;
}

export interface PickItem { label: string; description: string; detail: string; taskId: string }

export function taskPickItem(task: TaskSummary): PickItem {
    return {
        label: taskLabel(task), description: taskDescription(task),
        detail: `${task.taskId}${task.updatedAt ? ` · updated ${task.updatedAt}` : ''}`, taskId: task.taskId,
    };
}

/** The read-only document behind "Show events". */
export function eventsDocument(shown: ShownTask): string {
    const out = [
        `# ${taskLabel(shown)}`,
        '',
        `task:     ${shown.taskId}`,
        `status:   ${taskDescription(shown)}`,
    ];
    if (shown.model) { out.push(`model:    ${shown.model}${shown.mode ? ` (${shown.mode})` : ''}`); }
    if (shown.workspace) { out.push(`folder:   ${shown.workspace}`); }
    if (shown.createdAt) { out.push(`created:  ${shown.createdAt}`); }
    if (shown.updatedAt) { out.push(`updated:  ${shown.updatedAt}`); }
    if (shown.filesChanged?.length) { out.push(`files:    ${shown.filesChanged.join(', ')}`); }
    if (shown.result) { out.push(`result:   ${shown.result}`); }
    if (shown.error) { out.push(`error:    ${shown.error}`); }
    if (shown.lastFailure) { out.push(`failure:  ${shown.lastFailure}`); }
    if (shown.prompt) { out.push('', '## Prompt', '', shown.prompt); }
    out.push('', `## Events (${shown.events.length})`, '');
    for (const ev of shown.events) {
        out.push(`${eventLabel(ev)}    [${ev.status}] ${ev.at}`);
        if (ev.detail && Object.keys(ev.detail).length) {
            for (const line of JSON.stringify(ev.detail, null, 2).split('\n')) {
                out.push(`    ${line}`);
            }
        }
    }
    return out.join('\n') + '\n';
}
