/**
 * The manifest (package.json) and the code agree: every contributed command is registered, menus
 * name real commands, settings read by the code are declared, no server command id is claimed,
 * and the compiled extension loads (with a stand-in for the `vscode` module).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { SERVER_COMMANDS, STATUSES } from '../src/protocol';

const root = path.join(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const source = (file: string) => fs.readFileSync(path.join(root, 'src', file), 'utf8');

describe('manifest', () => {
    const contributed: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);

    it('contributes exactly the commands the extension registers, none of them a server command', () => {
        const registered = [...source('commands.ts').matchAll(/register\('([^']+)'/g)].map((m) => m[1]);
        assert.deepEqual([...registered].sort(), [...contributed].sort());
        for (const id of Object.values(SERVER_COMMANDS)) {
            assert.ok(!contributed.includes(id), `${id} belongs to the server`);
        }
        assert.ok(contributed.every((id) => id.startsWith('dals.client.')));
    });

    it('has the palette titles the docs name', () => {
        const title = (id: string) => manifest.contributes.commands.find((c: { command: string }) => c.command === id);
        assert.equal(`${title('dals.client.startTask').category}: ${title('dals.client.startTask').title}`, 'DALS: Start Task…');
        assert.equal(title('dals.client.showTasks').title, 'Show Tasks');
        assert.equal(title('dals.client.resumeTask').title, 'Resume Task');
        assert.equal(title('dals.client.cancelTask').title, 'Cancel Task');
    });

    it('menus name contributed commands, and item menus match on task statuses', () => {
        for (const [where, entries] of Object.entries(manifest.contributes.menus as Record<string, { command: string; when: string }[]>)) {
            for (const entry of entries) {
                assert.ok(contributed.includes(entry.command), `${where}: ${entry.command}`);
                for (const m of entry.when.matchAll(/viewItem (?:==|=~) \/?\^?\(?([a-z|]+)/g)) {
                    for (const status of m[1].split('|')) {
                        assert.ok([...STATUSES, 'event'].includes(status), `${where}: ${status}`);
                    }
                }
            }
        }
    });

    it('offers Resume for retrying and paused tasks, and Cancel for every unfinished one, in both menus', () => {
        const items = manifest.contributes.menus['view/item/context'] as { command: string; when: string; group: string }[];
        const shownFor = (command: string, status: string) => items.filter((e) => e.command === command && matchesStatus(e.when, status))
            .map((e) => e.group.split('@')[0]).sort();
        for (const status of ['retrying', 'paused']) {
            assert.deepEqual(shownFor('dals.client.resumeTask', status), ['2_task', 'inline'], status);
        }
        for (const status of ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled']) {
            assert.deepEqual(shownFor('dals.client.resumeTask', status), [], status);
        }
        for (const status of ['queued', 'running', 'waiting', 'retrying', 'paused']) {
            assert.deepEqual(shownFor('dals.client.cancelTask', status), ['2_task', 'inline'], status);
        }
    });

    it('puts the input box for the selected task (follow up or steer) in the view\'s title bar', () => {
        const titleBar = manifest.contributes.menus['view/title'] as { command: string; when: string; group: string }[];
        const entry = titleBar.find((e) => e.command === 'dals.client.messageTask');
        assert.ok(entry && entry.when === 'view == dals.tasks' && entry.group.startsWith('navigation'));
        assert.match(source('commands.ts'), /view\.selection\[0\]\?\.taskId/);
    });

    it('declares the view in its own activity-bar container', () => {
        assert.deepEqual(manifest.contributes.viewsContainers.activitybar.map((c: { id: string; title: string }) => [c.id, c.title]), [['dals', 'DALS']]);
        assert.deepEqual(manifest.contributes.views.dals.map((v: { id: string; name: string }) => [v.id, v.name]), [['dals.tasks', 'DALS Tasks']]);
    });

    it('declares every setting the code reads', () => {
        const read = [...source('settings.ts').matchAll(/c\.get<[^>]+>\('([^']+)'/g)].map((m) => `dals.${m[1]}`);
        const declared = Object.keys(manifest.contributes.configuration.properties);
        assert.equal(read.length, 10);
        for (const key of read) {
            assert.ok(declared.includes(key), key);
        }
    });

    it('pins @types/vscode to the engines.vscode version', () => {
        assert.equal(`^${manifest.devDependencies['@types/vscode']}`, manifest.engines.vscode);
        assert.match(manifest.dependencies['vscode-languageclient'], /^\d+\.\d+\.\d+$/);
    });

    it('the compiled extension loads and exports activate/deactivate', () => {
        // A stand-in `vscode`: any property is a constructible, callable stand-in; nothing is thenable.
        const stub: unknown = new Proxy(function () { /* stand-in */ }, {
            get: (_t, prop) => (prop === 'then' ? undefined : stub),
            apply: () => stub,
            construct: () => stub as object,
        });
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the stub hooks CommonJS loading
        const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
        const load = Module._load;
        Module._load = (request: string, ...rest: unknown[]) => (request === 'vscode' ? stub : load(request, ...rest));
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- the stub hooks CommonJS loading
            const ext = require(path.join(root, manifest.main));
            assert.equal(typeof ext.activate, 'function');
            assert.equal(typeof ext.deactivate, 'function');
        } finally {
            Module._load = load;
        }
    });
});

/** Whether a `when` clause holds in the DALS Tasks view for a task item whose contextValue is `status`. */
function matchesStatus(when: string, status: string): boolean {
    return when.split('&&').map((c) => c.trim()).every((clause) => {
        let m = /^view == (\S+)$/.exec(clause);
        if (m) { return m[1] === 'dals.tasks'; }
        m = /^viewItem == (\S+)$/.exec(clause);
        if (m) { return m[1] === status; }
        m = /^viewItem =~ \/(.+)\/$/.exec(clause);
        if (m) { return new RegExp(m[1]).test(status); }
        throw new Error(`unexpected when clause: ${clause}`);
    });
}
