/**
 * The macro's DOM: a list of runbooks, each with its credentials, a Run button, live output and
 * the result. Every string that came from arkbridge enters the page as text (`textContent`,
 * text nodes), never as markup, so output such as `<img onerror=…>` stays visible characters.
 * The document is a parameter, so tests render into a server-side DOM.
 */

import type { OutputChunk, Runbook } from './api.js';
import { printable } from './text.js';

/** Output kept on screen per run; older text is removed first. */
export const MAX_OUTPUT_CHARS = 256 * 1024;

export interface Action {
  label: string;
  run: () => void;
}

function el<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** The whole macro: a status line and one panel per runbook. */
export class MacroView {
  readonly doc: Document;
  readonly root: HTMLElement;
  private readonly status: HTMLParagraphElement;
  private readonly statusAction: HTMLButtonElement;
  private readonly list: HTMLElement;
  private panels = 0;

  constructor(doc: Document, root: HTMLElement) {
    this.doc = doc;
    this.root = root;
    root.replaceChildren();
    const heading = el(doc, 'h1', 'title', 'Runbooks on this page');
    this.status = el(doc, 'p', 'status');
    this.status.setAttribute('role', 'status');
    this.statusAction = el(doc, 'button', 'status-action');
    this.statusAction.type = 'button';
    this.statusAction.hidden = true;
    this.list = el(doc, 'div', 'runbooks');
    root.append(heading, this.status, this.statusAction, this.list);
  }

  /** A line about the whole macro (loading, nothing to run, an error), with an optional action. */
  setStatus(text: string, action?: Action): void {
    this.status.textContent = text;
    this.status.hidden = text.length === 0;
    this.statusAction.hidden = !action;
    this.statusAction.onclick = null;
    if (action) {
      this.statusAction.textContent = action.label;
      this.statusAction.onclick = () => action.run();
    }
  }

  clearRunbooks(): void {
    this.list.replaceChildren();
  }

  addRunbook(runbook: Runbook, onRun: (panel: RunbookPanel) => void): RunbookPanel {
    const panel = new RunbookPanel(this.doc, `arkbridge-rb-${this.panels++}`, runbook, onRun);
    this.list.append(panel.section);
    return panel;
  }
}

/** One runbook block: what it needs, its Run button, and the current run. */
export class RunbookPanel {
  readonly section: HTMLElement;
  readonly button: HTMLButtonElement;
  readonly output: HTMLPreElement;
  readonly runbook: Runbook;
  private readonly doc: Document;
  private readonly progress: HTMLParagraphElement;
  private readonly readOnly: HTMLParagraphElement;
  private readonly denial: HTMLDivElement;
  private readonly result: HTMLParagraphElement;
  private readonly error: HTMLDivElement;
  private outputChars = 0;
  private trimmedNotice: HTMLSpanElement | null = null;

  constructor(doc: Document, id: string, runbook: Runbook, onRun: (panel: RunbookPanel) => void) {
    this.doc = doc;
    this.runbook = runbook;
    const titleId = `${id}-title`;
    this.section = el(doc, 'section', 'runbook');
    this.section.setAttribute('aria-labelledby', titleId);

    const title = el(doc, 'h2', 'runbook-name', runbook.name);
    title.id = titleId;
    const meta = el(doc, 'p', 'meta', `${runbook.language} · ${runbook.mode === 'write' ? 'changes systems (write)' : 'reads only (read)'}`);
    this.section.append(title, meta);

    if (runbook.bindings.length > 0) {
      const table = el(doc, 'table', 'bindings');
      const caption = el(doc, 'caption', undefined, 'Credentials from CyberArk');
      const head = el(doc, 'tr');
      for (const h of ['Variable', 'Reference', 'Kind']) {
        const th = el(doc, 'th', undefined, h);
        th.setAttribute('scope', 'col');
        head.append(th);
      }
      const thead = el(doc, 'thead');
      thead.append(head);
      const tbody = el(doc, 'tbody');
      for (const b of runbook.bindings) {
        const row = el(doc, 'tr');
        const name = el(doc, 'th', undefined, b.name);
        name.setAttribute('scope', 'row');
        row.append(name, el(doc, 'td', undefined, b.reference), el(doc, 'td', undefined, b.kind));
        tbody.append(row);
      }
      table.append(caption, thead, tbody);
      this.section.append(table);
    }

    this.button = el(doc, 'button', 'run', 'Run');
    this.button.type = 'button';
    this.button.setAttribute('aria-label', `Run ${runbook.name}`);
    this.button.addEventListener('click', () => {
      if (!this.button.disabled) {
        onRun(this);
      }
    });

    this.progress = el(doc, 'p', 'progress');
    this.progress.setAttribute('role', 'status');
    this.readOnly = el(
      doc,
      'p',
      'read-only',
      'Read-only mode: CyberArk was unavailable, so this run uses the read-only fallback credentials (ARKBRIDGE_MODE=read-only).',
    );
    this.readOnly.setAttribute('role', 'note');
    this.denial = el(doc, 'div', 'denial');
    this.denial.setAttribute('role', 'alert');
    this.output = el(doc, 'pre', 'output');
    this.output.setAttribute('role', 'log');
    this.output.setAttribute('aria-live', 'polite');
    this.output.setAttribute('aria-label', `Output of ${runbook.name}`);
    this.output.tabIndex = 0;
    this.result = el(doc, 'p', 'result');
    this.result.setAttribute('role', 'status');
    this.error = el(doc, 'div', 'error');
    this.error.setAttribute('role', 'alert');
    this.section.append(this.button, this.progress, this.readOnly, this.denial, this.output, this.result, this.error);
    this.reset();
  }

