/**
 * Retries with jittered exponential backoff, for calls whose `ApiError` says they may be sent
 * again. The clock and the randomness are parameters, so tests run without waiting.
 */

import { ApiError } from './api.js';

/** Waits `ms` milliseconds; rejects when the signal aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8000 };

/** Thrown when the user or the page stopped what was going on. */
export class Aborted extends Error {
  constructor() {
    super('stopped');
    this.name = 'Aborted';
  }
}

/** A real `Sleep` on `setTimeout`, for the product. */
export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Aborted());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Aborted());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The delay before retry number `retry` (1 for the first): "equal jitter", half of an
 * exponentially growing cap plus a uniform draw below the other half, so that each retry waits
 * at least that half and many macros that lost arkbridge at once do not come back in step.
 */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(cap / 2 + (cap / 2) * r);
}

export interface RetryOptions {
  policy?: RetryPolicy;
  sleep: Sleep;
  random?: () => number;
  signal?: AbortSignal;
  /** Told before each wait, so the UI can say that it is trying again. */
  onRetry?: (error: ApiError, retry: number, delayMs: number) => void;
}

/**
 * Runs `call` until it succeeds, fails with an error that may not be retried, or has used up
 * the policy's attempts; the last error is then thrown as is.
 */
export async function withRetry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) {
      throw new Aborted();
    }
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ApiError) || !err.retryable || attempt >= policy.maxAttempts) {
        throw err;
      }
      const delay = backoffDelay(policy, attempt, random);
      options.onRetry?.(err, attempt, delay);
      await options.sleep(delay, options.signal);
    }
  }
}
