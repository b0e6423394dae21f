// Builds the Custom UI resource `static/runbooks/build`: the bundled script (esbuild, one IIFE
// file, since Forge's CSP allows only scripts from the resource itself) and the static page.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'static/runbooks/build');

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(root, 'src/index.ts')],
  outfile: join(out, 'main.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const file of ['index.html', 'styles.css']) {
  await copyFile(join(root, 'static/runbooks/public', file), join(out, file));
}
console.log(`built ${out}`);
