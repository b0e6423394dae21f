/**
 * Plain-text helpers for what the macro shows: terminal control sequences out of run output,
 * and the one-line wording of a run's result. Nothing here builds markup; the view puts these
 * strings into the page with `textContent` only.
 */

import type { RunRecord } from './api.js';

// ANSI CSI sequences (colours, cursor moves), OSC sequences (window titles, hyperlinks) and other
// two-byte escapes. They mean nothing in a <pre> and would show as garbage.
const CSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
const OSC = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
const ESC2 = /\u001b[@-Z\\-_]/g;
// C0 controls other than tab and newline, DEL, and C1 controls.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Makes run output printable: CRLF and lone CR become newlines (progress bars then show as
 * lines), escape sequences and other control characters are dropped.
 */
export function printable(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/\r/g, '\n')
    .replace(OSC, '')
    .replace(CSI, '')
    .replace(ESC2, '')
    .replace(CONTROLS, '');
}

const STATUS_WORDS: Record<string, string> = {
  succeeded: 'Succeeded',
  failed: 'Failed',
  'timed-out': 'Timed out',
  cancelled: 'Cancelled',
  error: 'Error',
  denied: 'Denied',
};

/** "1.2 s", "3 min 4 s": a run's duration for people. */
export function duration(ms: number): string {
  if (ms < 1000) {
    return `${ms} ms`;
  }
  const seconds = ms / 1000;
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

/** The result line under a finished run, from the run record (and the last output page). */
export function resultSentence(run: RunRecord): string {
  const parts: string[] = [];
  const status = run.status ?? 'finished';
  let head = STATUS_WORDS[status] ?? status;
  if (typeof run.exitCode === 'number') {
    head += ` (exit code ${run.exitCode})`;
  }
  if (run.durationMs !== undefined) {
    head += ` in ${duration(run.durationMs)}`;
  }
  parts.push(`${head}.`);
  if (run.mode === 'read-only') {
    parts.push('Ran read-only with the fallback credentials.');
  }
  if (run.rotated && run.rotated.length > 0) {
    parts.push(`Rotated: ${run.rotated.join(', ')}.`);
  }
  if (run.commentId !== undefined) {
    parts.push('The result was posted as a comment on this page.');
  }
  if (run.auditSeq !== undefined) {
    parts.push(`Audit record ${run.auditSeq}.`);
  }
  return parts.join(' ');
}
