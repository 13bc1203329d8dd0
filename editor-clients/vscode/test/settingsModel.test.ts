import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DalsSettings, initializationOptions, RESTART_SETTINGS, resolveServerPath, serverSettings } from '../src/settingsModel';

const defaults: DalsSettings = { path: '', model: '', approval: 'auto', commandsAllow: null, ingressUrl: '', adminUrl: '' };

describe('settings', () => {
    it('sends only what is set, in the shape the server reads', () => {
        assert.deepEqual(serverSettings(defaults), { approval: 'auto' });
        assert.deepEqual(initializationOptions({
            ...defaults, model: ' offline ', approval: 'review', commandsAllow: ['pytest'],
            ingressUrl: 'http://10.0.0.5:8080', adminUrl: 'http://10.0.0.5:9070',
        }), {
            dals: {
                model: 'offline', approval: 'review', commands: { allow: ['pytest'] },
                restate: { ingressUrl: 'http://10.0.0.5:8080', adminUrl: 'http://10.0.0.5:9070' },
            },
        });
        assert.deepEqual(serverSettings({ ...defaults, commandsAllow: [] }).commands, { allow: [] });
    });

    it('sends MCP servers and their policy only when set', () => {
        assert.deepEqual(serverSettings({ ...defaults, mcpServers: {}, mcpAllow: null, mcpTimeoutS: null }),
            { approval: 'auto' });
        const fs = { command: 'mcp-server-filesystem', args: ['/tmp'] };
        assert.deepEqual(serverSettings({
            ...defaults, mcpServers: { fs }, mcpAllow: ['mcp__fs__*'], mcpTimeoutS: 30, mcpWorkspaceServers: true,
        }), { approval: 'auto', mcpServers: { fs }, mcp: { allow: ['mcp__fs__*'], timeoutS: 30, workspaceServers: true } });
    });

    it('restarts for the executable and the Restate URLs only', () => {
        assert.deepEqual(RESTART_SETTINGS, ['dals.path', 'dals.restate.ingressUrl', 'dals.restate.adminUrl']);
    });

    it('finds the executable: setting, then the workspace .venv, then PATH', () => {
        const ws = '/home/me/proj';
        const venv = path.join(ws, '.venv', 'bin', 'dals');
        assert.equal(resolveServerPath('', ws, (f) => f === venv, { platform: 'linux' }), venv);
        assert.equal(resolveServerPath('', ws, () => false, { platform: 'linux' }), 'dals');
        assert.equal(resolveServerPath('', undefined, () => true), 'dals');
        assert.equal(resolveServerPath('${workspaceFolder}/tools/dals', ws, () => false), '/home/me/proj/tools/dals');
        assert.equal(resolveServerPath('~/bin/dals', ws, () => false, { home: '/home/me' }), '/home/me/bin/dals');
        assert.equal(resolveServerPath(' /opt/dals ', ws, () => true), '/opt/dals');
        assert.equal(resolveServerPath('', 'C:\\proj', (f) => f.endsWith('dals.exe'), { platform: 'win32' }).endsWith('dals.exe'), true);
    });
});
