/**
 * The shipped bundle itself: built with esbuild as `npm run build` does, then booted in a
 * server-side DOM with a stand-in for the bridge Forge injects into Custom UI iframes. This checks
 * the wiring the unit tests cannot: the page id from the Forge context, and calls that really go
 * through `@forge/bridge`'s `invokeRemote`.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';
import { parseHTML } from 'linkedom';

const APP = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let bundle = '';
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arkbridge-bundle-'));
  const outfile = join(dir, 'main.js');
  await build({ entryPoints: [join(APP, 'src/index.ts')], outfile, bundle: true, format: 'iife', platform: 'browser', logLevel: 'silent' });
  bundle = readFileSync(outfile, 'utf8');
});

after(() => rmSync(dir, { recursive: true, force: true }));

type Call = [string, unknown];

/** Boots the bundle in a fresh page whose bridge answers with `answer`. */
async function boot(answer: (name: string, payload: unknown) => unknown): Promise<{ document: Document; calls: Call[] }> {
  const { window, document } = parseHTML(readFileSync(join(APP, 'static/runbooks/public/index.html'), 'utf8'));
  const calls: Call[] = [];
  const g = globalThis as Record<string, unknown>;
  g['window'] = window;
  g['document'] = document;
  g['__bridge'] = {
    callBridge: async (name: string, payload: unknown) => {
      calls.push([name, payload]);
      return answer(name, payload);
    },
  };
  new Function(bundle)();
  // Lets the bundle's promise chain (context, then the listing) run to its end.
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { document: document as unknown as Document, calls };
}

describe('the bundle', () => {
  it('reads the page id from the Forge context and lists its runbooks through invokeRemote', async () => {
    const { document, calls } = await boot((name) => {
      if (name === 'getContext') return { extension: { type: 'macro', content: { id: 294913, type: 'page' } } };
      return {
        success: true,
        payload: { status: 200, headers: {}, body: { runbooks: [{ name: 'restart', mode: 'write', language: 'bash', bindings: [] }] } },
      };
    });
    assert.deepEqual(calls, [
      ['getContext', undefined],
      ['invoke', { method: 'GET', path: '/api/v1/pages/294913/runbooks', invokeType: 'ui-remote-fetch' }],
    ]);
    assert.equal(document.querySelector('h2')?.textContent, 'restart');
    assert.equal(document.querySelector('button.run')?.getAttribute('aria-label'), 'Run restart');
  });

  it('asks for the page to be saved when the context has no content id', async () => {
    const { document, calls } = await boot(() => ({ extension: { type: 'macro', isEditing: true } }));
    assert.deepEqual(calls.map((c) => c[0]), ['getContext']);
    assert.equal(document.getElementById('app')?.textContent, 'Save the page to see its runbooks.');
  });
});
