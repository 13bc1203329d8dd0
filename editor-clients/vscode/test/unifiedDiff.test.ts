import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyUnifiedDiff, DiffApplyError, parseUnifiedDiff } from '../src/unifiedDiff';

const SERVER_DIFF = "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def greet():\n-    return 'hello'\n+    return 'HELLO'";

describe('unified diff', () => {
    it('applies the diff of an edit event (docs/protocol.md example)', () => {
        const original = "def greet():\n    return 'hello'\n";
        assert.equal(applyUnifiedDiff(original, SERVER_DIFF), "def greet():\n    return 'HELLO'\n");
        const patch = parseUnifiedDiff(SERVER_DIFF);
        assert.equal(patch.oldPath, 'a/app.py');
        assert.equal(patch.hunks.length, 1);
    });

    it('keeps CRLF line ends and a missing final newline', () => {
        assert.equal(applyUnifiedDiff("def greet():\r\n    return 'hello'\r\n", SERVER_DIFF), "def greet():\r\n    return 'HELLO'\r\n");
        assert.equal(applyUnifiedDiff("def greet():\n    return 'hello'", SERVER_DIFF), "def greet():\n    return 'HELLO'");
    });

    it('creates a new file from /dev/null', () => {
        const diff = '--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1,2 @@\n+done\n+ok';
        assert.equal(applyUnifiedDiff('', diff), 'done\nok\n');
    });

    it('inserts a comment line at the top (the offline model)', () => {
        const diff = '--- a/app.py\n+++ b/app.py\n@@ -1,3 +1,4 @@\n+# DALS: Explain\n import os\n \n print(os.name)';
        assert.equal(applyUnifiedDiff('import os\n\nprint(os.name)\n', diff), '# DALS: Explain\nimport os\n\nprint(os.name)\n');
    });

    it('applies several hunks, and finds a hunk that moved', () => {
        const original = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
        const diff = [
            '--- a/f', '+++ b/f',
            '@@ -2,3 +2,4 @@', ' line 2', '+inserted', ' line 3', ' line 4',
            '@@ -15,3 +16,2 @@', ' line 15', '-line 16', ' line 17',
        ].join('\n');
        const out = applyUnifiedDiff(original, diff).split('\n');
        assert.equal(out[2], 'inserted');
        assert.ok(!out.includes('line 16'));
        assert.equal(out.length, 21);
        // The same diff against a file with two extra lines at the top still applies.
        const shifted = applyUnifiedDiff('x\ny\n' + original, diff).split('\n');
        assert.equal(shifted[4], 'inserted');
    });

    it('honours "\\ No newline at end of file"', () => {
        const diff = '--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n\\ No newline at end of file';
        assert.equal(applyUnifiedDiff('a\n', diff), 'b');
    });

    it('refuses a truncated diff, a diff that does not match, and one without hunks', () => {
        const truncated = SERVER_DIFF.replace("+    return 'HELLO'", "[… 12 more diff lines …]");
        assert.throws(() => applyUnifiedDiff("def greet():\n    return 'hello'\n", truncated), DiffApplyError);
        assert.throws(() => applyUnifiedDiff('something else\n', SERVER_DIFF), DiffApplyError);
        assert.throws(() => applyUnifiedDiff('x', 'just text'), DiffApplyError);
        assert.throws(() => applyUnifiedDiff('a\n', '--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a'), /ends inside a hunk/);
    });
});
