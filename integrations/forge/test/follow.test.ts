/**
 * Polling a run's output: the cursor sent on each call, duplicates and gaps, the waits between
 * polls, retries that keep the cursor, and the cursor handed back for "Resume".
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ArkbridgeApi, type OutputChunk } from '../src/api.js';
import { FollowError, type FollowEvents, followRun } from '../src/follow.js';
import { FakeClock, FakeRemote, ok, sequence, type Handler } from './fakes.js';

function chunk(seq: number, text: string, stream = 'stdout'): OutputChunk {
  return { seq, stream, text };
}

function recorder(): FollowEvents & { chunks: OutputChunk[]; gaps: number[]; modes: string[]; retries: number } {
  const r = {
    chunks: [] as OutputChunk[],
    gaps: [] as number[],
    modes: [] as string[],
    retries: 0,
    chunk: (c: OutputChunk) => void r.chunks.push(c),
    gap: (n: number) => void r.gaps.push(n),
    mode: (m: string) => void r.modes.push(m),
    retrying: () => void r.retries++,
  };
  return r;
}

function setup(handler: Handler): { remote: FakeRemote; api: ArkbridgeApi; afters: () => string[] } {
  const remote = new FakeRemote().on('GET', /^\/api\/v1\/runs\/r-1\/output$/, handler);
  return {
    remote,
    api: new ArkbridgeApi(remote.invoke),
    afters: () => remote.calls.map((c) => new URL(c.path, 'https://x').searchParams.get('after') ?? ''),
  };
}

describe('followRun', () => {
  it('passes each answer cursor back as after= until the run is done', async () => {
    const { api, afters } = setup(
      sequence(
        ok({ chunks: [chunk(1, 'a'), chunk(2, 'b')], next: 2, done: false }),
        ok({ chunks: [], next: 2, done: false }),
        ok({ chunks: [chunk(3, 'c')], next: 3, done: true, status: 'succeeded', exit_code: 0 }),
      ),
    );
    const events = recorder();
    const clock = new FakeClock();
    const end = await followRun(api, 'r-1', 0, events, { sleep: clock.sleep });
    assert.deepEqual(afters(), ['0', '2', '2']);
    assert.deepEqual(events.chunks.map((c) => c.text), ['a', 'b', 'c']);
    assert.deepEqual(end, { cursor: 3, status: 'succeeded', exitCode: 0 });
    // 250 ms after output, 500 ms after a silent answer.
    assert.deepEqual(clock.delays, [250, 500]);
  });

  it('skips chunks it has already shown', async () => {
    const { api } = setup(
      sequence(
        ok({ chunks: [chunk(1, 'a'), chunk(2, 'b')], next: 2, done: false }),
        ok({ chunks: [chunk(2, 'b'), chunk(3, 'c')], next: 3, done: true, status: 'succeeded' }),
      ),
    );
    const events = recorder();
    await followRun(api, 'r-1', 0, events, { sleep: new FakeClock().sleep });
    assert.deepEqual(events.chunks.map((c) => c.seq), [1, 2, 3]);
  });

  it('reports chunks the server no longer has', async () => {
    const { api } = setup(sequence(ok({ chunks: [chunk(5, 'late')], next: 5, done: true, status: 'succeeded' })));
    const events = recorder();
    await followRun(api, 'r-1', 1, events, { sleep: new FakeClock().sleep });
    assert.deepEqual(events.gaps, [3]);
    assert.deepEqual(events.chunks.map((c) => c.text), ['late']);
  });

  it('refuses a cursor that goes back', async () => {
    const { api } = setup(sequence(ok({ chunks: [], next: 1, done: false })));
    await assert.rejects(followRun(api, 'r-1', 4, recorder(), { sleep: new FakeClock().sleep }), (err: unknown) => {
      assert.ok(err instanceof FollowError);
      assert.equal(err.error.kind, 'malformed');
      assert.equal(err.cursor, 4);
      return true;
    });
  });

  it('refuses a cursor behind the chunks it came with', async () => {
    const { api } = setup(sequence(ok({ chunks: [chunk(1, 'a'), chunk(2, 'b')], next: 1, done: false })));
    await assert.rejects(followRun(api, 'r-1', 0, recorder(), { sleep: new FakeClock().sleep }), FollowError);
  });

  it('retries a failed poll with the same cursor', async () => {
    const { api, afters } = setup(
      sequence(
        ok({ chunks: [chunk(1, 'a')], next: 1, done: false }),
        new Error('network down'),
        ok({ error: 'restarting' }, 503),
        ok({ chunks: [chunk(2, 'b')], next: 2, done: true, status: 'succeeded' }),
      ),
    );
    const events = recorder();
    const clock = new FakeClock();
    await followRun(api, 'r-1', 0, events, { sleep: clock.sleep, random: () => 0 });
    assert.deepEqual(afters(), ['0', '1', '1', '1']);
    assert.equal(events.retries, 2);
    assert.deepEqual(events.chunks.map((c) => c.text), ['a', 'b']);
    assert.deepEqual(clock.delays, [250, 250, 500]);
  });

  it('gives up after the retry limit with the cursor to resume from, and resumes there', async () => {
    let failing = true;
    const answers = sequence(
      ok({ chunks: [chunk(1, 'a'), chunk(2, 'b')], next: 2, done: false }),
      ok({ chunks: [chunk(3, 'c')], next: 3, done: true, status: 'failed', exit_code: 1 }),
    );
    const { api, remote } = setup((req, url) => {
      if (url.searchParams.get('after') === '2' && failing) {
        throw new Error('offline');
      }
      return answers(req, url);
    });
    const events = recorder();
    const clock = new FakeClock();
    let cursor = -1;
    await assert.rejects(followRun(api, 'r-1', 0, events, { sleep: clock.sleep }), (err: unknown) => {
      assert.ok(err instanceof FollowError);
      assert.equal(err.error.kind, 'network');
      cursor = err.cursor;
      return true;
    });
    assert.equal(cursor, 2);
    assert.equal(remote.calls.length, 1 + 5);
    failing = false;
    const end = await followRun(api, 'r-1', cursor, events, { sleep: clock.sleep });
    assert.deepEqual(events.chunks.map((c) => c.text), ['a', 'b', 'c']);
    assert.deepEqual(end, { cursor: 3, status: 'failed', exitCode: 1 });
  });

  it('backs off while the run is silent and speeds up when output comes', async () => {
    const { api } = setup(
      sequence(
        ...Array.from({ length: 6 }, () => ok({ chunks: [], next: 0, done: false })),
        ok({ chunks: [chunk(1, 'x')], next: 1, done: false }),
        ok({ chunks: [], next: 1, done: false }),
        ok({ chunks: [], next: 1, done: true, status: 'succeeded' }),
      ),
    );
    const clock = new FakeClock();
    await followRun(api, 'r-1', 0, recorder(), { sleep: clock.sleep });
    assert.deepEqual(clock.delays, [500, 750, 1125, 1688, 2000, 2000, 250, 500]);
  });

  it('stops following a run that never ends after maxWaitMs', async () => {
    const { api } = setup(sequence(ok({ chunks: [], next: 0, done: false })));
    const clock = new FakeClock();
    await assert.rejects(
      followRun(api, 'r-1', 0, recorder(), { sleep: clock.sleep, timings: { maxWaitMs: 10_000 } }),
      (err: unknown) => err instanceof FollowError && /has not ended/.test(err.message),
    );
    assert.ok(clock.total <= 10_000);
  });

  it('tells the read-only mode once, as soon as it is known', async () => {
    const { api } = setup(
      sequence(
        ok({ chunks: [chunk(1, 'a')], next: 1, done: false, mode: 'read-only' }),
        ok({ chunks: [], next: 1, done: true, status: 'succeeded', mode: 'read-only' }),
      ),
    );
    const events = recorder();
    const end = await followRun(api, 'r-1', 0, events, { sleep: new FakeClock().sleep });
    assert.deepEqual(events.modes, ['read-only']);
    assert.equal(end.mode, 'read-only');
  });
});
