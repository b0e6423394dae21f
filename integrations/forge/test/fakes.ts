/**
 * Test doubles: a fake `invokeRemote` that routes requests to handlers and records them, a clock
 * whose sleeps return at once and remember how long they were asked to wait, and a server-side
 * DOM (linkedom) to render the macro into.
 */

import { parseHTML } from 'linkedom';

import type { RemoteRequest, RemoteResponse } from '../src/api.js';
import { Aborted, type Sleep } from '../src/retry.js';

export type Handler = (request: RemoteRequest, url: URL) => RemoteResponse | Promise<RemoteResponse>;

interface Route {
  method: string;
  path: RegExp;
  handler: Handler;
}

export class FakeRemote {
  readonly calls: RemoteRequest[] = [];
  private readonly routes: Route[] = [];

  on(method: 'GET' | 'POST', path: RegExp, handler: Handler): this {
    this.routes.push({ method, path, handler });
    return this;
  }

  /** The `invokeRemote` stand-in; a handler that throws plays a failed transport. */
  readonly invoke = async (request: RemoteRequest): Promise<RemoteResponse> => {
    this.calls.push(request);
    const url = new URL(request.path, 'https://arkbridge.test');
    const route = this.routes.find((r) => r.method === request.method && r.path.test(url.pathname));
    if (!route) {
      return { status: 404, body: { error: `no route for ${request.method} ${url.pathname}`, code: 'not_found' } };
    }
    return route.handler(request, url);
  };

  callsTo(method: string, path: RegExp): RemoteRequest[] {
    return this.calls.filter((c) => c.method === method && path.test(new URL(c.path, 'https://arkbridge.test').pathname));
  }
}

/** `{status: 200, body}`. */
export function ok(body: unknown, status = 200): RemoteResponse {
  return { status, body, headers: { 'content-type': 'application/json' } };
}

/** A handler that answers with each response in turn, then repeats the last one. */
export function sequence(...answers: Array<RemoteResponse | Error>): Handler {
  let i = 0;
  return () => {
    const answer = answers[Math.min(i, answers.length - 1)];
    i++;
    if (answer instanceof Error) {
      throw answer;
    }
    if (!answer) {
      throw new Error('sequence() needs at least one answer');
    }
    return answer;
  };
}

/** Sleeps that return at once, recording the requested delays. */
export class FakeClock {
  readonly delays: number[] = [];

  readonly sleep: Sleep = async (ms, signal) => {
    if (signal?.aborted) {
      throw new Aborted();
    }
    this.delays.push(ms);
  };

  get total(): number {
    return this.delays.reduce((a, b) => a + b, 0);
  }
}

/** A fresh document with the macro's root element. */
export function dom(): { document: Document; root: HTMLElement } {
  const { document } = parseHTML('<!doctype html><html><body><main id="app"></main></body></html>');
  const doc = document as unknown as Document;
  const root = doc.getElementById('app');
  if (!root) {
    throw new Error('no #app');
  }
  return { document: doc, root };
}

export const RESTART = {
  name: 'restart',
  mode: 'write',
  language: 'bash',
  bindings: [
    { name: 'DB_PASSWORD', reference: 'cyberark://Prod-DB/payments-db', kind: 'secret' },
    { name: 'DB_PASSWORD', reference: 'cyberark://Prod-DB-RO/payments-ro', kind: 'fallback' },
  ],
};

export const STATUS = { name: 'status', mode: 'read', language: 'python', bindings: [] };
