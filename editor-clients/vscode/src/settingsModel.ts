/**
 * The extension's settings as plain data: which executable to start, what the server gets as
 * initializationOptions and on workspace/configuration, and which changes need a restart.
 * No `vscode` import (settings.ts reads the values from VS Code).
 */
import * as path from 'path';
import { Mode } from './protocol';

export interface DalsSettings {
    /** `dals.path`; empty = `<workspace>/.venv/bin/dals` if it exists, else `dals` on PATH. */
    path: string;
    model: string;
    approval: Mode;
    /** `dals.commands.allow`; null = the server's default list. */
    commandsAllow: string[] | null;
    ingressUrl: string;
    adminUrl: string;
    /** `dals.mcpServers` (the `.mcp.json` shape's inner object); null = none from the editor. */
    mcpServers?: Record<string, unknown> | null;
    /** `dals.mcp.allow`: MCP tool names or globs that run without asking; null = none. */
    mcpAllow?: string[] | null;
    /** `dals.mcp.timeoutS`; null = the server's default (60). */
    mcpTimeoutS?: number | null;
    /** `dals.mcp.workspaceServers`: also use the workspace's `.mcp.json`. */
    mcpWorkspaceServers?: boolean;
}

/** The `dals` section as the server reads it (docs/protocol.md, Settings). Empty values are left out. */
export interface ServerSettings {
    model?: string;
    approval: Mode;
    commands?: { allow: string[] };
    restate?: { ingressUrl?: string; adminUrl?: string };
    mcpServers?: Record<string, unknown>;
    mcp?: { allow?: string[]; timeoutS?: number; workspaceServers?: boolean };
}

/** Settings whose change needs a new `dals lsp` (the server reads them only at start). */
export const RESTART_SETTINGS = ['dals.path', 'dals.restate.ingressUrl', 'dals.restate.adminUrl'];

export function serverSettings(s: DalsSettings): ServerSettings {
    const out: ServerSettings = { approval: s.approval === 'review' ? 'review' : 'auto' };
    if (s.model.trim()) {
        out.model = s.model.trim();
    }
    if (Array.isArray(s.commandsAllow)) {
        out.commands = { allow: s.commandsAllow };
    }
    const restate: { ingressUrl?: string; adminUrl?: string } = {};
    if (s.ingressUrl.trim()) { restate.ingressUrl = s.ingressUrl.trim(); }
    if (s.adminUrl.trim()) { restate.adminUrl = s.adminUrl.trim(); }
    if (restate.ingressUrl || restate.adminUrl) {
        out.restate = restate;
    }
    if (s.mcpServers && typeof s.mcpServers === 'object' && Object.keys(s.mcpServers).length) {
        out.mcpServers = s.mcpServers;
    }
    const mcp: { allow?: string[]; timeoutS?: number; workspaceServers?: boolean } = {};
    if (Array.isArray(s.mcpAllow)) { mcp.allow = s.mcpAllow; }
    if (typeof s.mcpTimeoutS === 'number' && s.mcpTimeoutS > 0) { mcp.timeoutS = s.mcpTimeoutS; }
    if (s.mcpWorkspaceServers) { mcp.workspaceServers = true; }
    if (Object.keys(mcp).length) {
        out.mcp = mcp;
    }
    return out;
}

export function initializationOptions(s: DalsSettings): { dals: ServerSettings } {
    return { dals: serverSettings(s) };
}

/** The program to start as `<program> lsp`. */
export function resolveServerPath(
    configured: string,
    workspaceFolder: string | undefined,
    exists: (file: string) => boolean,
    opts: { home?: string; platform?: NodeJS.Platform } = {},
): string {
    const raw = configured.trim();
    if (raw) {
        let p = raw.replace(/\$\{userHome\}/g, opts.home ?? '');
        if (workspaceFolder) {
            p = p.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
        }
        if (opts.home && (p === '~' || p.startsWith('~/'))) {
            p = opts.home + p.slice(1);
        }
        return p;
    }
    if (workspaceFolder) {
        const venv = (opts.platform ?? process.platform) === 'win32'
            ? path.join(workspaceFolder, '.venv', 'Scripts', 'dals.exe')
            : path.join(workspaceFolder, '.venv', 'bin', 'dals');
        if (exists(venv)) {
            return venv;
        }
    }
    return 'dals';
}
