/**
 * Follows a run's masked output by polling `GET /api/v1/runs/{id}/output?after=N`.
 *
 * The cursor is the whole state: chunks at or below it were shown already and are skipped if a
 * retried call brings them again, a jump above it means the server's bounded buffer dropped
 * some, and after a failure the same cursor resumes exactly where the output stopped.
 */

import { ApiError, type ArkbridgeApi, type OutputChunk } from './api.js';
import { Aborted, type RetryPolicy, type Sleep, withRetry } from './retry.js';

export interface FollowTimings {
  /** The wait after an answer that brought output. */
  activeIntervalMs: number;
  /** The first wait after an answer without output; it grows by half each time, up to the max. */
  idleIntervalMs: number;
  maxIdleIntervalMs: number;
  /** The most time spent waiting between polls before giving up on a run that never ends. */
  maxWaitMs: number;
}

export const DEFAULT_TIMINGS: FollowTimings = {
  activeIntervalMs: 250,
  idleIntervalMs: 500,
  maxIdleIntervalMs: 2000,
  maxWaitMs: 2 * 60 * 60 * 1000,
};

export interface FollowEvents {
  chunk(chunk: OutputChunk): void;
  /** `count` chunks between the cursor and the next chunk are gone from the server. */
  gap(count: number): void;
  mode(mode: string): void;
  retrying?(error: ApiError, retry: number, delayMs: number): void;
}

export interface FollowOptions {
  sleep: Sleep;
  random?: () => number;
  signal?: AbortSignal;
  retry?: RetryPolicy;
  timings?: Partial<FollowTimings>;
}

export interface FollowResult {
  cursor: number;
  status?: string;
  exitCode?: number | null;
  mode?: string;
}

/** Following stopped before the run ended; `cursor` is where to resume. */
export class FollowError extends Error {
  readonly cursor: number;
  readonly error: ApiError;

  constructor(error: ApiError, cursor: number) {
    super(error.message);
    this.name = 'FollowError';
    this.error = error;
    this.cursor = cursor;
  }
}

/**
 * Polls until the server says the run is done, and returns its final status. Throws
 * `FollowError` (with the cursor to resume from) when a call keeps failing or the run outlasts
 * `maxWaitMs`, and `Aborted` when the signal fires.
 */
export async function followRun(
  api: ArkbridgeApi,
  runId: string,
  from: number,
  events: FollowEvents,
  options: FollowOptions,
): Promise<FollowResult> {
  const timings = { ...DEFAULT_TIMINGS, ...options.timings };
  let cursor = from;
  let lastSeq = from;
  let mode: string | undefined;
  let idle = timings.idleIntervalMs;
  let waited = 0;
  for (;;) {
    let page;
    try {
      page = await withRetry(() => api.output(runId, cursor), {
        sleep: options.sleep,
        ...(options.random ? { random: options.random } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.retry ? { policy: options.retry } : {}),
        ...(events.retrying ? { onRetry: events.retrying.bind(events) } : {}),
      });
    } catch (err) {
      if (err instanceof ApiError) {
        throw new FollowError(err, cursor);
      }
      throw err;
    }
    if (page.next < cursor) {
      throw new FollowError(
        new ApiError('malformed', `arkbridge moved the output cursor back from ${cursor} to ${page.next}`),
        cursor,
      );
    }
    for (const chunk of page.chunks) {
      if (chunk.seq <= lastSeq) {
        continue;
      }
      if (chunk.seq > lastSeq + 1) {
        events.gap(chunk.seq - lastSeq - 1);
      }
      events.chunk(chunk);
      lastSeq = chunk.seq;
    }
    if (lastSeq > page.next) {
      throw new FollowError(
        new ApiError('malformed', `arkbridge sent chunk ${lastSeq} but a cursor of ${page.next}`),
        cursor,
      );
    }
    cursor = page.next;
    if (page.mode !== undefined && page.mode !== mode) {
      mode = page.mode;
      events.mode(mode);
    }
    if (page.done) {
      const result: FollowResult = { cursor };
      if (page.status !== undefined) result.status = page.status;
      if (page.exitCode !== undefined) result.exitCode = page.exitCode;
      if (mode !== undefined) result.mode = mode;
      return result;
    }
    let delay: number;
    if (page.chunks.length > 0) {
      delay = timings.activeIntervalMs;
      idle = timings.idleIntervalMs;
    } else {
      delay = idle;
      idle = Math.min(timings.maxIdleIntervalMs, Math.round(idle * 1.5));
    }
    if (waited + delay > timings.maxWaitMs) {
      throw new FollowError(
        new ApiError('unavailable', 'the run has not ended after a long wait; it may still be running'),
        cursor,
      );
    }
    waited += delay;
    if (options.signal?.aborted) {
      throw new Aborted();
    }
    await options.sleep(delay, options.signal);
  }
}
