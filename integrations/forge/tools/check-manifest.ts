/**
 * `npm run lint:manifest`: checks manifest.yml offline, in two passes.
 *
 * 1. Atlassian's own validator, `@forge/manifest` (the package the Forge CLI lints with): the
 *    published JSON schema, module references, resources on disk, scopes that exist.
 * 2. arkbridge's rules (`projectRules`), which the schema cannot know: least scopes from an
 *    allow-list, tokens and their scopes in step, a Custom UI macro whose resolver is a remote
 *    endpoint, an https origin for the remote, egress that covers exactly that host, and a
 *    resource page that Forge's Content Security Policy will run.
 *
 * Usage: check-manifest MANIFEST [--placeholder VAR=VALUE]... — a placeholder stands in for a
 * manifest variable that the environment does not set, so CI can lint without a deployment.
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

import forgeManifest from '@forge/manifest';
import { parse } from 'yaml';

import {
  baseUrlProblem,
  egressCovers,
  interpolate,
  isObj,
  keyOf,
  list,
  type Obj,
  pageProblems,
  type Problem,
} from './manifest-helpers.js';

export { baseUrlProblem, egressCovers, interpolate, pageProblems, type Problem };

/** The only scopes the macro may ask for: reading the page (and its space) as the user. */
export const ALLOWED_SCOPES: ReadonlySet<string> = new Set([
  'read:app-user-token',
  'read:app-system-token',
  'read:page:confluence',
  'read:space:confluence',
]);

const TOKEN_SCOPES = { appUserToken: 'read:app-user-token', appSystemToken: 'read:app-system-token' } as const;
const ARI = /^ari:cloud:ecosystem::app\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REMOTE_KEY = /^[a-zA-Z0-9_-]{1,23}$/;
const UNSAFE_CSP = ['unsafe-inline', 'unsafe-eval', 'unsafe-hashes'];

