/**
 * Live transcripts: the server's Markdown, the model's text in flight under it until the event it
 * becomes arrives, and nothing for transcripts that are not open.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveTranscripts } from '../src/liveTranscripts';
import { DalsApi, TaskEvent } from '../src/protocol';

function ev(taskId: string, seq: number): TaskEvent {
    return { taskId, seq, kind: 'model', title: 'Model: answer', status: 'running', at: '' } as TaskEvent;
}

describe('live transcripts', () => {
    it('shows deltas under the transcript until their event, then the server\'s text only', async () => {
        let served = '# T\n\n## You\n\n> hi\n';
        const api = new DalsApi(async () => ({ taskId: 't1', markdown: served }));
        const shown = new Map<string, string>();
        const live = new LiveTranscripts(api, (id, text) => shown.set(id, text), (id) => id === 't1');
        await live.refresh('t1');
        assert.equal(shown.get('t1'), served);
        live.onDelta({ taskId: 't1', seq: 5, text: 'Hello' });
        live.onDelta({ taskId: 't1', seq: 5, text: ' there' });
        assert.ok(shown.get('t1')!.endsWith('## Agent (writing…)\n\nHello there\n'), shown.get('t1'));
        live.onDelta({ taskId: 't2', seq: 1, text: 'not open' });
        assert.ok(!shown.has('t2'));
        served += '\n## Agent\n\nHello there.\n';
        live.onEvent(ev('t1', 5));
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(shown.get('t1'), served);
        assert.equal(live.content('t1'), served);
    });

    it('another seq starts the live text afresh', () => {
        const live = new LiveTranscripts(new DalsApi(async () => ({})), () => undefined, () => true);
        live.onDelta({ taskId: 't', seq: 3, text: 'cut o' });
        live.onDelta({ taskId: 't', seq: 4, text: 'whole' });
        assert.ok(live.content('t').endsWith('whole\n'));
    });
});
