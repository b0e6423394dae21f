/**
 * The typed API client: paths and bodies it sends, answers it accepts, and how each failure is
 * classified (denied with reasons, retryable or not, FIT rejected, malformed).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError, ArkbridgeApi } from '../src/api.js';
import { FakeRemote, ok, RESTART } from './fakes.js';

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('the call succeeded');
}

describe('listRunbooks', () => {
  it('gets the page runbooks with the page id escaped in the path', async () => {
    const remote = new FakeRemote().on('GET', /^\/api\/v1\/pages\/[^/]+\/runbooks$/, () => ok({ runbooks: [RESTART] }));
    const runbooks = await new ArkbridgeApi(remote.invoke).listRunbooks('12/3');
    assert.deepEqual(runbooks, [RESTART]);
    assert.equal(remote.calls[0]?.path, '/api/v1/pages/12%2F3/runbooks');
    assert.equal(remote.calls[0]?.method, 'GET');
  });

  it('refuses an answer whose bindings are not a list', async () => {
    const remote = new FakeRemote().on('GET', /runbooks$/, () => ok({ runbooks: [{ ...RESTART, bindings: 'x' }] }));
    const err = await failure(new ArkbridgeApi(remote.invoke).listRunbooks('1'));
    assert.equal(err.kind, 'malformed');
    assert.match(err.message, /runbooks\[0\]\.bindings is not a list/);
  });
});

describe('startRun', () => {
  it('posts the page id and block and returns the run id', async () => {
    const remote = new FakeRemote().on('POST', /^\/api\/v1\/runs$/, () => ok({ run_id: 'r-1' }, 202));
    assert.equal(await new ArkbridgeApi(remote.invoke).startRun('294913', 'restart'), 'r-1');
    assert.deepEqual(remote.calls[0]?.body, { page_id: '294913', block: 'restart' });
  });

  it('turns a 403 into a denial with its reasons', async () => {
    const remote = new FakeRemote().on('POST', /runs$/, () =>
      ok({ error: 'denied by policy', reasons: ['[grant DENIED] no grant', { reason: 'object reason' }] }, 403),
    );
    const err = await failure(new ArkbridgeApi(remote.invoke).startRun('1', 'restart'));
    assert.equal(err.kind, 'denied');
    assert.equal(err.message, 'denied by policy');
    assert.deepEqual(err.reasons, ['[grant DENIED] no grant', 'object reason']);
    assert.equal(err.retryable, false);
  });

  it('never marks a POST retryable after a transport failure or a 500, only after 503 or 429', async () => {
    const api = (status: number | Error) =>
      new ArkbridgeApi(
        new FakeRemote().on('POST', /runs$/, () => {
          if (status instanceof Error) throw status;
          return ok({ error: 'e' }, status);
        }).invoke,
      );
    assert.equal((await failure(api(new Error('socket hang up')).startRun('1', 'b'))).retryable, false);
    assert.equal((await failure(api(500).startRun('1', 'b'))).retryable, false);
    assert.equal((await failure(api(503).startRun('1', 'b'))).retryable, true);
    assert.equal((await failure(api(429).startRun('1', 'b'))).retryable, true);
  });

  it('refuses a 2xx without a run id', async () => {
    const remote = new FakeRemote().on('POST', /runs$/, () => ok({}, 202));
    assert.equal((await failure(new ArkbridgeApi(remote.invoke).startRun('1', 'b'))).kind, 'malformed');
  });
});

describe('output', () => {
  it('sends the cursor and parses chunks and the final status', async () => {
    const remote = new FakeRemote().on('GET', /output$/, () =>
      ok({ chunks: [{ seq: 4, stream: 'stdout', text: 'hi' }], next: 4, done: true, status: 'failed', exit_code: 3, mode: 'read-only' }),
    );
    const page = await new ArkbridgeApi(remote.invoke).output('r 1', 3);
    assert.equal(remote.calls[0]?.path, '/api/v1/runs/r%201/output?after=3');
    assert.deepEqual(page, {
      chunks: [{ seq: 4, stream: 'stdout', text: 'hi' }],
      next: 4,
      done: true,
      status: 'failed',
      exitCode: 3,
      mode: 'read-only',
    });
  });

  it('refuses a negative or fractional cursor', async () => {
    for (const next of [-1, 1.5, '2']) {
      const remote = new FakeRemote().on('GET', /output$/, () => ok({ chunks: [], next, done: false }));
      assert.equal((await failure(new ArkbridgeApi(remote.invoke).output('r', 0))).kind, 'malformed');
    }
  });

  it('marks reads retryable after a transport failure or any 5xx', async () => {
    const failing = new FakeRemote().on('GET', /output$/, () => {
      throw new Error('timeout');
    });
    const err = await failure(new ArkbridgeApi(failing.invoke).output('r', 0));
    assert.equal(err.kind, 'network');
    assert.equal(err.retryable, true);
    const err500 = await failure(new ArkbridgeApi(new FakeRemote().on('GET', /output$/, () => ok({ error: 'boom' }, 500)).invoke).output('r', 0));
    assert.equal(err500.kind, 'unavailable');
    assert.equal(err500.retryable, true);
  });
});

describe('failures that are not retried', () => {
  it('recognises Forge rejecting a FIT the remote did not verify', async () => {
    const remote = new FakeRemote().on('GET', /runbooks$/, () => {
      throw new Error('Remote could not verify the Forge Invocation Token');
    });
    const err = await failure(new ArkbridgeApi(remote.invoke).listRunbooks('1'));
    assert.equal(err.kind, 'unauthenticated');
    assert.equal(err.retryable, false);
  });

  it('treats an answer without a status as a transport failure', async () => {
    const remote = new FakeRemote().on('GET', /runbooks$/, () => ({ body: {} }));
    assert.equal((await failure(new ArkbridgeApi(remote.invoke).listRunbooks('1'))).kind, 'network');
  });

  it('reports an unknown run as not found with the server message', async () => {
    const remote = new FakeRemote().on('GET', /^\/api\/v1\/runs\/[^/]+$/, () => ok({ error: 'no run r-9', code: 'not_found' }, 404));
    const err = await failure(new ArkbridgeApi(remote.invoke).run('r-9'));
    assert.equal(err.kind, 'not-found');
    assert.equal(err.message, 'no run r-9');
  });
});

describe('run', () => {
  it('picks the run record fields the macro shows', async () => {
    const remote = new FakeRemote().on('GET', /^\/api\/v1\/runs\/r-1$/, () =>
      ok({ run_id: 'r-1', status: 'succeeded', exit_code: 0, mode: 'write', duration_ms: 1200, rotated: ['Prod-DB/payments-db'], comment_id: '294916', audit_seq: 8 }),
    );
    assert.deepEqual(await new ArkbridgeApi(remote.invoke).run('r-1'), {
      status: 'succeeded',
      exitCode: 0,
      mode: 'write',
      durationMs: 1200,
      rotated: ['Prod-DB/payments-db'],
      commentId: '294916',
      auditSeq: 8,
    });
  });
});
