/**
 * The plain-text helpers: output made printable, durations and result sentences.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { duration, printable, resultSentence } from '../src/text.js';

describe('printable', () => {
  it('drops colour codes, window-title sequences and control characters but keeps tabs', () => {
    assert.equal(printable('\u001b[1;32mok\u001b[0m\tdone'), 'ok\tdone');
    assert.equal(printable('\u001b]0;title\u0007after'), 'after');
    assert.equal(printable('a\u0000b\u007fc\u009bd'), 'abcd');
  });

  it('turns carriage returns into newlines', () => {
    assert.equal(printable('10%\r50%\r100%\r\n'), '10%\n50%\n100%\n');
  });
});

describe('duration', () => {
  it('uses ms, seconds with one decimal, then minutes', () => {
    assert.equal(duration(12), '12 ms');
    assert.equal(duration(1234), '1.2 s');
    assert.equal(duration(184_400), '3 min 4 s');
  });
});

describe('resultSentence', () => {
  it('says a timeout plainly, without a missing exit code', () => {
    assert.equal(resultSentence({ status: 'timed-out', exitCode: null, durationMs: 600_000 }), 'Timed out in 10 min 0 s.');
  });

  it('keeps an unknown status as the server wrote it', () => {
    assert.equal(resultSentence({ status: 'rotation-pending' }), 'rotation-pending.');
  });
});
