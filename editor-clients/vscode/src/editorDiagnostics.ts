/**
 * Answers the server's `dals/diagnostics` request (the agent's `diagnostics` tool) from
 * `vscode.languages.getDiagnostics`, and advertises that it does (`experimental.dals.diagnostics`).
 */
import * as vscode from 'vscode';
import { ClientCapabilities, FeatureState, LanguageClient, StaticFeature } from 'vscode-languageclient/node';
import { DiagnosticsParams, EDITOR_DIAGNOSTICS, diagnosticsAnswer } from './diagnosticModel';

const feature: StaticFeature = {
    fillClientCapabilities(capabilities: ClientCapabilities): void {
        const experimental = (capabilities.experimental ?? {}) as Record<string, unknown>;
        capabilities.experimental = { ...experimental, dals: { diagnostics: true } };
    },
    initialize(): void {},
    getState(): FeatureState {
        return { kind: 'static' };
    },
    clear(): void {},
};

export function answerDiagnostics(client: LanguageClient): void {
    client.registerFeature(feature);
    client.onRequest(EDITOR_DIAGNOSTICS, (params: DiagnosticsParams) => diagnosticsAnswer(
        params,
        (uri) => vscode.languages.getDiagnostics(vscode.Uri.parse(uri)),
        () => vscode.languages.getDiagnostics().map(([uri, ds]) => [uri.toString(), ds]),
    ));
}
