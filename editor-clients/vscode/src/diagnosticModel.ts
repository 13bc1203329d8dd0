/**
 * The editor's diagnostics as the server's `dals/diagnostics` answer carries them (LSP `Diagnostic`s):
 * the conversion from VS Code's shape, kept free of the `vscode` import so `node --test` covers it.
 */

export const EDITOR_DIAGNOSTICS = 'dals/diagnostics';

export interface DiagnosticsParams { uri?: string | null }

interface Pos { line: number; character: number }

/** The parts of a `vscode.Diagnostic` the answer uses (its severity counts from 0 = Error). */
export interface EditorDiagnostic {
    range: { start: Pos; end: Pos };
    severity: number;
    message: string;
    source?: string;
    code?: string | number | { value: string | number };
}

export interface LspDiagnostic {
    range: { start: Pos; end: Pos };
    severity: number;
    message: string;
    source?: string;
    code?: string | number;
}

export interface DiagnosticsAnswer { items: { uri: string; diagnostics: LspDiagnostic[] }[] }

export function toLspDiagnostic(d: EditorDiagnostic): LspDiagnostic {
    const code = typeof d.code === 'object' && d.code !== null ? d.code.value : d.code;
    return {
        range: {
            start: { line: d.range.start.line, character: d.range.start.character },
            end: { line: d.range.end.line, character: d.range.end.character },
        },
        severity: d.severity + 1,  // vscode.DiagnosticSeverity.Error is 0, LSP's is 1
        message: d.message,
        ...(d.source ? { source: d.source } : {}),
        ...(code !== undefined ? { code } : {}),
    };
}

/** The answer for one file (`uri` given) or for every file with diagnostics. */
export function diagnosticsAnswer(
    params: DiagnosticsParams | null | undefined,
    forFile: (uri: string) => EditorDiagnostic[],
    all: () => [string, EditorDiagnostic[]][],
): DiagnosticsAnswer {
    if (params && typeof params.uri === 'string') {
        return { items: [{ uri: params.uri, diagnostics: forFile(params.uri).map(toLspDiagnostic) }] };
    }
    return {
        items: all().filter(([uri, ds]) => ds.length > 0 && uri.startsWith('file:'))
            .map(([uri, ds]) => ({ uri, diagnostics: ds.map(toLspDiagnostic) })),
    };
}
