/**
 * Every text the extension shows for tasks and events: tree labels and descriptions, status icons,
 * the status-bar text, quick-pick items and the read-only events document. No `vscode` import.
 */
import { PendingApproval, ShownTask, Status, TaskEvent, TaskSummary } from './protocol';

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

/**
 * `<status> · <steps> steps · <requests> req`, then the cost when the model's price is known (and not
 * zero) and the replays when there were any; a retrying or paused task's reason comes right after its status.
 */
export function taskDescription(task: TaskSummary): string {
    const parts = [task.status];
    const failure = failingReason(task);
    if (failure) { parts.push(shorten(failure, SHORT_FAILURE)); }
    parts.push(`${task.steps ?? 0} steps`, `${task.usage?.requests ?? 0} req`);
    if ((task.usage?.costUsd ?? 0) > 0) { parts.push(costText(task)!); }
    const replays = replayText(task);
    if (replays) { parts.push(replays); }
    return parts.join(' · ');
}

export function taskTooltip(task: TaskSummary): string {
    const lines = [taskLabel(task), `${task.taskId} · ${task.status}${task.mode ? ` · ${task.mode}` : ''}`];
    if (task.model) { lines.push(`model: ${task.model}`); }
    if (task.createdAt) { lines.push(`created: ${task.createdAt}`); }
    lines.push(`usage: ${usageText(task)}`);
    if (task.usage?.costUsd !== undefined && (task.usage.requests ?? 0) > 0) {
        lines.push(`cost: ${costText(task) ?? `unknown (no price for ${task.model ?? 'the model'})`}`);
    }
    const replays = replayText(task);
    if (replays) { lines.push(`journal: ${replays} (model requests answered on replay, not paid again)`); }
    if (task.filesChanged?.length) { lines.push(`files changed: ${task.filesChanged.join(', ')}`); }
    if (task.pending) { lines.push(`waiting for you: ${pendingQuestion(task.pending)}`); }
    if (task.lastFailure) { lines.push(`last failure: ${task.lastFailure}`); }
    if (task.status === 'retrying') { lines.push('retrying on its own; Resume Task retries now'); }
    if (task.status === 'paused') { lines.push('paused: its retries are used up; Resume Task retries it'); }
    if (task.error) { lines.push(`error: ${task.error}`); }
    if (task.result) { lines.push(`result: ${task.result}`); }
    return lines.join('\n');
}

/** `3 requests · 1,234 in / 567 out tokens · 1 tool call` */
export function usageText(task: TaskSummary): string {
    const u = task.usage ?? { requests: 0 };
    return `${counted(u.requests ?? 0, 'request')} · ${count(u.inputTokens ?? 0)} in / ${count(u.outputTokens ?? 0)} out tokens`
        + ` · ${counted(u.toolCalls ?? 0, 'tool call')}`;
}

/** `~$0.0042` (or `$0` for a free model) when the server knows the model's price, else undefined. */
export function costText(task: TaskSummary): string | undefined {
    const cost = task.usage?.costUsd;
    return typeof cost !== 'number' ? undefined : cost === 0 ? usd(0) : `~${usd(cost)}`;
}

/** `2 replayed · 1,234 tokens saved (~$0.0031)`, or undefined when nothing was replayed. */
export function replayText(task: TaskSummary): string | undefined {
    const u = task.usage;
    if (!u?.replayedRequests) { return undefined; }
    const saved = (u.replayedInputTokens ?? 0) + (u.replayedOutputTokens ?? 0);
    const price = (u.savedUsd ?? 0) > 0 ? ` (~${usd(u.savedUsd!)})` : '';
    return `${count(u.replayedRequests)} replayed · ${count(saved)} tokens saved${price}`;
}

/** The reason of a retrying or paused task, on one line. */
export function failingReason(task: TaskSummary): string | undefined {
    if ((task.status !== 'retrying' && task.status !== 'paused') || !task.lastFailure) { return undefined; }
    return task.lastFailure.split('\n').map((l) => l.trim()).find((l) => l) ?? undefined;
}

/** `$0.0042` below a dollar, `$12.35` from a dollar up, `<$0.0001` for a fraction of a cent's hundredth. */
export function usd(amount: number): string {
    if (amount === 0) { return '$0'; }
    if (amount < 0.0001) { return '<$0.0001'; }
    return `$${amount.toFixed(amount < 1 ? 4 : 2)}`;
}

function count(n: number): string {
    return n.toLocaleString('en-US');
}

/** `1 request`, `3 requests` */
function counted(n: number, noun: string): string {
    return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
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
export function pendingWhat(p: PendingApproval): string {
    const where = p.cwd && p.cwd !== '.' ? ` in ${p.cwd}` : '';
    if (p.action === 'command') { return `run \`${p.command ?? '?'}\`${where}`; }
    if (p.action === 'mcp') { return `call the MCP tool \`${p.tool ?? '?'}\``; }
    return `change ${p.path ?? 'a file'}`;
}

export function pendingQuestion(p: PendingApproval): string {
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
        `usage:    ${usageText(shown)}`,
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
