/**
 * The Custom UI entry point, bundled into `static/runbooks/build/main.js`: wires the macro to
 * `@forge/bridge` (the page id from the Forge context, `invokeRemote` for arkbridge) and to the
 * browser's clock. The logic lives in `app.ts`, where the tests reach it.
 */

import { invokeRemote, view } from '@forge/bridge';

import type { InvokeRemote } from './api.js';
import { startApp } from './app.js';
import { realSleep } from './retry.js';

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) {
    return;
  }
  const stop = new AbortController();
  window.addEventListener('pagehide', () => stop.abort(), { once: true });
  let pageId: string | undefined;
  try {
    const context = await view.getContext();
    const content = (context.extension as { content?: { id?: unknown } }).content;
    if (typeof content?.id === 'string' || typeof content?.id === 'number') {
      pageId = String(content.id);
    }
  } catch (err) {
    root.textContent = `Cannot read the Forge context: ${err instanceof Error ? err.message : String(err)}`;
    return;
  }
  if (!pageId) {
    // In the editor's preview of an unsaved page there is no content id yet.
    root.textContent = 'Save the page to see its runbooks.';
    return;
  }
  startApp({
    document,
    root,
    invoke: invokeRemote as InvokeRemote,
    pageId,
    sleep: realSleep,
    signal: stop.signal,
  });
}

void main();
