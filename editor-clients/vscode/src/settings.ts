/** Reads the `dals.*` settings from VS Code and finds the `dals` executable. */
import * as fs from 'fs';
import * as os from 'os';
import * as vscode from 'vscode';
import { DalsSettings, RESTART_SETTINGS, resolveServerPath } from './settingsModel';

export function readSettings(): DalsSettings {
    const c = vscode.workspace.getConfiguration('dals');
    const allow = c.get<string[] | null>('commands.allow', null);
    return {
        path: c.get<string>('path', ''),
        model: c.get<string>('model', ''),
        approval: c.get<string>('approval', 'auto') === 'review' ? 'review' : 'auto',
        commandsAllow: Array.isArray(allow) ? allow.filter((v) => typeof v === 'string') : null,
        ingressUrl: c.get<string>('restate.ingressUrl', ''),
        adminUrl: c.get<string>('restate.adminUrl', ''),
        mcpServers: c.get<object | null>('mcpServers', null) as Record<string, unknown> | null,
        mcpAllow: c.get<string[] | null>('mcp.allow', null),
        mcpTimeoutS: c.get<number | null>('mcp.timeoutS', null),
        mcpWorkspaceServers: c.get<boolean>('mcp.workspaceServers', false),
    };
}

export function firstWorkspaceFolder(): string | undefined {
    return vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
}

/** `dals.path`, else the workspace's `.venv/bin/dals`, else `dals` on PATH. */
export function serverExecutable(settings: DalsSettings): string {
    return resolveServerPath(settings.path, firstWorkspaceFolder(), (f) => fs.existsSync(f), { home: os.homedir() });
}

/** 'restart' when the server reads the changed setting only at start, 'notify' for the others. */
export function configurationChange(e: vscode.ConfigurationChangeEvent): 'restart' | 'notify' | undefined {
    if (RESTART_SETTINGS.some((key) => e.affectsConfiguration(key))) {
        return 'restart';
    }
    return e.affectsConfiguration('dals') ? 'notify' : undefined;
}
