/**
 * The offline manifest check: the committed manifest passes, and each kind of broken manifest
 * fails with a message that names the problem, from Atlassian's validator or arkbridge's rules.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { parse, stringify } from 'yaml';

import { baseUrlProblem, checkManifest, egressCovers, pageProblems, type Problem } from '../tools/check-manifest.js';

// Compiled to out/test/, so the app's root is two levels up.
const APP = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENV = { ARKBRIDGE_URL: 'https://arkbridge.example.com' };
const dirs: string[] = [];

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Manifest = Record<string, any>;

/** A copy of the app's manifest, changed by `edit`, next to a built resource page. */
function fixture(edit: (m: Manifest) => void = () => {}, page?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'arkbridge-forge-'));
  dirs.push(dir);
  const manifest = parse(readFileSync(join(APP, 'manifest.yml'), 'utf8')) as Manifest;
  edit(manifest);
  writeFileSync(join(dir, 'manifest.yml'), stringify(manifest));
  const build = join(dir, 'static/runbooks/build');
  mkdirSync(build, { recursive: true });
  if (page === undefined) {
    cpSync(join(APP, 'static/runbooks/public/index.html'), join(build, 'index.html'));
  } else if (page !== '') {
    writeFileSync(join(build, 'index.html'), page);
  }
  return join(dir, 'manifest.yml');
}

function errors(problems: Problem[]): string[] {
  return problems.filter((p) => p.level === 'error').map((p) => `[${p.source}] ${p.message}`);
}

async function expectError(file: string, pattern: RegExp, env: Record<string, string | undefined> = ENV): Promise<void> {
  const found = errors(await checkManifest(file, env));
  assert.ok(found.some((e) => pattern.test(e)), `no error matching ${pattern} in:\n${found.join('\n')}`);
}

describe('the committed manifest', () => {
  it('passes Atlassian validator and the project rules', async () => {
    assert.deepEqual(errors(await checkManifest(fixture(), ENV)), []);
  });

  it('needs ARKBRIDGE_URL, which has no default', async () => {
    await expectError(fixture(), /environment variable ARKBRIDGE_URL is not set/, { ARKBRIDGE_URL: undefined });
  });
});

describe('a broken manifest fails', () => {
  it('when a required key is missing (Atlassian schema)', async () => {
    await expectError(fixture((m) => delete m.modules.macro[0].title), /\[forge\] macro required properties/);
    await expectError(fixture((m) => delete m.app.runtime), /\[forge\].*runtime/);
  });

  it('when the macro names a resource or endpoint that does not exist', async () => {
    await expectError(fixture((m) => (m.modules.macro[0].resource = 'nope')), /macro arkbridge-runbooks uses resource nope/);
    await expectError(fixture((m) => (m.modules.macro[0].resolver.endpoint = 'nope')), /uses endpoint nope, which modules.endpoint does not declare/);
  });

  it('when the macro is not Custom UI resolved by the remote', async () => {
    await expectError(fixture((m) => (m.modules.macro[0].render = 'native')), /sets render/);
    await expectError(fixture((m) => (m.modules.macro[0].resolver = { function: 'resolver' })), /no resolver.endpoint/);
  });

  it('when an endpoint refers to an unknown remote', async () => {
    await expectError(fixture((m) => (m.modules.endpoint[0].remote = 'elsewhere')), /endpoint arkbridge-api refers to remote elsewhere/);
  });

  it('when a scope is not on the allow-list', async () => {
    await expectError(
      fixture((m) => m.permissions.scopes.push('write:page:confluence')),
      /scope write:page:confluence is not on arkbridge's allow-list/,
    );
  });

  it('when a token scope and the endpoint tokens disagree', async () => {
    await expectError(fixture((m) => (m.modules.endpoint[0].auth.appUserToken.enabled = false)), /scope read:app-user-token is requested but no endpoint enables its token/);
    await expectError(
      fixture((m) => (m.modules.endpoint[0].auth.appSystemToken = { enabled: true })),
      /enables appSystemToken but permissions.scopes lacks read:app-system-token/,
    );
  });

  it('when the remote is not an https origin Forge can reach', async () => {
    await expectError(fixture(), /must use https/, { ARKBRIDGE_URL: 'http://arkbridge.example.com' });
    await expectError(fixture(), /without a path/, { ARKBRIDGE_URL: 'https://example.com/arkbridge' });
    await expectError(fixture(), /loopback or private/, { ARKBRIDGE_URL: 'https://127.0.0.1:8443' });
  });

  it('when egress does not match the remote host', async () => {
    await expectError(
      fixture((m) => (m.permissions.external.fetch.backend = ['https://evil.example.net'])),
      /allows https:\/\/evil.example.net, which is not the host of any remote/,
    );
    await expectError(
      fixture((m) => (m.permissions.external.fetch.backend = [])),
      /remote arkbridge is called but external.fetch.backend does not cover its host/,
    );
    await expectError(fixture((m) => (m.permissions.external.fetch.backend = ['*'])), /allows every host/);
    await expectError(fixture((m) => (m.permissions.external.fetch.client = [{ remote: 'arkbridge' }])), /fetch.client/);
  });

  it('when the remote lacks compute or an honest storage declaration', async () => {
    await expectError(fixture((m) => (m.remotes[0].operations = ['fetch'])), /operations lack compute/);
    await expectError(fixture((m) => delete m.remotes[0].storage), /storage.inScopeEUD/);
  });

  it('when a variable is used but not declared', async () => {
    await expectError(fixture((m) => (m.remotes[0].baseUrl = '${OTHER_URL}')), /\$\{OTHER_URL\} is used but not declared/);
  });

  it('when the CSP is loosened or the page would break under it', async () => {
    await expectError(fixture((m) => (m.permissions.content = { scripts: ['unsafe-eval'] })), /allows unsafe-eval/);
    await expectError(fixture(undefined, '<html><script>alert(1)</script></html>'), /inline <script>/);
    await expectError(fixture(undefined, ''), /index.html does not exist \(run npm run build first\)/);
  });

  it('when app.id is not an app ARI', async () => {
    await expectError(fixture((m) => (m.app.id = 'my-app')), /is not an app ARI/);
  });
});

