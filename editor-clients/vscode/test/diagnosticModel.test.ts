import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnosticsAnswer, EditorDiagnostic } from '../src/diagnosticModel';

const d = (line: number, severity: number, code?: EditorDiagnostic['code']): EditorDiagnostic => ({
    range: { start: { line, character: 4 }, end: { line, character: 9 } }, severity, message: 'boom', source: 'ts', code,
});

describe('dals/diagnostics answer', () => {
    it('converts one file, severities counted from 1 and object codes flattened', () => {
        const got = diagnosticsAnswer({ uri: 'file:///w/a.ts' }, () => [d(2, 0, { value: 2322 }), d(5, 1)], () => []);
        assert.deepEqual(got, { items: [{ uri: 'file:///w/a.ts', diagnostics: [
            { range: { start: { line: 2, character: 4 }, end: { line: 2, character: 9 } }, severity: 1, message: 'boom', source: 'ts', code: 2322 },
            { range: { start: { line: 5, character: 4 }, end: { line: 5, character: 9 } }, severity: 2, message: 'boom', source: 'ts' },
        ] }] });
    });
    it('lists every file with diagnostics when no uri is given', () => {
        const got = diagnosticsAnswer({ uri: null }, () => [], () => [
            ['file:///w/a.ts', [d(0, 3)]], ['file:///w/b.ts', []], ['untitled:Untitled-1', [d(0, 0)]]]);
        assert.deepEqual(got.items.map((i) => [i.uri, i.diagnostics[0].severity]), [['file:///w/a.ts', 4]]);
    });
});
