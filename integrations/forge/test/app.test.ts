/**
 * The macro end to end in a server-side DOM against a fake arkbridge: listing, a run followed to
 * its result, a denial, read-only mode, retries and "Resume", and server text that stays text.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MacroApp, startApp } from '../src/app.js';
import { MAX_OUTPUT_CHARS } from '../src/view.js';
import { FakeClock, FakeRemote, ok, RESTART, sequence, STATUS, dom } from './fakes.js';

const RUNBOOKS = /^\/api\/v1\/pages\/294913\/runbooks$/;
const RUNS = /^\/api\/v1\/runs$/;
const OUTPUT = /^\/api\/v1\/runs\/r-1\/output$/;
const RUN = /^\/api\/v1\/runs\/r-1$/;

async function macro(remote: FakeRemote, clock = new FakeClock()): Promise<{ app: MacroApp; root: HTMLElement; clock: FakeClock }> {
  const { document, root } = dom();
  const app = startApp({ document, root, invoke: remote.invoke, pageId: '294913', sleep: clock.sleep, random: () => 0 });
  await app.settled();
  return { app, root, clock };
}

function button(root: HTMLElement, name: string): HTMLButtonElement {
  const found = [...root.querySelectorAll('button')].find(
    (b) => b.getAttribute('aria-label') === name || b.textContent === name,
  );
  assert.ok(found, `no button ${name}`);
  return found as HTMLButtonElement;
}

async function click(app: MacroApp, root: HTMLElement, name: string): Promise<void> {
  button(root, name).dispatchEvent(new (root.ownerDocument.defaultView as unknown as typeof globalThis).Event('click'));
  await app.settled();
}

function visible(root: HTMLElement, selector: string): HTMLElement | undefined {
  const node = root.querySelector(selector) as HTMLElement | null;
  return node && !node.hidden ? node : undefined;
}

describe('listing', () => {
  it('shows each runbook with its credentials and a labelled Run button', async () => {
    const remote = new FakeRemote().on('GET', RUNBOOKS, () => ok({ runbooks: [RESTART, STATUS] }));
    const { root } = await macro(remote);
    const names = [...root.querySelectorAll('section.runbook h2')].map((h) => h.textContent);
    assert.deepEqual(names, ['restart', 'status']);
    const section = root.querySelector('section.runbook') as HTMLElement;
    assert.equal(section.getAttribute('aria-labelledby'), section.querySelector('h2')?.id);
    const cells = [...section.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent));
    assert.deepEqual(cells, [
      ['DB_PASSWORD', 'cyberark://Prod-DB/payments-db', 'secret'],
      ['DB_PASSWORD', 'cyberark://Prod-DB-RO/payments-ro', 'fallback'],
    ]);
    assert.equal(button(root, 'Run restart').textContent, 'Run');
    assert.equal(button(root, 'Run status').type, 'button');
    assert.equal(visible(root, 'p.status'), undefined);
  });

  it('says when the page has no runbook', async () => {
    const remote = new FakeRemote().on('GET', RUNBOOKS, () => ok({ runbooks: [] }));
    const { root } = await macro(remote);
    assert.match(visible(root, 'p.status')?.textContent ?? '', /no arkbridge runbook/);
  });

  it('retries a failed listing with backoff, then offers Try again, which reloads', async () => {
    let up = false;
    const remote = new FakeRemote().on('GET', RUNBOOKS, () => {
      if (!up) throw new Error('ECONNRESET');
      return ok({ runbooks: [STATUS] });
    });
    const { app, root, clock } = await macro(remote);
    assert.equal(remote.calls.length, 5);
    assert.deepEqual(clock.delays, [250, 500, 1000, 2000]);
    assert.match(visible(root, 'p.status')?.textContent ?? '', /Lost contact with arkbridge: cannot reach arkbridge: ECONNRESET/);
    up = true;
    await click(app, root, 'Try again');
    assert.deepEqual([...root.querySelectorAll('section.runbook h2')].map((h) => h.textContent), ['status']);
  });
});

describe('a run', () => {
  function runRemote(): FakeRemote {
    return new FakeRemote()
      .on('GET', RUNBOOKS, () => ok({ runbooks: [RESTART] }))
      .on('POST', RUNS, () => ok({ run_id: 'r-1' }, 202))
      .on(
        'GET',
        OUTPUT,
        sequence(
          ok({ chunks: [{ seq: 1, stream: 'stdout', text: 'Restarting with DB_PASSWORD=*****\n' }], next: 1, done: false }),
          ok({ chunks: [{ seq: 2, stream: 'stderr', text: 'warning: slow\n' }], next: 2, done: false }),
          ok({ chunks: [], next: 2, done: true, status: 'succeeded', exit_code: 0, mode: 'write' }),
        ),
      )
      .on('GET', RUN, () =>
        ok({ status: 'succeeded', exit_code: 0, mode: 'write', duration_ms: 1200, rotated: ['Prod-DB/payments-db'], comment_id: '294916', audit_seq: 8 }),
      );
  }

  it('starts on Run, shows the masked output live and then the result', async () => {
    const remote = runRemote();
    const { app, root } = await macro(remote);
    await click(app, root, 'Run restart');
    assert.deepEqual(remote.callsTo('POST', RUNS).map((c) => c.body), [{ page_id: '294913', block: 'restart' }]);
    const output = visible(root, 'pre.output');
    assert.ok(output);
    assert.equal(output.getAttribute('role'), 'log');
    assert.equal(output.getAttribute('aria-live'), 'polite');
    assert.equal(output.textContent, 'Restarting with DB_PASSWORD=*****\nwarning: slow\n');
    assert.equal(output.querySelector('.stderr')?.textContent, 'warning: slow\n');
    assert.equal(
      visible(root, 'p.result')?.textContent,
      'Succeeded (exit code 0) in 1.2 s. Rotated: Prod-DB/payments-db. The result was posted as a comment on this page. Audit record 8.',
    );
    assert.equal(visible(root, '.read-only'), undefined);
    const run = button(root, 'Run restart');
    assert.equal(run.disabled, false);
    assert.equal((root.querySelector('section.runbook') as HTMLElement).getAttribute('aria-busy'), 'false');
  });

  it('shows a denial with its reasons and polls nothing', async () => {
    const remote = new FakeRemote()
      .on('GET', RUNBOOKS, () => ok({ runbooks: [RESTART] }))
      .on('POST', RUNS, () =>
        ok({ error: 'bob@example.com may not run restart', reasons: ['[verified ok] bob', '[grant DENIED] no grant binds OPS to Prod-DB'] }, 403),
      );
    const { app, root } = await macro(remote);
    await click(app, root, 'Run restart');
    const denial = visible(root, '.denial');
    assert.ok(denial);
    assert.equal(denial.getAttribute('role'), 'alert');
    assert.equal(denial.querySelector('p')?.textContent, 'Denied: bob@example.com may not run restart');
    assert.deepEqual([...denial.querySelectorAll('li')].map((li) => [li.textContent, li.className]), [
      ['[verified ok] bob', 'reason'],
      ['[grant DENIED] no grant binds OPS to Prod-DB', 'reason failed'],
    ]);
    assert.equal(remote.callsTo('GET', OUTPUT).length, 0);
    assert.equal(visible(root, 'pre.output'), undefined);
  });

  it('shows the read-only banner when the run says so', async () => {
    const readOnly = new FakeRemote()
      .on('GET', RUNBOOKS, () => ok({ runbooks: [RESTART] }))
      .on('POST', RUNS, () => ok({ run_id: 'r-1' }, 202))
      .on(
        'GET',
        OUTPUT,
        sequence(
          ok({ chunks: [{ seq: 1, stream: 'stdout', text: 'mode=read-only\n' }], next: 1, done: false, mode: 'read-only' }),
          ok({ chunks: [], next: 1, done: true, status: 'succeeded', exit_code: 0, mode: 'read-only' }),
        ),
      )
      .on('GET', RUN, () => ok({ status: 'succeeded', exit_code: 0, mode: 'read-only' }));
    const { app, root } = await macro(readOnly);
    await click(app, root, 'Run restart');
    assert.match(visible(root, '.read-only')?.textContent ?? '', /Read-only mode: CyberArk was unavailable/);
    assert.match(visible(root, 'p.result')?.textContent ?? '', /Ran read-only with the fallback credentials/);
  });

  it('does not send the start again after a transport failure', async () => {
    const remote = new FakeRemote()
      .on('GET', RUNBOOKS, () => ok({ runbooks: [RESTART] }))
      .on('POST', RUNS, () => {
        throw new Error('socket hang up');
      });
    const { app, root } = await macro(remote);
    await click(app, root, 'Run restart');
    assert.equal(remote.callsTo('POST', RUNS).length, 1);
    assert.match(visible(root, '.error')?.textContent ?? '', /may or may not have started/);
    assert.equal(button(root, 'Run restart').disabled, false);
  });

  it('offers Resume after losing arkbridge and continues from the cursor without repeating output', async () => {
    let offline = false;
    const answers = sequence(
      ok({ chunks: [{ seq: 1, stream: 'stdout', text: 'one\n' }], next: 1, done: false }),
      ok({ chunks: [{ seq: 2, stream: 'stdout', text: 'two\n' }], next: 2, done: true, status: 'failed', exit_code: 2 }),
    );
    const remote = new FakeRemote()
      .on('GET', RUNBOOKS, () => ok({ runbooks: [RESTART] }))
      .on('POST', RUNS, () => ok({ run_id: 'r-1' }, 202))
      .on('GET', OUTPUT, (req, url) => {
        if (url.searchParams.get('after') === '1' && offline) throw new Error('offline');
        const answer = answers(req, url);
        offline = url.searchParams.get('after') === '0';
        return answer;
      })
      .on('GET', RUN, () => ok({ error: 'gone' }, 500));
    const { app, root } = await macro(remote);
    await click(app, root, 'Run restart');
    assert.match(visible(root, '.error')?.textContent ?? '', /Lost contact with arkbridge.*output so far is kept/);
    assert.equal(visible(root, 'pre.output')?.textContent, 'one\n');
    offline = false;
    await click(app, root, 'Resume');
    assert.equal(visible(root, 'pre.output')?.textContent, 'one\ntwo\n');
    assert.equal(visible(root, '.error'), undefined);
    // The run record failed, so the result comes from the last output answer.
    assert.equal(visible(root, 'p.result')?.textContent, 'Failed (exit code 2).');
    assert.equal(visible(root, 'p.result')?.className, 'result failed');
  });

  it('keeps at most MAX_OUTPUT_CHARS of output and says that earlier output was trimmed', async () => {
    const big = 'x'.repeat(100 * 1024);
    const remote = new FakeRemote()
      .on('GET', RUNBOOKS, () => ok({ runbooks: [RESTART] }))
      .on('POST', RUNS, () => ok({ run_id: 'r-1' }, 202))
      .on('GET', OUTPUT, (_req, url) => {
        const after = Number(url.searchParams.get('after'));
        const done = after === 3;
        return ok({ chunks: [{ seq: after + 1, stream: 'stdout', text: `${after + 1}${big}` }], next: after + 1, done, status: done ? 'succeeded' : undefined });
      })
      .on('GET', RUN, () => ok({ status: 'succeeded', exit_code: 0 }));
    const { app, root } = await macro(remote);
    await click(app, root, 'Run restart');
    const output = visible(root, 'pre.output');
    assert.ok(output);
    const first = output.firstChild as HTMLElement;
    assert.equal(first.textContent, '[earlier output trimmed]\n');
    const kept = [...output.querySelectorAll('span.stdout')].map((s) => s.textContent?.[0]);
    assert.deepEqual(kept, ['3', '4']);
    assert.ok((output.textContent?.length ?? 0) <= MAX_OUTPUT_CHARS + 100);
  });
});

describe('server text', () => {
  it('is never interpreted as HTML', async () => {
    const evil = '<img src=x onerror="alert(1)"><script>alert(2)</script><b>bold</b>';
    const remote = new FakeRemote()
      .on('GET', RUNBOOKS, () =>
        ok({ runbooks: [{ name: evil, mode: 'read', language: evil, bindings: [{ name: evil, reference: evil, kind: evil }] }] }),
      )
      .on('POST', RUNS, () => ok({ error: evil, reasons: [evil] }, 403));
    const { app, root } = await macro(remote);
    await click(app, root, `Run ${evil}`);
    assert.equal(root.querySelector('img'), null);
    assert.equal(root.querySelector('script'), null);
    assert.equal(root.querySelector('b'), null);
    assert.equal(root.querySelector('h2')?.textContent, evil);
    assert.equal(root.querySelector('.denial li')?.textContent, evil);
    assert.equal(root.querySelector('.denial p')?.textContent, `Denied: ${evil}`);
  });

  it('shows output markup and escape sequences as plain characters', async () => {
    const remote = new FakeRemote()
      .on('GET', RUNBOOKS, () => ok({ runbooks: [STATUS] }))
      .on('POST', RUNS, () => ok({ run_id: 'r-1' }, 202))
      .on('GET', OUTPUT, () =>
        ok({ chunks: [{ seq: 1, stream: 'stdout', text: '\u001b[31m<script>alert(1)</script>\u001b[0m done\r\n\u0007' }], next: 1, done: true, status: 'succeeded' }),
      )
      .on('GET', RUN, () => ok({ status: 'succeeded' }));
    const { app, root } = await macro(remote);
    await click(app, root, 'Run status');
    assert.equal(root.querySelector('script'), null);
    assert.equal(visible(root, 'pre.output')?.textContent, '<script>alert(1)</script> done\n');
  });
});