describe('the command', () => {
  it('exits 1 on a broken manifest and 0 on the committed one', () => {
    const cli = join(APP, 'out/tools/check-manifest.js');
    const broken = spawnSync(process.execPath, [cli, fixture((m) => (m.modules.endpoint[0].remote = 'x'))], {
      env: { ...process.env, ...ENV },
      encoding: 'utf8',
    });
    assert.equal(broken.status, 1, broken.stdout + broken.stderr);
    assert.match(broken.stdout, /error \[arkbridge\] endpoint arkbridge-api refers to remote x/);
    const good = spawnSync(process.execPath, [cli, fixture(), '--placeholder', 'ARKBRIDGE_URL=https://arkbridge.example.com'], {
      env: { ...process.env, ARKBRIDGE_URL: '' },
      encoding: 'utf8',
    });
    // An empty variable is set, so the placeholder does not apply and the empty URL is refused.
    assert.equal(good.status, 1, good.stdout);
    const placeholder = { ...process.env };
    delete placeholder['ARKBRIDGE_URL'];
    const withPlaceholder = spawnSync(process.execPath, [cli, fixture(), '--placeholder', 'ARKBRIDGE_URL=https://arkbridge.example.com'], {
      env: placeholder,
      encoding: 'utf8',
    });
    assert.equal(withPlaceholder.status, 0, withPlaceholder.stdout + withPlaceholder.stderr);
    assert.match(withPlaceholder.stdout, /valid/);
  });
});

describe('helpers', () => {
  it('egressCovers matches hosts, schemes and subdomain wildcards but never the parent', () => {
    assert.equal(egressCovers('arkbridge.example.com', 'arkbridge.example.com'), true);
    assert.equal(egressCovers('https://arkbridge.example.com/api', 'arkbridge.example.com'), true);
    assert.equal(egressCovers('*.example.com', 'arkbridge.example.com'), true);
    assert.equal(egressCovers('*.example.com', 'example.com'), false);
    assert.equal(egressCovers('example.com', 'arkbridge.example.com'), false);
  });

  it('baseUrlProblem accepts an https origin only', () => {
    assert.equal(baseUrlProblem('https://arkbridge.example.com'), undefined);
    assert.equal(baseUrlProblem('https://arkbridge.example.com:8443/'), undefined);
    assert.match(baseUrlProblem('https://u:p@arkbridge.example.com') ?? '', /credentials/);
    assert.match(baseUrlProblem('not a url') ?? '', /not a URL/);
  });

  it('pageProblems finds what the Custom UI CSP blocks', () => {
    assert.deepEqual(pageProblems(readFileSync(join(APP, 'static/runbooks/public/index.html'), 'utf8')), []);
    assert.equal(pageProblems('<button onclick="x()">').length, 1);
    assert.equal(pageProblems('<p style="color:red">').length, 1);
    assert.equal(pageProblems('<script src="https://cdn.example.com/x.js"></script>').length, 1);
  });
});
