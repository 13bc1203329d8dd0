/**
 * Applying a single-file unified diff (as in the `diff` of edit events and approval requests) to a
 * text, so a proposed change can be shown next to the current file. Strict: a diff that does not
 * fit (truncated, or the file moved on) throws DiffApplyError and the caller shows the diff text
 * instead. No `vscode` import.
 */

export class DiffApplyError extends Error {}

export interface Hunk {
    oldStart: number;
    oldCount: number;
    newStart: number;
    newCount: number;
    /** Lines with their prefix: ' ' context, '-' removed, '+' added. */
    lines: string[];
}

export interface FilePatch {
    oldPath?: string;
    newPath?: string;
    /** The old side is /dev/null: the diff creates the file. */
    created: boolean;
    hunks: Hunk[];
    /** `\ No newline at end of file` after the old (resp. new) side's last line. */
    oldNoNewline: boolean;
    newNoNewline: boolean;
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

export function parseUnifiedDiff(text: string): FilePatch {
    const patch: FilePatch = { created: false, hunks: [], oldNoNewline: false, newNoNewline: false };
    const lines = text.split(/\r?\n/);
    if (lines.length && lines[lines.length - 1] === '') {
        lines.pop();
    }
    let hunk: Hunk | undefined;
    let oldLeft = 0;
    let newLeft = 0;
    let last = '';
    for (const line of lines) {
        if (hunk && (oldLeft > 0 || newLeft > 0)) {
            const tag = line === '' ? ' ' : line[0];
            if (tag === '\\') {
                markNoNewline(patch, last);
                continue;
            }
            if (tag !== ' ' && tag !== '-' && tag !== '+') {
                throw new DiffApplyError(`unexpected line inside a hunk: ${JSON.stringify(line.slice(0, 60))}`);
            }
            if (tag !== '+') { oldLeft -= 1; }
            if (tag !== '-') { newLeft -= 1; }
            if (oldLeft < 0 || newLeft < 0) {
                throw new DiffApplyError('hunk longer than its header says');
            }
            hunk.lines.push(line === '' ? ' ' : line);
            last = tag;
            continue;
        }
        if (line.startsWith('\\')) {
            markNoNewline(patch, last);
            continue;
        }
        const header = HUNK_HEADER.exec(line);
        if (header) {
            hunk = {
                oldStart: Number(header[1]), oldCount: header[2] === undefined ? 1 : Number(header[2]),
                newStart: Number(header[3]), newCount: header[4] === undefined ? 1 : Number(header[4]),
                lines: [],
            };
            oldLeft = hunk.oldCount;
            newLeft = hunk.newCount;
            patch.hunks.push(hunk);
        } else if (line.startsWith('--- ') && !patch.hunks.length) {
            patch.oldPath = line.slice(4).trim();
            patch.created = patch.oldPath === '/dev/null';
        } else if (line.startsWith('+++ ') && !patch.hunks.length) {
            patch.newPath = line.slice(4).trim();
        } else if (patch.hunks.length) {
            throw new DiffApplyError(`unexpected line after a hunk: ${JSON.stringify(line.slice(0, 60))}`);
        }
        // Other lines before the first hunk (`diff --git`, `index …`) are headers we do not need.
    }
    if (oldLeft > 0 || newLeft > 0) {
        throw new DiffApplyError('the diff ends inside a hunk (truncated?)');
    }
    if (!patch.hunks.length) {
        throw new DiffApplyError('no hunks in the diff');
    }
    return patch;
}

function markNoNewline(patch: FilePatch, lastTag: string): void {
    if (lastTag !== '+') { patch.oldNoNewline = true; }
    if (lastTag !== '-') { patch.newNoNewline = true; }
}

/** The text after applying `diff` to `original`; throws DiffApplyError if it does not apply cleanly. */
export function applyUnifiedDiff(original: string, diff: string): string {
    const patch = parseUnifiedDiff(diff);
    const eol = original.includes('\r\n') ? '\r\n' : '\n';
    const hadNewline = original.endsWith('\n');
    const lines = original === '' ? [] : original.split(/\r?\n/);
    if (hadNewline) {
        lines.pop();
    }
    let offset = 0;
    let floor = 0;
    for (const hunk of patch.hunks) {
        const oldBlock = hunk.lines.filter((l) => l[0] !== '+').map((l) => l.slice(1));
        const newBlock = hunk.lines.filter((l) => l[0] !== '-').map((l) => l.slice(1));
        const expected = (hunk.oldCount === 0 ? hunk.oldStart : hunk.oldStart - 1) + offset;
        const at = findBlock(lines, oldBlock, expected, floor);
        if (at < 0) {
            throw new DiffApplyError(`hunk @@ -${hunk.oldStart},${hunk.oldCount} @@ does not match the current text`);
        }
        lines.splice(at, oldBlock.length, ...newBlock);
        offset = at - (expected - offset) + newBlock.length - oldBlock.length;
        floor = at + newBlock.length;
    }
    let newline = hadNewline;
    if (patch.newNoNewline) {
        newline = false;
    } else if (patch.oldNoNewline || (patch.created && original === '')) {
        newline = true;
    }
    const body = lines.join(eol);
    return newline && lines.length ? body + eol : body;
}

/** Index of `block` in `lines` nearest to `expected`, not before `floor`; -1 if absent. */
function findBlock(lines: string[], block: string[], expected: number, floor: number): number {
    const matches = (i: number) => i >= floor && i + block.length <= lines.length && block.every((b, k) => lines[i + k] === b);
    const span = Math.max(lines.length, 1);
    for (let d = 0; d <= span; d++) {
        if (matches(expected - d)) { return expected - d; }
        if (d && matches(expected + d)) { return expected + d; }
    }
    return -1;
}