  /** Clears the previous run's traces before a new one. */
  reset(): void {
    this.progress.textContent = '';
    this.progress.hidden = true;
    this.readOnly.hidden = true;
    this.denial.replaceChildren();
    this.denial.hidden = true;
    this.output.replaceChildren();
    this.output.hidden = true;
    this.outputChars = 0;
    this.trimmedNotice = null;
    this.result.textContent = '';
    this.result.hidden = true;
    this.error.replaceChildren();
    this.error.hidden = true;
  }

  setRunning(running: boolean): void {
    this.button.disabled = running;
    this.button.textContent = running ? 'Running…' : 'Run';
    this.section.setAttribute('aria-busy', running ? 'true' : 'false');
  }

  setProgress(text: string): void {
    this.progress.textContent = text;
    this.progress.hidden = text.length === 0;
  }

  showReadOnly(): void {
    this.readOnly.hidden = false;
  }

  appendChunk(chunk: OutputChunk): void {
    const text = printable(chunk.text);
    if (text.length === 0) {
      return;
    }
    this.output.hidden = false;
    const node = el(this.doc, 'span', chunk.stream === 'stderr' ? 'stderr' : 'stdout', text);
    this.output.append(node);
    this.outputChars += text.length;
    this.trim();
  }

  /** Says, inside the output, that the server no longer had some of it. */
  showGap(count: number): void {
    const text = `\n[${count} earlier output chunk${count === 1 ? ' was' : 's were'} dropped by arkbridge]\n`;
    this.output.hidden = false;
    this.output.append(el(this.doc, 'span', 'notice', text));
    // Counted like output, so that trimming, which may remove it, keeps the count right.
    this.outputChars += text.length;
  }

  private trim(): void {
    while (this.outputChars > MAX_OUTPUT_CHARS) {
      const first = this.trimmedNotice ? this.trimmedNotice.nextSibling : this.output.firstChild;
      if (!first) {
        break;
      }
      this.outputChars -= first.textContent?.length ?? 0;
      first.remove();
      if (!this.trimmedNotice) {
        this.trimmedNotice = el(this.doc, 'span', 'notice', '[earlier output trimmed]\n');
        this.output.prepend(this.trimmedNotice);
      }
    }
  }

  showDenial(message: string, reasons: string[]): void {
    this.denial.replaceChildren();
    this.denial.append(el(this.doc, 'p', 'denial-message', `Denied: ${message}`));
    if (reasons.length > 0) {
      const list = el(this.doc, 'ul', 'reasons');
      list.setAttribute('aria-label', 'Why');
      for (const reason of reasons) {
        list.append(el(this.doc, 'li', reason.includes('DENIED') ? 'reason failed' : 'reason', reason));
      }
      this.denial.append(list);
    }
    this.denial.hidden = false;
  }

  showResult(text: string, ok: boolean): void {
    this.result.textContent = text;
    this.result.className = ok ? 'result ok' : 'result failed';
    this.result.hidden = false;
  }

  showError(message: string, action?: Action): void {
    this.error.replaceChildren();
    this.error.append(el(this.doc, 'p', 'error-message', message));
    if (action) {
      const button = el(this.doc, 'button', 'error-action', action.label);
      button.type = 'button';
      button.addEventListener('click', () => action.run());
      this.error.append(button);
    }
    this.error.hidden = false;
  }

  clearError(): void {
    this.error.replaceChildren();
    this.error.hidden = true;
  }
}
