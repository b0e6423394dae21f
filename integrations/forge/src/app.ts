/**
 * The macro's behaviour: list the page's runbooks, start a run on Run, follow its output to the
 * end, and say what happened (result, denial, read-only mode, lost contact with a way to resume).
 * Everything outside the page (the remote, the clock, the document) comes in as a parameter.
 */

import { ApiError, ArkbridgeApi, type InvokeRemote, type RunRecord } from './api.js';
import { FollowError, type FollowTimings, followRun } from './follow.js';
import { Aborted, type RetryPolicy, type Sleep, withRetry } from './retry.js';
import { resultSentence } from './text.js';
import { MacroView, type RunbookPanel } from './view.js';

export interface AppDeps {
  document: Document;
  root: HTMLElement;
  invoke: InvokeRemote;
  /** The Confluence page the macro sits on (the Forge context's `extension.content.id`). */
  pageId: string;
  sleep: Sleep;
  random?: () => number;
  retry?: RetryPolicy;
  timings?: Partial<FollowTimings>;
  /** Stops every call and wait when the macro goes away. */
  signal?: AbortSignal;
}

/** What a message about a failed call says, by kind. */
export function describeError(error: ApiError): string {
  switch (error.kind) {
    case 'unauthenticated':
      return `arkbridge could not verify who you are (${error.message}). Reload the page; if it persists, ask your administrator to check the app's installation.`;
    case 'not-found':
      return `Not found: ${error.message}`;
    case 'rate-limited':
      return `arkbridge is busy (${error.message}). Try again in a moment.`;
    case 'unavailable':
    case 'network':
      return `Lost contact with arkbridge: ${error.message}`;
    case 'malformed':
      return error.message;
    default:
      return `arkbridge refused: ${error.message}`;
  }
}

export class MacroApp {
  readonly view: MacroView;
  private readonly api: ArkbridgeApi;
  private readonly deps: AppDeps;
  private readonly pending = new Set<Promise<void>>();

  constructor(deps: AppDeps) {
    this.deps = deps;
    this.api = new ArkbridgeApi(deps.invoke);
    this.view = new MacroView(deps.document, deps.root);
  }

  /** Resolves when every operation started so far has finished (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) {
      await Promise.allSettled([...this.pending]);
    }
  }

  private track(work: Promise<void>): Promise<void> {
    const tracked = work.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return tracked;
  }

  private retryOptions(onRetry?: (error: ApiError, retry: number, delayMs: number) => void) {
    return {
      sleep: this.deps.sleep,
      ...(this.deps.random ? { random: this.deps.random } : {}),
      ...(this.deps.retry ? { policy: this.deps.retry } : {}),
      ...(this.deps.signal ? { signal: this.deps.signal } : {}),
      ...(onRetry ? { onRetry } : {}),
    };
  }

  /** Loads the page's runbooks and draws them. */
  load(): Promise<void> {
    return this.track(this.loadNow());
  }

  private async loadNow(): Promise<void> {
    this.view.clearRunbooks();
    this.view.setStatus('Loading the runbooks on this page…');
    try {
      const runbooks = await withRetry(
        () => this.api.listRunbooks(this.deps.pageId),
        this.retryOptions((_e, retry, delay) =>
          this.view.setStatus(`Cannot reach arkbridge yet; trying again in ${Math.ceil(delay / 1000)} s (retry ${retry})…`),
        ),
      );
      if (runbooks.length === 0) {
        this.view.setStatus('This page has no arkbridge runbook. A runbook is a code block titled "arkbridge: NAME".');
        return;
      }
      this.view.setStatus('');
      for (const runbook of runbooks) {
        this.view.addRunbook(runbook, (panel) => void this.run(panel));
      }
    } catch (err) {
      if (err instanceof Aborted) {
        return;
      }
      const message = err instanceof ApiError ? describeError(err) : String(err);
      this.view.setStatus(message, { label: 'Try again', run: () => void this.load() });
    }
  }

  /** Starts a run of the panel's runbook and follows it to the end. */
  run(panel: RunbookPanel): Promise<void> {
    return this.track(this.runNow(panel));
  }

  private async runNow(panel: RunbookPanel): Promise<void> {
    panel.reset();
    panel.setRunning(true);
    panel.setProgress('Asking arkbridge to start the run…');
    let runId: string;
    try {
      runId = await withRetry(() => this.api.startRun(this.deps.pageId, panel.runbook.name), this.retryOptions());
    } catch (err) {
      panel.setProgress('');
      panel.setRunning(false);
      if (err instanceof Aborted) {
        return;
      }
      if (err instanceof ApiError && err.kind === 'denied') {
        panel.showDenial(err.message, err.reasons);
      } else if (err instanceof ApiError && err.kind === 'network') {
        // The POST may have reached arkbridge, so it is not sent again on its own.
        panel.showError(`${describeError(err)}. The run may or may not have started; check the page's comments before running it again.`);
      } else {
        panel.showError(err instanceof ApiError ? describeError(err) : String(err));
      }
      return;
    }
    await this.follow(panel, runId, 0);
  }

  private async follow(panel: RunbookPanel, runId: string, from: number): Promise<void> {
    panel.clearError();
    panel.setRunning(true);
    panel.setProgress(`Running (run ${runId})…`);
    try {
      const end = await followRun(
        this.api,
        runId,
        from,
        {
          chunk: (chunk) => panel.appendChunk(chunk),
          gap: (count) => panel.showGap(count),
          mode: (mode) => {
            if (mode === 'read-only') {
              panel.showReadOnly();
            }
          },
          retrying: (_e, retry, delay) =>
            panel.setProgress(`Lost contact with arkbridge; trying again in ${Math.ceil(delay / 1000)} s (retry ${retry})…`),
        },
        {
          sleep: this.deps.sleep,
          ...(this.deps.random ? { random: this.deps.random } : {}),
          ...(this.deps.signal ? { signal: this.deps.signal } : {}),
          ...(this.deps.retry ? { retry: this.deps.retry } : {}),
          ...(this.deps.timings ? { timings: this.deps.timings } : {}),
        },
      );
      const record: RunRecord = { ...(end.status !== undefined ? { status: end.status } : {}) };
      if (end.exitCode !== undefined) record.exitCode = end.exitCode;
      if (end.mode !== undefined) record.mode = end.mode;
      try {
        // The run record adds the duration, rotations and the comment; without it the output's
        // final status still stands.
        Object.assign(record, await withRetry(() => this.api.run(runId), this.retryOptions()));
      } catch (err) {
        if (err instanceof Aborted) {
          throw err;
        }
      }
      if (record.mode === 'read-only') {
        panel.showReadOnly();
      }
      panel.setProgress('');
      panel.setRunning(false);
      panel.showResult(resultSentence(record), record.status === 'succeeded');
    } catch (err) {
      if (err instanceof Aborted) {
        return;
      }
      panel.setProgress('');
      panel.setRunning(false);
      if (err instanceof FollowError) {
        const cursor = err.cursor;
        panel.showError(
          `${describeError(err.error)}. The run goes on in arkbridge; its output so far is kept above.`,
          { label: 'Resume', run: () => void this.track(this.follow(panel, runId, cursor)) },
        );
      } else {
        panel.showError(String(err));
      }
    }
  }
}

/** Builds the macro and loads its runbooks. */
export function startApp(deps: AppDeps): MacroApp {
  const app = new MacroApp(deps);
  void app.load();
  return app;
}