/** arkbridge's own rules, on the interpolated manifest. */
export function projectRules(manifest: Obj, baseDir: string): Problem[] {
  const problems: Problem[] = [];
  const error = (message: string): void => void problems.push({ level: 'error', source: 'arkbridge', message });
  const warn = (message: string): void => void problems.push({ level: 'warning', source: 'arkbridge', message });

  const app = isObj(manifest['app']) ? manifest['app'] : undefined;
  if (!app || typeof app['id'] !== 'string') {
    error('app.id is missing');
  } else if (!ARI.test(app['id'])) {
    error(`app.id ${app['id']} is not an app ARI (ari:cloud:ecosystem::app/<uuid>); FIT audiences are checked against it`);
  }
  if (!app || !isObj(app['runtime']) || typeof app['runtime']['name'] !== 'string') {
    error('app.runtime.name is missing');
  }

  const modules = isObj(manifest['modules']) ? manifest['modules'] : {};
  const resources = new Map<string, Obj>();
  for (const r of list(manifest['resources'])) {
    const key = keyOf(r);
    if (key && isObj(r)) resources.set(key, r);
  }
  const endpoints = new Map<string, Obj>();
  for (const e of list(modules['endpoint'])) {
    const key = keyOf(e);
    if (key && isObj(e)) endpoints.set(key, e);
  }
  const remotes = new Map<string, Obj>();
  for (const r of list(manifest['remotes'])) {
    const key = keyOf(r);
    if (!key || !isObj(r)) {
      error('a remote has no key');
      continue;
    }
    if (remotes.has(key)) error(`remote ${key} is declared twice`);
    if (!REMOTE_KEY.test(key)) error(`remote key ${key} must match ^[a-zA-Z0-9_-]+$ and be at most 23 characters`);
    remotes.set(key, r);
  }

  // The macro: Custom UI, resolved by a remote endpoint.
  const macros = list(modules['macro']);
  if (macros.length === 0) {
    error('modules.macro is missing: the app exists to put the runbooks macro on pages');
  }
  const usedEndpoints = new Set<string>();
  const usedResources = new Set<string>();
  for (const m of macros) {
    const key = keyOf(m) ?? '(no key)';
    if (!isObj(m)) continue;
    if (typeof m['title'] !== 'string' || m['title'].length === 0) error(`macro ${key} has no title`);
    if (m['render'] !== undefined) error(`macro ${key} sets render; the arkbridge macro is Custom UI (resource only)`);
    if (m['function'] !== undefined) error(`macro ${key} names a function (UI Kit 1); it must use a resource`);
    const resource = m['resource'];
    if (typeof resource !== 'string') {
      error(`macro ${key} has no resource`);
    } else if (!resources.has(resource)) {
      error(`macro ${key} uses resource ${resource}, which resources does not declare`);
    } else {
      usedResources.add(resource);
    }
    const resolver = isObj(m['resolver']) ? m['resolver'] : undefined;
    if (!resolver || typeof resolver['endpoint'] !== 'string') {
      error(`macro ${key} has no resolver.endpoint, so invokeRemote has no remote to call`);
    } else if (!endpoints.has(resolver['endpoint'])) {
      error(`macro ${key} uses endpoint ${resolver['endpoint']}, which modules.endpoint does not declare`);
    } else {
      usedEndpoints.add(resolver['endpoint']);
    }
    if (resolver && resolver['function'] !== undefined) {
      error(`macro ${key} has resolver.function, but the app has no Forge function: arkbridge is the resolver`);
    }
  }

  // Endpoints: an existing remote, and tokens that match the scopes.
  const scopesValue = isObj(manifest['permissions']) ? manifest['permissions']['scopes'] : undefined;
  const scopes = Array.isArray(scopesValue)
    ? scopesValue.filter((s): s is string => typeof s === 'string')
    : isObj(scopesValue)
      ? Object.keys(scopesValue)
      : undefined;
  if (!scopes) error('permissions.scopes is missing');
  const tokensUsed = new Set<string>();
  const calledRemotes = new Set<string>();
  for (const [key, e] of endpoints) {
    if (!usedEndpoints.has(key)) warn(`endpoint ${key} is not used by any module`);
    const remote = e['remote'];
    if (typeof remote !== 'string' || !remotes.has(remote)) {
      error(`endpoint ${key} refers to remote ${String(remote)}, which remotes does not declare`);
    } else {
      calledRemotes.add(remote);
    }
    const auth = isObj(e['auth']) ? e['auth'] : {};
    for (const [token, scope] of Object.entries(TOKEN_SCOPES)) {
      const t = auth[token];
      if (isObj(t) && t['enabled'] === true) {
        tokensUsed.add(scope);
        if (scopes && !scopes.includes(scope)) error(`endpoint ${key} enables ${token} but permissions.scopes lacks ${scope}`);
      }
    }
  }
  for (const scope of scopes ?? []) {
    if (!ALLOWED_SCOPES.has(scope)) {
      error(`scope ${scope} is not on arkbridge's allow-list (${[...ALLOWED_SCOPES].join(', ')}): the macro only reads the page`);
    }
    if (Object.values(TOKEN_SCOPES).includes(scope as never) && !tokensUsed.has(scope)) {
      error(`scope ${scope} is requested but no endpoint enables its token`);
    }
  }
  if (tokensUsed.size > 0 && scopes && scopes.every((s) => Object.values(TOKEN_SCOPES).includes(s as never))) {
    error('a token is enabled but no product scope is requested, so Forge would send an empty token');
  }

  // Remotes: an https origin, compute for invokeRemote, honest storage declaration.
  for (const [key, r] of remotes) {
    if (typeof r['baseUrl'] !== 'string') {
      error(`remote ${key} has no baseUrl string (region-specific URLs are not used by arkbridge)`);
    } else if (!r['baseUrl'].includes('${')) {
      const why = baseUrlProblem(r['baseUrl']);
      if (why) error(`remote ${key}: ${why}`);
    }
    const ops = list(r['operations']);
    if (calledRemotes.has(key) && !ops.includes('compute')) {
      error(`remote ${key} is called by invokeRemote but its operations lack compute`);
    }
    if (ops.includes('storage') && !(isObj(r['storage']) && typeof r['storage']['inScopeEUD'] === 'boolean')) {
      error(`remote ${key} stores data but does not say storage.inScopeEUD`);
    }
  }

  // Egress: every called remote covered; nothing but the remotes' hosts.
  const permissions = isObj(manifest['permissions']) ? manifest['permissions'] : {};
  const external = isObj(permissions['external']) ? permissions['external'] : {};
  const fetchSection = isObj(external['fetch']) ? external['fetch'] : {};
  const covered = new Set<string>();
  for (const entry of list(fetchSection['backend'])) {
    if (isObj(entry) && typeof entry['remote'] === 'string') {
      if (!remotes.has(entry['remote'])) {
        error(`external.fetch.backend refers to remote ${entry['remote']}, which remotes does not declare`);
      } else {
        covered.add(entry['remote']);
      }
      continue;
    }
    const address = typeof entry === 'string' ? entry : isObj(entry) && typeof entry['address'] === 'string' ? entry['address'] : undefined;
    if (address === undefined) {
      error('an external.fetch.backend entry is neither an address nor a remote');
      continue;
    }
    if (address.trim() === '*') {
      error('external.fetch.backend allows every host; arkbridge needs only its own');
      continue;
    }
    const matches = [...remotes].filter(([, r]) => {
      if (typeof r['baseUrl'] !== 'string') return false;
      try {
        return egressCovers(address, new URL(r['baseUrl']).hostname);
      } catch {
        return false;
      }
    });
    if (matches.length === 0) {
      error(`external.fetch.backend allows ${address}, which is not the host of any remote`);
    }
    for (const [k] of matches) covered.add(k);
  }
  for (const key of calledRemotes) {
    if (!covered.has(key)) error(`remote ${key} is called but external.fetch.backend does not cover its host`);
  }
  if (list(fetchSection['client']).length > 0) {
    error("external.fetch.client lets the macro's browser code reach hosts directly; it must talk to arkbridge through invokeRemote only");
  }
  const content = isObj(permissions['content']) ? permissions['content'] : {};
  for (const kind of ['scripts', 'styles']) {
    for (const source of list(content[kind])) {
      if (typeof source === 'string' && UNSAFE_CSP.includes(source)) {
        error(`permissions.content.${kind} allows ${source}, which would let injected markup run`);
      }
    }
  }

  // Resources: built, and safe under the Custom UI CSP.
  for (const [key, r] of resources) {
    if (!usedResources.has(key)) warn(`resource ${key} is not used by any module`);
    const path = r['path'];
    if (typeof path !== 'string' || isAbsolute(path) || normalize(path).startsWith('..')) {
      error(`resource ${key} needs a relative path inside the app`);
      continue;
    }
    const dir = join(baseDir, path);
    const index = join(dir, 'index.html');
    if (!existsSync(dir) || !statSync(dir).isDirectory() || !existsSync(index)) {
      error(`resource ${key}: ${path}/index.html does not exist (run npm run build first)`);
      continue;
    }
    for (const p of pageProblems(readFileSync(index, 'utf8'))) {
      error(`resource ${key}: ${path}/index.html ${p}`);
    }
  }
  return problems;
}

