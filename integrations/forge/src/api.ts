/**
 * Typed calls to the arkbridge REST API through Forge's `invokeRemote`, and the errors they raise.
 *
 * Every answer is checked against the contract in ARCHITECTURE.md before the UI sees it, so a
 * server that drifts from it gives a clear "malformed" error instead of a half-drawn page. The
 * remote function is a parameter: `@forge/bridge` in the product, a fake in the tests.
 */

/** What `invokeRemote` takes (a subset of `@forge/bridge`'s `InvokeRemoteInput`). */
export interface RemoteRequest {
  path: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Record<string, unknown>;
}

/** What `invokeRemote` resolves with: the status and the parsed JSON body. */
export interface RemoteResponse {
  status?: unknown;
  body?: unknown;
  headers?: unknown;
}

export type InvokeRemote = (request: RemoteRequest) => Promise<RemoteResponse>;

export interface Binding {
  name: string;
  reference: string;
  kind: string;
}

export interface Runbook {
  name: string;
  mode: string;
  language: string;
  bindings: Binding[];
}

export interface OutputChunk {
  seq: number;
  stream: string;
  text: string;
}

export interface OutputPage {
  chunks: OutputChunk[];
  next: number;
  done: boolean;
  status?: string;
  exitCode?: number | null;
  mode?: string;
}

/** The fields of a run record the macro shows; the server may send more. */
export interface RunRecord {
  status?: string;
  exitCode?: number | null;
  mode?: string;
  durationMs?: number;
  rotated?: string[];
  commentId?: string;
  auditSeq?: number;
}

export type ApiErrorKind =
  | 'unauthenticated'
  | 'denied'
  | 'not-found'
  | 'bad-request'
  | 'rate-limited'
  | 'unavailable'
  | 'network'
  | 'malformed';

/**
 * A failed call. `reasons` holds a policy denial's reasons; `retryable` says whether the same
 * call may be sent again (never true for a POST that may have been acted on).
 */
export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number | undefined;
  readonly reasons: string[];
  readonly retryable: boolean;

  constructor(
    kind: ApiErrorKind,
    message: string,
    options: { status?: number; reasons?: string[]; retryable?: boolean } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = options.status;
    this.reasons = options.reasons ?? [];
    this.retryable = options.retryable ?? false;
  }
}

/** Forge's wording when the remote answered 401 (a FIT it could not verify). */
const FIT_REJECTED = /could not verify the forge invocation token/i;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(what: string): ApiError {
  return new ApiError('malformed', `arkbridge sent an unexpected answer: ${what}`);
}

function str(obj: JsonObject, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== 'string') {
    throw malformed(`${where}.${key} is not a string`);
  }
  return value;
}

function optStr(obj: JsonObject, key: string, where: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw malformed(`${where}.${key} is not a string`);
  }
  return value;
}

function count(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(`${where} is not a non-negative integer`);
  }
  return value;
}

function optCount(obj: JsonObject, key: string, where: string): number | undefined {
  const value = obj[key];
  return value === undefined || value === null ? undefined : count(value, `${where}.${key}`);
}

/** An exit code may be negative (a signal on some platforms) or null (killed, timed out). */
function exitCode(obj: JsonObject, where: string): number | null | undefined {
  const value = obj['exit_code'];
  if (value === undefined || value === null) {
    return value as null | undefined;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw malformed(`${where}.exit_code is not an integer`);
  }
  return value;
}

/** A denial's reasons are strings; anything else is shown through its text fields. */
function reasonsOf(body: JsonObject): string[] {
  const raw = body['reasons'];
  if (!Array.isArray(raw)) {
    return [];
  }
  return raw.map((reason) => {
    if (typeof reason === 'string') {
      return reason;
    }
    if (isObject(reason)) {
      const text = reason['reason'] ?? reason['message'] ?? reason['detail'];
      if (typeof text === 'string') {
        return text;
      }
    }
    return JSON.stringify(reason);
  });
}

/** Turns a non-2xx answer into an error; `idempotent` says whether a retry could repeat an act. */
function errorFor(status: number, body: unknown, idempotent: boolean): ApiError {
  const obj = isObject(body) ? body : {};
  const text = typeof obj['error'] === 'string' ? (obj['error'] as string) : `HTTP ${status}`;
  if (status === 401) {
    return new ApiError('unauthenticated', `arkbridge did not accept the invocation: ${text}`, {
      status,
    });
  }
  if (status === 403) {
    return new ApiError('denied', text, { status, reasons: reasonsOf(obj) });
  }
  if (status === 404) {
    return new ApiError('not-found', text, { status });
  }
  if (status === 429) {
    return new ApiError('rate-limited', text, { status, retryable: true });
  }
  if (status >= 500) {
    // A 503 says the server did not act on the request, so even a POST may be sent again.
    return new ApiError('unavailable', text, {
      status,
      retryable: idempotent || status === 503,
    });
  }
  return new ApiError('bad-request', text, { status });
}

export class ArkbridgeApi {
  private readonly invoke: InvokeRemote;

