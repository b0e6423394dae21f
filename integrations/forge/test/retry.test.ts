/**
 * Backoff: which errors are retried, how long each wait is, the attempt limit, and stopping.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError } from '../src/api.js';
import { Aborted, DEFAULT_RETRY, backoffDelay, withRetry } from '../src/retry.js';
import { FakeClock } from './fakes.js';

const transient = () => new ApiError('network', 'down', { retryable: true });

describe('withRetry', () => {
  it('retries a retryable failure and returns the first success', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw transient();
        return 'ok';
      },
      { sleep: clock.sleep, random: () => 0 },
    );
    assert.equal(value, 'ok');
    assert.equal(calls, 3);
    assert.deepEqual(clock.delays, [250, 500]);
  });

  it('gives up after maxAttempts and throws the last error', async () => {
    const clock = new FakeClock();
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw new ApiError('network', `down ${calls}`, { retryable: true });
        },
        { sleep: clock.sleep, random: () => 1 },
      ),
      /down 5/,
    );
    assert.equal(calls, DEFAULT_RETRY.maxAttempts);
    assert.deepEqual(clock.delays, [500, 1000, 2000, 4000]);
  });

  it('does not retry an error that says it must not be repeated', async () => {
    const clock = new FakeClock();
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw new ApiError('network', 'maybe sent', { retryable: false });
        },
        { sleep: clock.sleep },
      ),
      /maybe sent/,
    );
    assert.equal(calls, 1);
    assert.deepEqual(clock.delays, []);
  });

  it('stops when the signal is aborted', async () => {
    const stop = new AbortController();
    const clock = new FakeClock();
    await assert.rejects(
      withRetry(
        async () => {
          stop.abort();
          throw transient();
        },
        { sleep: clock.sleep, signal: stop.signal },
      ),
      Aborted,
    );
  });
});

describe('backoffDelay', () => {
  it('stays between half the cap and the cap, and the cap stops growing at maxDelayMs', () => {
    for (let retry = 1; retry <= 8; retry++) {
      const cap = Math.min(DEFAULT_RETRY.maxDelayMs, DEFAULT_RETRY.baseDelayMs * 2 ** (retry - 1));
      assert.equal(backoffDelay(DEFAULT_RETRY, retry, () => 0), cap / 2);
      assert.equal(backoffDelay(DEFAULT_RETRY, retry, () => 1), cap);
      const mid = backoffDelay(DEFAULT_RETRY, retry, () => 0.5);
      assert.ok(mid > cap / 2 && mid < cap);
    }
    assert.equal(backoffDelay(DEFAULT_RETRY, 20, () => 1), DEFAULT_RETRY.maxDelayMs);
  });
});