/** Runs Atlassian's validator with `env` as the process environment it reads variables from. */
async function forgeRules(file: string, env: Record<string, string | undefined>): Promise<Problem[]> {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(env)) {
    saved.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const result = await forgeManifest.validate(false, file);
    return (result.errors ?? []).map((e) => ({
      level: e.level === 'warning' ? 'warning' : 'error',
      source: 'forge',
      message: e.line ? `${e.message} (line ${e.line})` : e.message,
    }));
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Every problem of the manifest at `file`, Atlassian's and arkbridge's. */
export async function checkManifest(file: string, env: Record<string, string | undefined>): Promise<Problem[]> {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return [{ level: 'error', source: 'arkbridge', message: `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}` }];
  }
  if (!isObj(raw)) {
    return [{ level: 'error', source: 'arkbridge', message: `${file} is not a YAML mapping` }];
  }
  const problems: Problem[] = [];
  const manifest = interpolate(raw, env, problems);
  if (problems.some((p) => p.level === 'error')) {
    // Unresolved variables make the Forge validator fail on parsing alone; report ours only.
    return problems;
  }
  problems.push(...(await forgeRules(file, env)));
  problems.push(...projectRules(manifest, dirname(file)));
  return problems;
}

async function main(argv: string[]): Promise<number> {
  const files: string[] = [];
  const env: Record<string, string | undefined> = { ...process.env };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--placeholder') {
      const spec = argv[++i] ?? '';
      const eq = spec.indexOf('=');
      if (eq <= 0) {
        console.error(`--placeholder needs VAR=VALUE, got ${JSON.stringify(spec)}`);
        return 2;
      }
      const name = spec.slice(0, eq);
      if (env[name] === undefined) {
        env[name] = spec.slice(eq + 1);
        console.log(`note: ${name} is not set; checking with the placeholder ${env[name]}`);
      }
    } else {
      files.push(arg);
    }
  }
  if (files.length !== 1) {
    console.error('usage: check-manifest MANIFEST [--placeholder VAR=VALUE]...');
    return 2;
  }
  const file = files[0] as string;
  const problems = await checkManifest(file, env);
  for (const p of problems) {
    console.log(`${file}: ${p.level} [${p.source}] ${p.message}`);
  }
  const errors = problems.filter((p) => p.level === 'error').length;
  console.log(errors === 0 ? `${file}: valid (${problems.length} warning(s))` : `${file}: ${errors} error(s)`);
  return errors === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