  constructor(invoke: InvokeRemote) {
    this.invoke = invoke;
  }

  /** Sends one request and returns the 2xx body, or throws an `ApiError`. */
  private async call(request: RemoteRequest, idempotent: boolean): Promise<JsonObject> {
    let response: RemoteResponse;
    try {
      response = await this.invoke(request);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (FIT_REJECTED.test(message)) {
        throw new ApiError('unauthenticated', `arkbridge did not accept the invocation: ${message}`);
      }
      // The request may or may not have reached arkbridge: only a read is safe to repeat.
      throw new ApiError('network', `cannot reach arkbridge: ${message}`, {
        retryable: idempotent,
      });
    }
    const status = response?.status;
    if (typeof status !== 'number' || !Number.isInteger(status)) {
      throw new ApiError('network', 'cannot reach arkbridge: the answer had no HTTP status', {
        retryable: idempotent,
      });
    }
    if (status < 200 || status > 299) {
      throw errorFor(status, response.body, idempotent);
    }
    if (!isObject(response.body)) {
      throw malformed('the body is not a JSON object');
    }
    return response.body;
  }

  async listRunbooks(pageId: string): Promise<Runbook[]> {
    const body = await this.call(
      { method: 'GET', path: `/api/v1/pages/${encodeURIComponent(pageId)}/runbooks` },
      true,
    );
    const list = body['runbooks'];
    if (!Array.isArray(list)) {
      throw malformed('runbooks is not a list');
    }
    return list.map((item, i) => {
      const where = `runbooks[${i}]`;
      if (!isObject(item)) {
        throw malformed(`${where} is not an object`);
      }
      const bindings = item['bindings'] ?? [];
      if (!Array.isArray(bindings)) {
        throw malformed(`${where}.bindings is not a list`);
      }
      return {
        name: str(item, 'name', where),
        mode: str(item, 'mode', where),
        language: str(item, 'language', where),
        bindings: bindings.map((b, j) => {
          const at = `${where}.bindings[${j}]`;
          if (!isObject(b)) {
            throw malformed(`${at} is not an object`);
          }
          return { name: str(b, 'name', at), reference: str(b, 'reference', at), kind: str(b, 'kind', at) };
        }),
      };
    });
  }

  /** Starts a run; a policy denial throws `ApiError` of kind `denied` with its reasons. */
  async startRun(pageId: string, block: string): Promise<string> {
    const body = await this.call(
      {
        method: 'POST',
        path: '/api/v1/runs',
        headers: { 'content-type': 'application/json' },
        body: { page_id: pageId, block },
      },
      false,
    );
    const runId = str(body, 'run_id', 'run');
    if (runId.length === 0) {
      throw malformed('run.run_id is empty');
    }
    return runId;
  }

  async output(runId: string, after: number): Promise<OutputPage> {
    const body = await this.call(
      {
        method: 'GET',
        path: `/api/v1/runs/${encodeURIComponent(runId)}/output?after=${after}`,
      },
      true,
    );
    const chunks = body['chunks'];
    if (!Array.isArray(chunks)) {
      throw malformed('output.chunks is not a list');
    }
    if (typeof body['done'] !== 'boolean') {
      throw malformed('output.done is not a boolean');
    }
    const page: OutputPage = {
      chunks: chunks.map((c, i) => {
        const where = `output.chunks[${i}]`;
        if (!isObject(c)) {
          throw malformed(`${where} is not an object`);
        }
        return { seq: count(c['seq'], `${where}.seq`), stream: str(c, 'stream', where), text: str(c, 'text', where) };
      }),
      next: count(body['next'], 'output.next'),
      done: body['done'],
    };
    const status = optStr(body, 'status', 'output');
    const mode = optStr(body, 'mode', 'output');
    const code = exitCode(body, 'output');
    if (status !== undefined) page.status = status;
    if (mode !== undefined) page.mode = mode;
    if (code !== undefined) page.exitCode = code;
    return page;
  }

  async run(runId: string): Promise<RunRecord> {
    const body = await this.call(
      { method: 'GET', path: `/api/v1/runs/${encodeURIComponent(runId)}` },
      true,
    );
    const record: RunRecord = {};
    const status = optStr(body, 'status', 'run');
    const mode = optStr(body, 'mode', 'run');
    const code = exitCode(body, 'run');
    const duration = optCount(body, 'duration_ms', 'run');
    const audit = optCount(body, 'audit_seq', 'run');
    const comment = body['comment_id'];
    const rotated = body['rotated'];
    if (status !== undefined) record.status = status;
    if (mode !== undefined) record.mode = mode;
    if (code !== undefined) record.exitCode = code;
    if (duration !== undefined) record.durationMs = duration;
    if (audit !== undefined) record.auditSeq = audit;
    if (typeof comment === 'string' || typeof comment === 'number') record.commentId = String(comment);
    if (Array.isArray(rotated)) {
      record.rotated = rotated.filter((r): r is string => typeof r === 'string');
    }
    return record;
  }
}
